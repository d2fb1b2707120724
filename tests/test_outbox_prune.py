"""Finished outbox rows are forgotten after `sending.keep_finished_days`; who a call reached,
its answers and the statistics do not depend on them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.clock import FakeClock
from sandbox.fakeapi import FakeTelegram
from storage.outbox import NewDelivery, Payload
from tests.conftest import COORDINATOR_ID, BotHarness
from tests.helpers import seed_members
from tests.test_calls_delivery import PAID, new_call


async def figures(bot: BotHarness) -> tuple[Any, int, int]:
    """What /stats says about calls: their figures, and deliveries and answers by week."""
    stats = await bot.services.stats.community()
    return (
        stats.calls,
        sum(w.deliveries for w in stats.weeks),
        sum(w.answers for w in stats.weeks),
    )


async def test_finished_deliveries_are_pruned_and_counts_stay(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    bot: BotHarness = await make_bot(sending={**PAID, "keep_finished_days": 30})
    members = range(8300, 8305)
    server.add_users(members)
    server.user(COORDINATOR_ID)
    await seed_members(bot, [*members, COORDINATOR_ID])
    calls = bot.services.calls
    call = await calls.publish(new_call(event_at=clock.now() + timedelta(days=40)))
    await bot.drain()
    await calls.answer(call.id, 8300, True)
    await calls.answer(call.id, 8301, False)
    later = clock.now() + timedelta(days=60)
    async with bot.services.db.transaction():  # a message planned for later stays
        await bot.services.outbox.enqueue(
            [
                NewDelivery(
                    chat_id=8302, kind="test", payload=Payload(text="plus tard"), not_before=later
                )
            ]
        )
    stored = await calls.repo.get(call.id)
    assert stored is not None
    before = (await calls.counts(stored), await bot.state.call_answers())
    stats_before = await figures(bot)
    assert stats_before[1:] == (5, 2)
    assert len(await bot.state.deliveries_of("call")) == 5

    clock.advance(timedelta(days=29))
    await bot.tick()
    assert len(await bot.state.deliveries_of("call")) == 5  # not yet

    clock.advance(timedelta(days=2))
    await bot.tick()
    assert await bot.state.deliveries_of("call") == []
    assert [d.kind for d in await bot.state.deliveries_of()] == ["test"]
    assert (await calls.counts(stored), await bot.state.call_answers()) == before
    assert await figures(bot) == stats_before
    assert await calls.relay(call.id, 8300) is not None  # still known to have received it
