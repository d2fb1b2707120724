"""The sender lease: exactly one worker runs the outbox dispatcher and the periodic duties.

Every worker takes webhook updates; the one holding the lease also sends the outbox and runs
the duties (scheduled calls, reminders, check-ins, digests, retention). The lease is a row
in PostgreSQL with an expiry and a fencing token, on the server's clock (storage/leases.py):

- the holder renews it every `workers.renew_seconds`; a worker without it tries to take it
  every `workers.standby_poll_seconds`, and gets it once `workers.lease_seconds` passed
  without a renewal (an advisory lock would be released late: PostgreSQL notices a dead
  machine only when TCP keepalive gives up);
- the holder believes it holds the lease only until `lease_seconds - SAFETY` after it
  *asked* for the last renewal (`valid()`, on its own monotonic clock), so it stops sending
  before anyone else may start; the rate limiter asks `valid()` right before each bulk send;
- claims carry the token and are refused in their own transaction when it is not current
  (`check`, which also locks the row in share mode, so a takeover waits for the claim); the
  results are recorded only on rows still claimed under that token; the duties' commits are
  refused the same way (`DutyGuard`).

SQLite is one process (the instance lock): `SoleLease` is held from start to stop, and
nothing changes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.config import WorkersSettings
from storage.db import Database
from storage.leases import LeaseRepository

log = logging.getLogger(__name__)

LEASE_NAME = "sender"
SAFETY_SECONDS = 0.5
"""How much earlier than the database's expiry the holder stops believing it holds the lease."""

Callback = Callable[[], Awaitable[None]]


class Fence(Protocol):
    """The lease as the dispatcher and the rate limiter see it."""

    token: int

    def valid(self) -> bool: ...

    async def check(self) -> None: ...


class LeaseLost(Exception):
    """This worker no longer holds the sender lease: the send or the write is refused."""


def worker_name(configured: str | None) -> str:
    return configured or f"{socket.gethostname()}-{os.getpid()}"


class SoleLease:
    """The only process on its database (SQLite): it always holds the lease."""

    shared = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.token = 0
        self.held = False
        self.gained = 0
        """How many times this worker took the lease (for /metrics)."""
        self._on_gain: list[Callback] = []
        self._on_lose: list[Callback] = []

    def on_gain(self, callback: Callback) -> None:
        self._on_gain.append(callback)

    def on_lose(self, callback: Callback) -> None:
        self._on_lose.append(callback)

    def valid(self) -> bool:
        return self.held

    async def check(self) -> None:
        """Inside a claim's transaction: raise LeaseLost unless the lease is current."""
        if not self.valid():
            raise LeaseLost(self.name)

    async def current(self) -> bool:
        return self.valid()

    async def start(self) -> None:
        await self._gain(0)

    async def stop(self) -> None:
        self.held = False

    async def _gain(self, token: int) -> None:
        self.token = token
        self.held = True
        self.gained += 1
        log.info("worker %s holds the sender lease (token %d)", self.name, token)
        for callback in self._on_gain:
            await callback()

    async def _lose(self, why: str) -> None:
        if not self.held:
            return
        self.held = False
        log.warning("worker %s lost the sender lease: %s", self.name, why)
        for callback in self._on_lose:
            try:
                await callback()
            except Exception:
                log.exception("stopping after the lease was lost failed")


class SharedLease(SoleLease):
    """The lease row in PostgreSQL, renewed by a background task."""

    shared = True

    def __init__(self, db: Database, settings: WorkersSettings) -> None:
        # A new id at every start: a restarted process with the same pid is another holder.
        super().__init__(f"{worker_name(settings.name)}-{uuid.uuid4().hex[:6]}")
        self.repo = LeaseRepository(db)
        self.db = db
        self.settings = settings
        self._deadline = 0.0
        self._task: asyncio.Task[None] | None = None

    def valid(self) -> bool:
        return self.held and time.monotonic() < self._deadline

    async def current(self) -> bool:
        """Inside the caller's transaction: the lease is ours, and stays so until it ends."""
        if not self.valid():
            return False
        return await self.repo.is_current(LEASE_NAME, self.name, self.token)

    async def check(self) -> None:
        if not await self.current():
            raise LeaseLost(self.name)

    async def start(self) -> None:
        """Try once now (the first worker starts holding it), then keep trying or renewing."""
        await self._step()
        self._task = asyncio.create_task(self._run(), name="essaim-lease")

    async def stop(self) -> None:
        """A clean stop: the dispatcher already stopped; expire the lease so another worker
        takes over at once instead of after `lease_seconds`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.held:
            self.held = False
            try:
                await self.repo.release(LEASE_NAME, self.name, self.token)
            except Exception:
                log.warning("lease not released; it expires by itself", exc_info=True)

    async def _run(self) -> None:
        while True:
            every = self.settings
            await asyncio.sleep(every.renew_seconds if self.held else every.standby_poll_seconds)
            await self._step()

    async def _step(self) -> None:
        asked = time.monotonic()
        seconds = self.settings.lease_seconds
        try:
            if self.held:
                if await self.repo.renew(LEASE_NAME, self.name, self.token, seconds):
                    self._deadline = asked + seconds - SAFETY_SECONDS
                    return
                await self._lose("renewal refused")
                return
            token = await self.repo.acquire(LEASE_NAME, self.name, seconds)
        except Exception:
            log.warning("lease: the database did not answer", exc_info=True)
            if self.held and not self.valid():
                await self._lose("could not renew in time")
            return
        if token is not None:
            self._deadline = asked + seconds - SAFETY_SECONDS
            await self._gain(token)


class DutyGuard:
    """The commit guard of the periodic duties: a duty's transaction commits only while the
    lease is current (storage.db.CommitGuard), so a stale holder's duty changes nothing."""

    def __init__(self, lease: SoleLease, db: Database) -> None:
        self.lease = lease
        self.db = db

    async def before_commit(self, db: Database) -> bool:
        if db is not self.db:
            return True
        if await self.lease.current():
            return True
        log.warning("a duty's write was refused: the sender lease is lost")
        return False


def make_lease(db: Database, settings: WorkersSettings) -> SoleLease:
    if db.dialect == "sqlite":
        return SoleLease(worker_name(settings.name))
    return SharedLease(db, settings)
