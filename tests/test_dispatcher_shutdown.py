"""Stopping the dispatcher mid-broadcast: what Telegram accepted is recorded as sent, what
never left is queued again, and after a restart everyone has the message exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from bot.services.outbox import Payload
from sandbox.fakeapi import FakeTelegram
from tests.conftest import TOKEN, BotHarness
from tests.helpers import seed_members

MEMBERS = range(8600, 8640)


async def test_a_send_on_the_wire_when_the_grace_ends_is_awaited_and_recorded(
    server: FakeTelegram, bot: BotHarness
) -> None:
    for chat_id in MEMBERS:
        server.user(chat_id, f"M{chat_id}")
    await seed_members(bot, MEMBERS)
    accepted: list[int] = []
    late = asyncio.Event()
    send_message = server._methods["sendmessage"]

    async def accept_then_answer_late(params: dict[str, Any]) -> Any:
        message = send_message(params)  # Telegram has it: on the member's screen, counted
        accepted.append(message["chat"]["id"])
        await late.wait()  # ...but its answer comes after the grace
        return message

    server._methods["sendmessage"] = accept_then_answer_late
    dispatcher = bot.services.require_dispatcher()
    async with bot.services.db.transaction():
        await bot.services.outbox.notify(MEMBERS, "test", lambda _chat: Payload(text="Appel"))
    await server.wait_until(lambda: len(accepted) >= 3, message="nothing reached Telegram")

    stopping = asyncio.create_task(dispatcher.stop(grace=0))
    # No grace left: what waited for its turn is given up, what is on the wire is awaited.
    await server.wait_until(lambda: dispatcher.in_flight <= len(accepted))
    assert dispatcher.in_flight == len(accepted), "a send Telegram accepted was cancelled"
    assert not stopping.done()
    late.set()
    await stopping

    rows = await bot.state.deliveries_of("test")
    counts = Counter(d.status for d in rows)
    assert counts["sent"] == len(accepted) == server.stats.delivered
    assert counts["queued"] == len(MEMBERS) - len(accepted) > 0
    assert "sending" not in counts

    server._methods["sendmessage"] = send_message
    await dispatcher.start()
    await bot.drain()
    assert server.stats.duplicates() == {}
    assert server.stats.missing(MEMBERS) == set()
    assert {d.status for d in await bot.state.deliveries_of("test")} == {"sent"}


async def test_a_held_request_whose_client_gave_up_never_arrives(server: FakeTelegram) -> None:
    """The fake server's gate, which the SIGTERM test stalls a broadcast with."""
    from telegram import Bot
    from telegram.error import TimedOut

    member = server.user(8700, "Lina")
    async with Bot(TOKEN, base_url=server.base_url) as api:
        server.hold()
        with_timeout = asyncio.create_task(api.send_message(8700, "perdu", read_timeout=0.2))
        await server.wait_until(lambda: server.held == 1)
        with pytest.raises(TimedOut):
            await with_timeout
        waiting = asyncio.create_task(api.send_message(8700, "arrivé"))
        await server.wait_until(lambda: server.held == 2)
        server.release()
        await waiting
    assert (await member.receive()).text == "arrivé"
    assert server.stats.delivered == 1


async def test_a_send_told_to_wait_by_telegram_during_the_stop_does_not_hold_it(
    server: FakeTelegram, bot: BotHarness
) -> None:
    """A 429 sends a request back to the limiter's pause: stopping does not wait it out."""
    from sandbox.fakeapi.protocol import ApiError

    for chat_id in MEMBERS:
        server.user(chat_id, f"M{chat_id}")
    await seed_members(bot, MEMBERS)
    asked: list[int] = []
    answer = asyncio.Event()

    async def too_many(params: dict[str, Any]) -> Any:
        asked.append(int(params["chat_id"]))
        await answer.wait()
        raise ApiError(429, "Too Many Requests: retry after 600", {"retry_after": 600})

    server._methods["sendmessage"] = too_many
    dispatcher = bot.services.require_dispatcher()
    async with bot.services.db.transaction():
        await bot.services.outbox.notify(MEMBERS, "test", lambda _chat: Payload(text="Appel"))
    await server.wait_until(lambda: len(asked) >= 3, message="nothing reached Telegram")
    stopping = asyncio.create_task(dispatcher.stop(grace=0))
    await server.wait_until(lambda: dispatcher.in_flight <= len(asked))
    answer.set()  # 429 for everything on the wire: each goes back to a 10-minute pause
    await asyncio.wait_for(stopping, timeout=30)  # not 600 s
    rows = await bot.state.deliveries_of("test")
    assert {d.status for d in rows} == {"queued"}
    assert server.stats.delivered == 0
