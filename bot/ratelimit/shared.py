"""One sending budget for every worker of a bot token, granted through PostgreSQL.

Telegram counts a bot's messages per token, whichever process sends them. Each worker's
limiter (PriorityRateLimiter) still paces and orders its own requests, and before a message
may start it also needs a *slot* granted by the database: `send_budget.next_slot` is the
instant of the next free slot on the server's clock (a GCRA shared by all), and a grant
reserves a run of consecutive slots `1 / rate` apart (storage/leases.BudgetRepository):

- replies (the interactive lane) are granted at once, as many as are waiting;
- bulk sends (the lease holder's outbox) are granted in small chunks, and only while the
  budget is not already reserved more than `horizon` ahead: a reply from any worker then
  waits at most about `horizon` plus one chunk, and replies go first across processes too;
- a granted slot is used at its instant or later, never earlier; a slot missed by more than
  `late` (a quarter of a second: a busy event loop) is dropped. Lateness cannot bunch
  sends up: the worker's own limiter still spaces them and counts its sliding second
  (bot/ratelimit/buckets.py), the slots only decide whose turn it is; a new
  lease holder continues the same schedule: Telegram sees no burst at failover;
- a 429 pushes the shared schedule past `retry_after`, so every worker pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from storage.leases import BudgetRepository

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.2
HORIZON_SECONDS = 0.25
RETRY_SECONDS = 0.5
LATE_SECONDS = 0.25


class SharedBudget:
    def __init__(
        self,
        repo: BudgetRepository,
        name: str,
        rate: float,
        *,
        late: float = LATE_SECONDS,
        chunk_seconds: float = CHUNK_SECONDS,
        horizon: float = HORIZON_SECONDS,
    ) -> None:
        self.repo = repo
        self.name = name
        self.interval = 1.0 / rate
        self.late = late
        self.chunk = max(1, round(rate * chunk_seconds))
        self.horizon = horizon
        self._slots: deque[float] = deque()
        self._urgent = 0
        self._bulk = 0
        self._task: asyncio.Task[None] | None = None
        self._poke: Callable[[], None] = lambda: None
        self._time: Callable[[], float] = lambda: 0.0
        self.granted = 0
        self.missed = 0
        """Slots granted, and slots dropped because their instant passed unused."""

    def bind(self, time_source: Callable[[], float], poke: Callable[[], None]) -> None:
        """The limiter's clock, and how to wake its dispatcher when slots arrive."""
        self._time = time_source
        self._poke = poke

    def next_slot(self, now: float, urgent: bool, waiting: int) -> float | None:
        """This worker's next slot, or None (then slots are asked for, and `poke` follows).

        `waiting` is how many requests wait in the lane (`urgent`: the interactive one)."""
        slots = self._slots
        while slots and slots[0] < now - self.late:
            slots.popleft()
            self.missed += 1
        if urgent:
            self._urgent = waiting
        else:
            self._bulk = waiting
        if len(slots) < self._urgent + self._bulk and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._refill(), name=f"essaim-budget-{self.name}"
            )
        return slots[0] if slots else None

    def take(self, urgent: bool) -> None:
        if self._slots:
            self._slots.popleft()
        if urgent:
            self._urgent = max(0, self._urgent - 1)
        else:
            self._bulk = max(0, self._bulk - 1)

    def pause(self, seconds: float) -> None:
        """A 429: the slots held are void, and every worker's schedule moves past it."""
        self._slots.clear()
        task = asyncio.get_running_loop().create_task(self._pause(seconds))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _pause(self, seconds: float) -> None:
        try:
            await self.repo.pause(self.name, seconds)
        except Exception:
            log.warning("the shared budget could not be paused", exc_info=True)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refill(self) -> None:
        while (missing := self._urgent + self._bulk - len(self._slots)) > 0:
            urgent = self._urgent > len(self._slots)
            count = missing if urgent else min(missing, self.chunk)
            before = self._time()
            try:
                grant = await self.repo.grant(
                    self.name, count, self.interval, None if urgent else self.horizon
                )
            except Exception:
                log.warning("no sending slots: the database did not answer", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if grant is None:  # reserved far enough ahead already: replies keep their room
                await asyncio.sleep(self.horizon / 2)
                continue
            first, server_now = grant
            # The server's instants on this loop's clock (half the round trip is a guess that
            # errs by at most the round trip, a millisecond on one network).
            offset = server_now - (before + self._time()) / 2
            self._slots.extend(first - offset + i * self.interval for i in range(count))
            self.granted += count
            self._poke()


class SharedSlots:
    """Part of PriorityRateLimiter: the budgets its buckets share with the other workers."""

    __slots__ = ()

    _shared: dict[int, SharedBudget]
    _global: Any
    _paid: Any
    _wakeup: asyncio.Future[None] | None

    _bind_clock: Callable[[], None]
    _now: Callable[[], float]

    def share(self, free: SharedBudget, paid: SharedBudget | None = None) -> None:
        """Take every message's slot from budgets shared with the other workers too."""
        self._bind_clock()
        for bucket, budget in ((self._global, free), (self._paid, paid)):
            if bucket is not None and budget is not None:
                budget.bind(self._now, self._poke)
                self._shared[id(bucket)] = budget

    def _poke(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
