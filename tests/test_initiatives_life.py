"""Published initiatives: browsing, supporting, digests, stages and the gardener offer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from bot.inputs import utf16_len
from sandbox.fakeapi.users import seen
from storage.initiatives import InitiativeRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members
from tests.test_initiatives import FAST, propose


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    harness = await make_bot(sending=FAST)
    # The real scheduler's first pass comes one second after start; these tests move time
    # themselves and run the sweepers with bot.tick(), so that pass must not race them.
    for job in harness.app.job_queue.get_jobs_by_name("essaim-sweep"):
        job.schedule_removal()
    return harness


async def seed_initiatives(
    bot: Any, author_id: int, specs: Sequence[tuple[str, str, str]], publish: bool = True
) -> list[int]:
    """Insert (title, territory, theme) proposals directly, published by the coordinator."""
    repo = InitiativeRepository(bot.services.db)
    now = bot.clock.now()
    ids = []
    async with bot.services.db.transaction():
        for title, territory, theme in specs:
            new_id = await repo.create(
                author_id=author_id,
                title=title,
                description=f"À propos de {title}",
                theme=theme,
                territory=territory,
                needs=["people"],
                now=now,
            )
            if publish:
                await repo.decide(new_id, "published", COORDINATOR_ID, None, now)
            ids.append(new_id)
    return ids


async def press_on(user: Any, title: str, button: str) -> Any:
    """Open an initiative from /initiatives and press one of its buttons."""
    await user.send("/initiatives")
    await user.receive(contains=title)
    await user.press("🔎 " + title)
    await user.press(button)
    return user.last


async def test_browse_with_filters_and_pages(server, bot):
    await seed_members(bot, [2000])
    await seed_initiatives(
        bot, 2000, [(f"Solidaire {n}", "Blaye", "Solidarité") for n in range(7)]
    )
    await seed_initiatives(bot, 2000, [(f"Culture {n}", "Cenon", "Culture") for n in range(2)])
    await seed_initiatives(bot, 2000, [("Pas encore relue", "Blaye", "Culture")], publish=False)
    bob = await onboard(server, 1002, "Bob")

    await bob.send("/initiatives")
    first = await bob.receive(contains="Initiatives")
    assert "page 1/2" in first.text and "Tous" in first.text
    assert first.text.count("💛 0") == 5
    assert "Culture 1" in first.text and "Pas encore relue" not in first.text
    assert "émergence · 📍 Cenon · 🧰 des personnes" in first.text
    await bob.press("Suivant ▶")
    second = bob.last
    assert "page 2/2" in second.text and second.text.count("💛") == 4
    assert "Solidaire 0" in second.text

    await bob.press("📍 Territoire")
    await bob.press("Cenon")
    cenon = bob.last
    assert "page 1/1" in cenon.text and "📍 Cenon" in cenon.text
    assert cenon.text.count("💛") == 2 and "Solidaire" not in cenon.text
    await bob.press("🏷 Thème")
    await bob.press("Solidarité")
    assert "Aucune initiative publiée ici" in bob.last.text
    await bob.press("📍 Territoire")
    await bob.press("Tous")
    solidarity = bob.last
    assert "🏷 Solidarité" in solidarity.text and "page 1/2" in solidarity.text
    assert "Culture" not in solidarity.text.split("—", 1)[1].replace("🏷 Solidarité", "")
    await bob.press("Suivant ▶")
    assert bob.last.text.count("💛") == 2

    answer = await bob.press_data("ini:1:br:7:-:0")  # a territory index that does not exist
    assert answer.show_alert and "plus valable" in answer.text


async def test_support_toggles_and_one_digest_for_many(server, bot):
    alice = await onboard(server, 1001, "Alice")
    [initiative_id] = await seed_initiatives(bot, 1001, [("Jardin partagé", "Blaye", "Culture")])
    bob = await onboard(server, 1002, "Bob")

    await bob.send("/initiatives")
    await bob.receive(contains="Jardin partagé")
    await bob.press("🔎 Jardin partagé")
    assert "0 soutien" in bob.last.text
    await bob.press("Je soutiens")
    assert ["✅ Je soutiens"] in bob.last.buttons and "1 soutien" in bob.last.text
    await bob.press("✅ Je soutiens")  # taken back
    assert ["Je soutiens"] in bob.last.buttons and "0 soutien" in bob.last.text
    await bob.press("Je soutiens")
    await bob.press("Je veux participer")
    await bob.press_data(f"ini:1:sup:{initiative_id}")  # a stale double tap: toggles, no dupes
    await bob.press("Je soutiens")
    rows = await bot.state.initiatives.supports()
    assert [(m, kind) for _, m, kind in rows] == [(1002, "participate"), (1002, "support")]

    await seed_members(bot, [3001, 3002, 3003])
    for member_id in (3001, 3002, 3003):
        await press_on(server.user(member_id, f"Fan {member_id}"), "Jardin partagé", "Je soutiens")
    await alice.send("/initiatives")
    screen = await alice.receive(contains="Jardin partagé")
    own = await alice.press_data(f"ini:1:sup:{initiative_id}", message_id=screen.message_id)
    assert own.show_alert and "votre initiative" in own.text

    await bot.tick()
    digests = [m for m in alice.messages if "Du nouveau" in m.text]
    assert len(digests) == 1
    assert "4 nouveaux soutiens et 1 nouvelle personne prête à participer." in digests[0].text

    await seed_members(bot, [3004, 3005])
    for member_id in (3004, 3005):
        await press_on(server.user(member_id, "Fan"), "Jardin partagé", "Je veux participer")
    bot.clock.advance(timedelta(hours=5))
    await bot.tick()
    assert len([m for m in alice.messages if "Du nouveau" in m.text]) == 1
    bot.clock.advance(timedelta(hours=1))
    await bot.tick()
    digests = [m for m in alice.messages if "Du nouveau" in m.text]
    assert len(digests) == 2
    # a count of zero is left out (issue 16, item 8)
    assert "« Jardin partagé » : 2 nouvelles personnes prêtes à participer." in seen(
        digests[1].text
    )
    assert "soutien" not in digests[1].text
    await bot.tick()
    assert len(await bot.state.deliveries_of("initiative.digest")) == 2


async def test_new_proposals_are_batched_for_coordinators(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    bob = await onboard(server, 1002, "Bob")
    await propose(alice, title="Première")
    await coco.receive(contains="Première")  # the first one goes at once
    await propose(bob, title="Deuxième")
    await propose(alice, title="Troisième")
    await bot.tick()
    notices = "initiative.moderation"
    assert len(await bot.state.deliveries_of(notices)) == 1
    bot.clock.advance(timedelta(minutes=5))
    await bot.tick()
    digest = await coco.receive(contains="2 nouvelles propositions")
    assert "Deuxième" in digest.text and "Troisième" in digest.text
    await bot.tick()
    assert len(await bot.state.deliveries_of(notices)) == 2
    await coco.press("Voir la file", message=digest)
    queue = coco.last
    assert "Proposition 1 sur 3" in queue.text and "Première" in queue.text  # oldest first
    await coco.press("Suivant ▶")
    assert "Proposition 2 sur 3" in coco.last.text and "Deuxième" in coco.last.text
    await coco.press("✅ Publier")
    assert "Deuxième" in coco.last.text and "est publiée" in coco.last.text
    await coco.press("Voir la file")
    assert "Proposition 1 sur 2" in coco.last.text and "Première" in coco.last.text


async def test_stages_are_told_and_consolidation_offers_a_gardener(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice", language="en")
    bob = await onboard(server, 1002, "Bob")
    carol = await onboard(server, 1003, "Carol")
    [initiative_id] = await seed_initiatives(bot, 1001, [("Repair café", "Blaye", "Culture")])
    await press_on(bob, "Repair café", "Je veux participer")
    await press_on(carol, "Repair café", "Je soutiens")

    # The author proposes consolidation with one tap; a coordinator confirms.
    await alice.send("/mesinitiatives")
    await alice.receive(contains="Repair café")
    await alice.press("🔎 Repair café")
    assert ["Je soutiens"] not in alice.last.buttons  # no self-support
    noted = await alice.press("Propose the stage: consolidation")
    assert "the team will confirm" in noted.text
    assert "waiting for confirmation: consolidation" in alice.last.text
    proposal = await coco.receive(contains="propose de passer à l'étape")
    forged = await bob.press_data(f"ini:1:stg:{initiative_id}:consolidation")
    assert forged.show_alert and "réservée à l'équipe de coordination" in forged.text
    assert (await bot.state.only_initiative()).stage == "emergence"
    await coco.press("✅ Confirmer l'étape", message=proposal)
    assert "Étape : consolidation" in seen(coco.last.text)

    told = await alice.receive(contains="moves to the stage")
    assert "consolidation" in told.text and "technician gardener" in told.text
    assert "consolidation" in (await bob.receive(contains="vous participez")).text
    await bot.drain()
    assert not [m for m in carol.messages if "étape" in m.text]  # supporters are not told
    assert (await bot.state.only_initiative()).proposed_stage is None

    await alice.press("Yes, I'd like a gardener", message=told)
    assert "citizen gardener" in alice.last.text
    assert (await bot.state.member(1001)).is_citizen_gardener is True
    requests = await bot.state.initiatives.gardener_requests()
    assert requests == [(1001, initiative_id)]
    again = await alice.press_data(f"ini:1:gy:{initiative_id}", message_id=told.message_id)
    assert again.text is None or "plus valable" not in again.text
    assert len(await bot.state.initiatives.gardener_requests()) == 1
    await bob.press_data(f"ini:1:gy:{initiative_id}")  # not the author
    assert len(await bot.state.initiatives.gardener_requests()) == 1

    # A coordinator moves it on directly from the initiative's screen.
    await coco.send("/initiatives")
    await coco.receive(contains="page 1/1")
    await coco.press("🔎 Repair café")
    await coco.press("➡️ Passer à : concrétisation")
    assert "Étape : concrétisation" in seen(coco.last.text)
    await alice.receive(contains="making it happen")
    await bob.receive(contains="concrétisation")

    # The author proposes to give up; the coordinator says not now; nothing changes.
    await alice.send("/mesinitiatives")
    await alice.receive(contains="Repair café")
    await alice.press("🔎 Repair café")
    await alice.press("Propose the stage: abandoned")
    refusal = await coco.receive(contains="abandonnée")
    await coco.press("Pas maintenant", message=refusal)
    await alice.receive(contains="prefers not to move")
    row = await bot.state.only_initiative()
    assert (row.stage, row.proposed_stage) == ("concretisation", None)

    await coco.press("➡️ Passer à : réalisée")  # on the coordinator's last screen
    await alice.receive(contains="moves to the stage done")
    await bob.receive(contains="réalisée")
    final = coco.last
    assert not [row for row in final.buttons if "Passer à" in row[0]]
    actions = await bot.state.audit_actions("initiative.stage")
    assert actions == [
        "initiative.stage",
        "initiative.stage",
        "initiative.stage_refused",
        "initiative.stage",
    ]
    stale = await coco.press_data(f"ini:1:stg:{initiative_id}:consolidation")
    assert stale.show_alert and "plus valable" in stale.text


async def test_abandoned_initiative_is_told_and_leaves_the_list(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    bob = await onboard(server, 1002, "Bob")
    [initiative_id] = await seed_initiatives(bot, 1001, [("Fresque", "Cenon", "Culture")])
    await press_on(bob, "Fresque", "Je veux participer")
    await coco.send("/initiatives")
    await coco.receive(contains="page 1/1")
    await coco.press("🔎 Fresque")
    await coco.press("➡️ Passer à : abandonnée")
    assert "Étape : abandonnée" in seen(coco.last.text)
    told = await alice.receive(contains="passe à l'étape")
    assert "abandonnée" in told.text and "binôme" not in told.text  # no offer here
    await bob.receive(contains="vous participez")
    await bob.send("/initiatives")
    assert "Aucune initiative publiée" in (await bob.receive(contains="Initiatives")).text
    answer = await bob.press_data(f"ini:1:par:{initiative_id}")
    assert answer.show_alert and "terminée" in answer.text
    assert len(await bot.state.initiatives.supports()) == 1
    assert (await bot.state.only_initiative()).stage == "abandonnee"


async def test_a_digest_of_many_long_titled_proposals_fits_in_one_message(server, bot):
    """Issue 15, item 7: 59 proposals of 80 characters in one window broke the digest."""
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await propose(alice, title="Première")
    await coco.receive(contains="Première")  # the first one goes at once
    titles = [f"{i:02d} " + "é" * 74 + "🌱" for i in range(59)]  # 78 characters, 79 units
    await seed_initiatives(bot, 1001, [(t, "Blaye", "Culture") for t in titles], publish=False)
    bot.clock.advance(timedelta(minutes=5))
    await bot.tick()
    digest = await coco.receive(contains="59 nouvelles propositions")
    assert utf16_len(digest.text) <= 4096
    assert titles[0] in digest.text and titles[-1] not in digest.text
    shown = sum(t in digest.text for t in titles)
    assert f"… et {59 - shown} autres" in seen(digest.text)
    assert "Voir la file" in digest.button_data
    assert await bot.state.deliveries_of("initiative.moderation")  # sent, not failed
    assert all(d.status == "sent" for d in await bot.state.deliveries_of("initiative.moderation"))
