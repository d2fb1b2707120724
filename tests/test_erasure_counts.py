"""/oublier keeps the counts it promises (issue 16, item 2): a closed call's "Je viens", the
statistics, and a declined proposal in the initiatives funnel, with nothing left of the text."""

from __future__ import annotations

from datetime import timedelta

from storage.calls import NewCall
from storage.initiatives import InitiativeRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members
from tests.test_pairs import person
from tests.test_privacy import scan_database

ALICE = 7_770_001


async def test_forget_keeps_closed_calls_answers_and_declined_proposals_counted(
    server, bot, clock
):
    services = bot.services
    await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    alice = await person(bot, server, ALICE, "Alicia")
    await seed_members(bot, [7_770_002, 7_770_003])
    now = clock.now()
    call = await services.calls.publish(
        NewCall(
            coordinator_id=COORDINATOR_ID,
            text="Courses",
            photo=None,
            place="Blaye",
            event_at=now + timedelta(days=3),
            needed=3,
            deadline_at=now + timedelta(days=2),
            territories=[],
            themes=[],
            ambassadors_only=False,
        )
    )
    await bot.drain()
    for member_id in (ALICE, 7_770_002, 7_770_003):
        await services.calls.answer(call.id, member_id, True)
    assert await services.call_management.close(call.id, COORDINATOR_ID) is not None
    repo = InitiativeRepository(services.db)
    declined = await repo.create(
        author_id=ALICE,
        title="Le projet secret d'Alicia",
        description="Alicia voudrait un jardin",
        theme="Culture",
        territory="Blaye",
        needs=["people"],
        now=now,
    )
    await repo.decide(declined, "declined", COORDINATOR_ID, "Pas cette fois, Alicia", now)
    await bot.drain()
    stored = await services.calls.repo.get(call.id)
    assert stored is not None
    before = await services.calls.counts(stored)
    stats_before = await services.stats.community()
    assert before.yes == 3 and stats_before.calls["yes"] == 3
    assert stats_before.initiatives.get("declined") == 1

    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")

    stored = await services.calls.repo.get(call.id)
    assert stored is not None
    assert (await services.calls.counts(stored)).yes == 3  # /appels still shows 3/3
    stats_after = await services.stats.community()
    assert stats_after.calls["yes"] == 3
    assert stats_after.calls["answered"] == stats_before.calls["answered"]
    assert stats_after.initiatives == stats_before.initiatives
    assert await scan_database(bot, ALICE, ["Alicia", "alicia_secret", "secret"]) == []
