"""A circle's life over time: delivery paced on its share of the budget and surviving a
restart, flood control, what /mesdonnees gives back, the history's end, the technician
gardener joining, and the handover when the author leaves or erases their data."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sandbox.fakeapi.users import seen
from storage.circle_messages import CircleMessageRepository
from storage.circles import CircleRepository
from storage.initiatives import InitiativeRepository
from tests.conftest import COORDINATOR_ID
from tests.test_initiatives import FAST
from tests.test_pairs import person

TITLE = "Repair café"
AUTHOR, OTHERS = 3001, [3002, 3003, 3004, 3005, 3006]


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    # 3 circle messages a second, a burst of 6: the second message to 5 people has to wait.
    harness = await make_bot(
        sending=FAST,
        circles={"size_limit": 6, "budget_share": 0.1, "member_messages_per_minute": 2},
    )
    for job in harness.app.job_queue.get_jobs_by_name("essaim-sweep"):
        job.schedule_removal()
    return harness


async def seeded_circle(bot: Any, server: Any) -> tuple[int, int, dict[int, Any]]:
    """A published initiative of AUTHOR's with its circle, and five members in it."""
    users = {AUTHOR: await person(bot, server, AUTHOR, "Alice", gardener=True)}
    for uid in OTHERS:  # the last one reads English
        language = "en" if uid == OTHERS[-1] else "fr"
        users[uid] = await person(bot, server, uid, f"Membre{uid}", language=language)
    db, now = bot.services.db, bot.clock.now()
    initiatives, circles = InitiativeRepository(db), CircleRepository(db)
    async with db.transaction():
        initiative_id = await initiatives.create(
            author_id=AUTHOR,
            title=TITLE,
            description="Réparer ensemble",
            theme="Solidarité",
            territory="Blaye",
            needs=["people"],
            now=now,
        )
        await initiatives.decide(initiative_id, "published", COORDINATOR_ID, None, now)
        circle_id = await bot.services.circles.open_for(initiative_id, AUTHOR)
        for k, uid in enumerate(OTHERS, start=1):
            await circles.add_member(circle_id, uid, "member", now + timedelta(seconds=k))
    return initiative_id, circle_id, users


async def write(user: Any, text: str) -> Any:
    await user.send("/cercles")
    await user.receive(contains="Vos cercles")
    await user.press("💬 " + TITLE)
    await user.press("✍️ Écrire au cercle")
    await user.receive(contains="Écrivez votre message")
    await user.send(text)
    return await user.receive()


def copies(user: Any, text: str) -> int:
    return sum(text in m.content for m in user.messages)


async def test_paced_delivery_survives_a_restart_and_history_ends(server, bot):
    _, circle_id, users = await seeded_circle(bot, server)
    await write(users[3002], "Premier message")
    await bot.drain()
    for i in [AUTHOR, *OTHERS[1:]]:
        assert copies(users[i], "Premier message") == 1, i
    english = next(m for m in users[3006].messages if "Premier message" in m.text)
    assert "Membre3002</b>, circle of <b>Repair café" in english.html
    assert english.all_buttons == ["↩️ Reply", "🚩 Alert the coordination"]

    # The burst is used up: part of the next message waits for its slot in the outbox...
    await write(users[3003], "Deuxième message")
    await bot.drain()
    queued = [d for d in await bot.state.deliveries_of("circle.message") if d.status == "queued"]
    assert len(queued) == 3
    assert all(d.priority > 5 for d in queued)  # below every call
    # ... and a restart loses none of it, nor sends anything twice.
    await bot.restart()
    bot.clock.advance(timedelta(seconds=5))
    await bot.drain()
    for uid in [AUTHOR, 3002, 3004, 3005, 3006]:
        assert copies(users[uid], "Deuxième message") == 1, uid
    statuses = {d.status for d in await bot.state.deliveries_of("circle.message")}
    assert statuses == {"sent"}

    # Flood control: a third message within the minute waits, with a clear word.
    bot.clock.advance(timedelta(minutes=2))
    await write(users[3004], "Un")
    await write(users[3004], "Deux")
    slowed = await write(users[3004], "Trois")
    assert "beaucoup de messages en une minute" in seen(slowed.text)
    bot.clock.advance(timedelta(seconds=61))
    await users[3004].send("Trois")  # the writing stayed open: sent now
    assert "Message envoyé" in (await users[3004].receive()).text

    # /mesdonnees gives back the messages still kept.
    await users[3003].send("/mesdonnees")
    sent = await users[3003].receive(contains="tout ce que nous gardons")
    assert sent.document is not None
    data = json.loads(sent.document[1].decode("utf-8"))
    [kept] = data["Vos messages dans les cercles"]
    assert kept["text"] == "Deuxième message"

    # After the history's days, what was said is erased.
    messages = CircleMessageRepository(bot.services.db)
    assert len(await messages.of_circle(circle_id)) == 5
    bot.clock.advance(timedelta(days=31))
    await bot.tick()
    assert await messages.of_circle(circle_id) == []


