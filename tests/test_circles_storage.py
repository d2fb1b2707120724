"""The circles' repositories on the running backend: members, mute, removals, messages, pace."""

from __future__ import annotations

from datetime import timedelta

from storage.circle_messages import CircleMessageRepository, NewMessage
from storage.circles import CircleListener, CircleRepository
from storage.initiatives import InitiativeRepository
from tests.helpers import seed_members


async def _initiative(bot, author_id: int) -> int:
    db, now = bot.services.db, bot.clock.now()
    repo = InitiativeRepository(db)
    async with db.transaction():
        initiative_id = await repo.create(
            author_id=author_id,
            title="Jardin partagé",
            description="Un jardin",
            theme="Environnement",
            territory="Blaye",
            needs=["people"],
            now=now,
        )
        await repo.decide(initiative_id, "published", 900, None, now)
    return initiative_id


async def test_circle_members_audience_mute_and_removals(bot):
    await seed_members(bot, [1, 2, 3, 4])
    db, now = bot.services.db, bot.clock.now()
    circles = CircleRepository(db)
    initiative_id = await _initiative(bot, 1)
    async with db.transaction():
        circle_id = await circles.open(initiative_id, 1, now)
        assert await circles.open(initiative_id, 1, now) == circle_id  # idempotent
        assert await circles.add_member(circle_id, 2, "member", now + timedelta(seconds=1))
        assert not await circles.add_member(circle_id, 2, "member", now)
        assert await circles.add_member(circle_id, 3, "technician", now + timedelta(seconds=2))
        assert await circles.add_member(circle_id, 4, "member", now + timedelta(seconds=3))
    await bot.state.members.set_status(4, "blocked")
    await bot.state.members.set_status(3, "paused")  # /pause is about calls, not circles

    circle = await circles.get(circle_id)
    assert circle is not None and circle.title == "Jardin partagé" and circle.owner_id == 1
    assert [m.member_id for m in await circles.members(circle_id)] == [1, 2, 3, 4]
    assert await circles.size(circle_id) == 4
    assert await circles.audience(circle_id) == [
        CircleListener(member_id=1, muted=False),
        CircleListener(member_id=2, muted=False),
        CircleListener(member_id=3, muted=False),
    ]

    async with db.transaction():
        assert await circles.mute(circle_id, 2)
        assert not await circles.mute(circle_id, 2)
        await circles.count_unread(circle_id, [2])
        await circles.count_unread(circle_id, [2])
    assert (await circles.audience(circle_id))[1] == CircleListener(member_id=2, muted=True)
    async with db.transaction():
        assert await circles.unmute(circle_id, 2, now) == 2
        assert await circles.unmute(circle_id, 2, now) is None

    async with db.transaction():
        assert await circles.remove_member(circle_id, 3)
        await circles.mark_removed(circle_id, 3, 1, now)
        assert await circles.ask_rejoin(circle_id, 3, now)
        assert not await circles.ask_rejoin(circle_id, 3, now)  # once
        assert await circles.decline_rejoin(circle_id, 3, now)
        assert not await circles.clear_removal(circle_id, 3)  # declined: nothing to accept
    removal = await circles.removal(circle_id, 3)
    assert removal is not None and removal.declined_at is not None
    assert [c.id for c in await circles.of_member(1)] == [circle_id]
    assert await circles.of_member(3) == []


async def test_messages_flood_counts_alerts_history_and_pace(bot):
    await seed_members(bot, [1, 2])
    db, now = bot.services.db, bot.clock.now()
    circles, messages = CircleRepository(db), CircleMessageRepository(db)
    initiative_id = await _initiative(bot, 1)
    async with db.transaction():
        circle_id = await circles.open(initiative_id, 1, now)
        first = await messages.add(
            NewMessage(circle_id=circle_id, sender_id=1, kind="text", text="Bonjour"), now
        )
        await messages.add(
            NewMessage(
                circle_id=circle_id, sender_id=2, kind="location", latitude=45.1, longitude=-0.6
            ),
            now + timedelta(days=2),
        )
    assert await messages.count_since(circle_id, now, None) == 2
    assert await messages.count_since(circle_id, now, 1) == 1
    found = await messages.get(first)
    assert found is not None and found.text == "Bonjour"
    async with db.transaction():
        alert = await messages.add_alert(found, 2, now)
        assert alert is not None
        assert await messages.add_alert(found, 2, now) is None  # once per member and message
        assert await messages.handle_alert(alert, "dismissed", 900, now)
        assert not await messages.handle_alert(alert, "removed", 900, now)
    async with db.transaction():
        assert await messages.erase_before(now + timedelta(days=1), 100) == 1
    assert [m.kind for m in await messages.of_circle(circle_id)] == ["location"]
    async with db.transaction():
        assert (await messages.pace()).year == 1970
        await messages.set_pace(now)
    async with db.transaction():
        assert await messages.pace() == now


async def test_what_decisions_and_stage_notices_read_of_a_circle(bot):
    await seed_members(bot, [1, 2, 3])
    db, now = bot.services.db, bot.clock.now()
    circles = CircleRepository(db)
    initiative_id = await _initiative(bot, 1)
    service = bot.services.circles
    assert await service.circle_people(initiative_id) == ([], [])
    async with db.transaction():
        circle_id = await service.open_for(initiative_id, 1)
        await circles.add_member(circle_id, 2, "member", now + timedelta(seconds=1))
        await circles.add_member(circle_id, 3, "member", now + timedelta(seconds=2))
        await circles.mute(circle_id, 3)
    assert await service.circles_of(2) == [(circle_id, "Jardin partagé")]
    assert await service.listeners(circle_id) == [1, 2]
    assert await service.circle_people(initiative_id) == ([1, 2], [3])
