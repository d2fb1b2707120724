"""What every part of the fake server shares: its settings, counters and files, and the
events it pushes to subscribers (the sandbox web page). The parts build on it in a chain
(rates -> people -> updates -> messages -> media -> menus -> FakeTelegram), each one
seeing what the earlier ones define."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox.fakeapi.files import FileStore
from sandbox.fakeapi.models import FaultConfig, ServerEvent, Stats
from sandbox.fakeapi.protocol import JSON

log = logging.getLogger("sandbox.fakeapi.server")

Subscriber = Callable[[ServerEvent], Awaitable[None]]


class ServerCore:
    """The state FakeTelegram.__init__ sets up, declared once for all its parts."""

    token: str
    host: str
    port: int
    bot_json: JSON
    config: FaultConfig
    rng: random.Random
    stats: Stats
    files: FileStore
    callback_query_ttl: float
    webhook_max_attempts: int
    webhook_retry_delay: float
    webhook_connections: int
    webhook_dropped: int
    _subscribers: list[Subscriber]
    _event_queue: asyncio.Queue[ServerEvent] | None
    _dispatch_task: asyncio.Task[None] | None
    _runner: web.AppRunner | None
    _closing: bool

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register an async callback for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, chat_id: int | None, payload: JSON) -> None:
        if self._subscribers and self._event_queue is not None:
            self._event_queue.put_nowait(ServerEvent(kind, chat_id, payload))

    async def _dispatch_loop(self) -> None:
        """Deliver events in order, one at a time, so a slow UI never blocks the API."""
        assert self._event_queue is not None
        while True:
            event = await self._event_queue.get()
            for callback in list(self._subscribers):
                try:
                    await callback(event)
                except Exception:
                    log.exception("subscriber %r failed on %s", callback, event.kind)