async def test_technician_joins_and_the_circle_passes_on(server, bot):
    initiative_id, circle_id, users = await seeded_circle(bot, server)
    tom = await person(bot, server, 3100, "Tom", capacity=3)
    bot.clock.advance(timedelta(minutes=5))  # Tom comes after the others
    repo = CircleRepository(bot.services.db)

    # The circle is full (6): the technician gardener paired for the initiative is offered
    # its circle, and told when it is full; once someone left, Tom joins and the circle hears.
    done = await bot.services.pairs.confirm_match(AUTHOR, 3100, initiative_id=initiative_id)
    assert done.pair_id is not None
    offer = await tom.receive(contains="rejoindre son cercle")
    full = await tom.press("✅ Rejoindre le cercle", message=offer)
    assert "complet" in full.text
    assert await bot.services.circles.leave(3006, circle_id) is not None
    await tom.press("✅ Rejoindre le cercle", message=offer)
    assert "Vous êtes dans le cercle" in seen(tom.last.text)
    assert (await repo.membership(circle_id, 3100)).role == "technician"  # type: ignore[union-attr]
    for uid in [AUTHOR, *OTHERS[:-1]]:
        await users[uid].receive(contains="Tom, jardinier technicien")

    # The author erases her data: the longest-standing member holds the circle, and is told;
    # /oublier said honestly that copies already delivered stay.
    alice = users[AUTHOR]
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer vos données")
    assert "restent dans leur téléphone" in seen(confirm.text)
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    await users[3002].receive(contains="Vous tenez maintenant le cercle")
    circle = await repo.get(circle_id)
    assert circle is not None and circle.owner_id == 3002
    assert AUTHOR not in [m.member_id for m in await repo.members(circle_id)]

    # Everyone leaves: the coordination holds the circle.
    for uid in [3002, 3003, 3004, 3005, 3100]:
        await bot.services.circles.leave(uid, circle_id)
    circle = await repo.get(circle_id)
    assert circle is not None and circle.owner_id is None


async def test_many_circles_with_long_names_fit_in_one_screen(server, bot):
    long_name = "Marie-Clémentine de la Grande-Fontaine 🌻" * 2
    me = await person(bot, server, 3200, long_name[:64])
    for uid in range(3201, 3231):
        await person(bot, server, uid, f"{long_name[:50]} {uid}")
    db, now = bot.services.db, bot.clock.now()
    initiatives, circles = InitiativeRepository(db), CircleRepository(db)
    async with db.transaction():
        for n in range(40):
            initiative_id = await initiatives.create(
                author_id=3201 + n % 30,
                title=f"{n:02d} " + "Très longue initiative de quartier 🏘️ " * 3,
                description="…",
                theme="Solidarité",
                territory="Blaye",
                needs=["people"],
                now=now,
            )
            await initiatives.decide(initiative_id, "published", COORDINATOR_ID, None, now)
            circle_id = await circles.open(initiative_id, 3201 + n % 30, now)
            for uid in [3200, *range(3201, 3231)]:
                await circles.add_member(circle_id, uid, "member", now)
    await me.send("/cercles")
    listing = await me.receive(contains="Vos cercles")
    assert "autres cercles" in listing.text  # the rest is counted, not cut off mid-line
    assert len(listing.buttons) <= 20
    await me.press(listing.all_buttons[0])
    assert "31 personnes" in seen(me.last.text)
