"""Telegram away for a while: nothing is given up, what lost its point expires, refusals are
told apart, and /healthz says so meanwhile. Time moves on the injected clock only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp

from bot.app import run_sweepers
from bot.clock import FakeClock
from sandbox.fakeapi import FakeTelegram
from storage.outbox import NewDelivery, OutboxRepository, Payload
from tests.conftest import COORDINATOR_ID, BotHarness
from tests.helpers import seed_members
from tests.test_calls_delivery import PAID, new_call
from tests.test_ops_run import free_port


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def metrics(port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return (await response.text()).splitlines()


async def tick(bot: BotHarness) -> None:
    """`bot.tick()` with a generous wall-clock bound: 500 refused sends take a while on a
    loaded machine (time in the test still moves only on the injected clock)."""
    await run_sweepers(bot.services)
    await bot.services.require_dispatcher().drain(timeout=120)


async def test_ten_minute_outage_during_a_call_delays_it_and_loses_nobody(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    port = free_port()
    bot: BotHarness = await make_bot(sending=PAID, health={"enabled": True, "port": port})
    recipients = range(7000, 7500)
    server.add_users(recipients)
    server.user(COORDINATOR_ID)
    await seed_members(bot, recipients)
    server.configure(refuse_connections=True)  # Telegram cannot be reached at all
    call = await bot.services.calls.publish(new_call())
    await bot.services.require_dispatcher().drain(timeout=120)
    assert server.stats.refused >= len(recipients)
    for minute in range(1, 11):
        if minute == 5:  # reachable again, but answering 502 Bad Gateway
            server.configure(refuse_connections=False, error_rate_5xx=1.0)
        clock.advance(timedelta(minutes=1))
        await tick(bot)
        status, health = await healthz(port)
        assert (status, health["status"]) == (503, "sends failing"), minute
        assert health["failing_seconds"] == minute * 60
    assert server.stats.server_errors >= len(recipients)
    assert server.stats.delivered_chat_ids == []
    assert health["unreachable"] >= 2 * len(recipients)
    assert health["failed"] == 0
    assert "essaim_up 0" in await metrics(port)

    server.configure(error_rate_5xx=0.0)  # Telegram is back
    clock.advance(timedelta(minutes=1))  # the longest backoff
    await tick(bot)
    assert server.stats.missing(recipients) == set()
    assert server.stats.duplicates() == {}
    counts = await OutboxRepository(bot.services.db).counts("call", call.id)
    assert counts == {"sent": len(recipients)}
    status, health = await healthz(port)
    assert (status, health["status"], health["failing_seconds"]) == (200, "ok", None)
    assert health["sent"] >= len(recipients) and health["failed"] == 0
    lines = await metrics(port)
    assert "essaim_up 1" in lines and "essaim_sends_failing_seconds 0" in lines
    assert f"essaim_deliveries_sent_total {health['sent']}" in lines


async def test_a_call_whose_deadline_passed_during_the_outage_expires_unsent(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    bot: BotHarness = await make_bot(sending=PAID)
    recipients = range(7600, 7610)
    server.add_users(recipients)
    server.user(COORDINATOR_ID)
    await seed_members(bot, recipients)
    server.configure(error_rate_5xx=1.0)
    call = await bot.services.calls.publish(new_call(event_at=clock.now() + timedelta(hours=3)))
    await bot.drain()
    for _ in range(7):  # the deadline (event - 2 h) passes after one hour of outage
        clock.advance(timedelta(minutes=10))
        await bot.tick()
    server.configure(error_rate_5xx=0.0)
    clock.advance(timedelta(minutes=5))
    await bot.tick()
    counts = await OutboxRepository(bot.services.db).counts("call", call.id)
    assert counts == {"expired": len(recipients)}
    assert server.stats.missing(recipients) == set(recipients)  # nothing sent late
    dispatcher = bot.services.require_dispatcher()
    assert (dispatcher.expired_total, dispatcher.failed_total) == (len(recipients), 0)
    stored = await bot.services.calls.repo.get(call.id)
    assert stored is not None
    shown = await bot.services.calls.counts(stored)
    assert (shown.failed, shown.sent, shown.pending) == (0, 0, 0)


async def test_a_reminder_is_not_sent_after_its_event(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    bot: BotHarness = await make_bot(sending=PAID)
    server.user(7700)
    server.user(COORDINATOR_ID)
    await seed_members(bot, [7700])
    call = await bot.services.calls.publish(new_call(event_at=clock.now() + timedelta(hours=5)))
    await bot.drain()
    await bot.services.calls.answer(call.id, 7700, True)
    await bot.drain()
    server.configure(refuse_connections=True)
    await bot.services.call_management.remind(call.id, COORDINATOR_ID)
    await bot.drain()
    for _ in range(6):
        clock.advance(timedelta(hours=1))
        await bot.tick()
    server.configure(refuse_connections=False)
    clock.advance(timedelta(minutes=5))
    await bot.tick()
    counts = await OutboxRepository(bot.services.db).counts("call_reminder", call.id)
    assert counts == {"expired": 1}
    assert not any("Rappel" in m.content for m in server.get_user(7700).messages)  # type: ignore[union-attr]


async def test_a_message_telegram_refuses_is_given_up_with_its_reason(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    bot: BotHarness = await make_bot(sending=PAID)
    server.user(7800)
    await seed_members(bot, [7800])
    repo = OutboxRepository(bot.services.db)
    await repo.enqueue(
        [NewDelivery(chat_id=7800, kind="test", ref_id=1, payload=Payload(text="x" * 5000))],
        clock.now(),
    )
    await bot.drain()
    clock.advance(timedelta(hours=1))
    await bot.tick()
    assert await repo.counts("test", 1) == {"failed": 1}
    [row] = await bot.state.deliveries_of("test")
    assert row.attempts == 1
    assert row.last_error == "refused: Message is too long"
    assert server.stats.client_errors == 1


async def test_unreachable_messages_are_given_up_after_the_retry_window(
    server: FakeTelegram, make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    bot: BotHarness = await make_bot(sending={**PAID, "retry_hours": 2})
    server.user(7900)
    await seed_members(bot, [7900])
    repo = OutboxRepository(bot.services.db)
    server.configure(refuse_connections=True)
    await repo.enqueue(
        [NewDelivery(chat_id=7900, kind="test", ref_id=2, payload=Payload(text="hi"))], clock.now()
    )
    await bot.drain()
    for _ in range(11):
        clock.advance(timedelta(minutes=10))
        await bot.tick()
    assert await repo.counts("test", 2) == {"queued": 1}  # still trying after 1 h 50
    for _ in range(2):
        clock.advance(timedelta(minutes=10))
        await bot.tick()
    assert await repo.counts("test", 2) == {"failed": 1}
    [row] = await bot.state.deliveries_of("test")
    assert row.last_error is not None and row.last_error.startswith("unreachable: ")
