"""Who was around lately: `last_seen_at`, written in batches, off every member's path.

`last_seen_at` drives the retention purge, and a member who had blocked the bot and writes
again is active again. It is housekeeping: when it was written inside the handling of a
press, a locked database made the press wait five seconds, then fail with "try again"
although the press itself would have worked. Now a press only notes the member in memory
(at most once an hour each); the scheduler tick (and the stop) writes what was noted, in one
transaction; when the database refuses, the notes are kept for the next tick and nobody is
told anything.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.clock import Clock
from storage.db import Database
from storage.members import MemberRepository

log = logging.getLogger(__name__)

NOTE_EVERY = timedelta(hours=1)
REMEMBERED_MAX = 100_000


class Presence:
    def __init__(self, db: Database, clock: Clock, every: timedelta = NOTE_EVERY) -> None:
        self.repo = MemberRepository(db)
        self.clock = clock
        self.every = every
        self._noted: dict[int, datetime] = {}
        self._pending: dict[int, tuple[datetime, str | None]] = {}

    def seen(self, telegram_id: int, username: str | None) -> None:
        """Called for every update: no database, no await, nothing that can fail."""
        now = self.clock.now()
        last = self._noted.get(telegram_id)
        if last is not None and now - last < self.every:
            return
        if len(self._noted) >= REMEMBERED_MAX:
            self._noted.clear()
        self._noted[telegram_id] = now
        self._pending[telegram_id] = (now, username)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """A sweeper (first of all: the retention purge reads what it writes); never raises."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            await self.repo.touch((tid, when, username) for tid, (when, username) in batch.items())
        except Exception:
            log.warning(
                "last seen of %d members not written; next tick", len(batch), exc_info=True
            )
            for telegram_id, noted in batch.items():
                self._pending.setdefault(telegram_id, noted)
