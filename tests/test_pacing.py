"""Replies keep Telegram's per-chat pace: a fast coordinator earns no 429, which would pause
every chat for a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.fakeapi import FakeTelegram
from tests.conftest import COORDINATOR_ID


async def test_a_fast_tapper_gets_every_reply_without_a_429(
    server: FakeTelegram, make_bot: Callable[..., Any]
) -> None:
    server.configure(per_chat_per_second=1)  # Telegram's limit, counted strictly
    await make_bot(sending={"per_chat_per_second": 1})
    coordinator = server.user(COORDINATOR_ID, "Camille")
    for _ in range(4):  # faster than one a second: four screens asked at once
        await coordinator.send("/start")
    for _ in range(4):
        await coordinator.receive(timeout=10)
    assert server.stats.too_many_requests == 0
    assert server.stats.method_counts["sendMessage"] == 4
