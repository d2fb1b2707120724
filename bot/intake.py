"""The update intake: every update is stored before Telegram is told it arrived, then handled.

PTB confirms polled updates at its next getUpdates, before their handlers have run, and its
webhook answers 200 before handling: a kill -9 lost whatever was in flight. Here:

1. `receive` stores a batch in `update_inbox` (one transaction) and returns the updates not
   seen before (an `update_id` is handled once, whoever delivers it twice). Only then does
   the poller confirm the batch (bot/updater.py), or the webhook go on to handle it.
2. `spawn` / `accept` run the Application's handlers for one update, at most `concurrency` at
   a time. While they run, a commit guard (storage.db.commit_guard) is set for the task: the
   handler's first write transaction also marks the update `applied`, atomically.
3. When the handlers are done the update is marked `handled` (in batches) and its payload,
   a member's text, is cleared; the id stays `keep_for` for de-duplication, then is pruned.
4. At start, `replay` handles what a crash left `received` or `applied`, before anything new.
   An `applied` update is handled again so its answer reaches the member (a reply may be sent
   twice for what was in flight), but its writes are rolled back: it acts only once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from enum import Enum

from telegram import Bot, Update

from bot.clock import Clock
from bot.services.batching import Batcher
from storage.db import Database, commit_guard
from storage.inbox import InboxRepository, NewUpdate

log = logging.getLogger(__name__)

Process = Callable[[Update], Awaitable[None]]


class _Mode(Enum):
    FIRST = "first"  # no write committed yet in this run
    OWN = "own"  # this run's first write marked the update applied: later writes commit
    DISCARD = "discard"  # an earlier run already applied the update: writes roll back


class UpdateGuard:
    """The commit guard of the task handling one update (see storage.db.CommitGuard)."""

    def __init__(self, inbox: InboxRepository, update_id: int, applied: bool) -> None:
        self.inbox = inbox
        self.update_id = update_id
        self.task = asyncio.current_task()
        self.mode = _Mode.DISCARD if applied else _Mode.FIRST

    async def before_commit(self, db: Database) -> bool:
        # Only the handler's own task: a task it started inherits the context variable,
        # but its writes are not the update's.
        if db is not self.inbox.db or asyncio.current_task() is not self.task:
            return True
        if self.mode is _Mode.FIRST:
            applied = await self.inbox.mark_applied(self.update_id)
            self.mode = _Mode.OWN if applied else _Mode.DISCARD
        if self.mode is _Mode.DISCARD:
            log.info("update %d was already applied: this write is rolled back", self.update_id)
            return False
        return True


class UpdateIntake:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        bot: Bot,
        process: Process,
        *,
        concurrency: int = 64,
        backlog: int = 2000,
        max_attempts: int = 3,
        keep_for: timedelta = timedelta(hours=48),
        shared: bool = False,
        stale_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self.inbox = InboxRepository(db)
        self.clock = clock
        self.bot = bot
        self._process = process
        self._slots = asyncio.Semaphore(concurrency)
        self._backlog = backlog
        self._room = asyncio.Event()
        self._room.set()
        self._max_attempts = max_attempts
        self.keep_for = keep_for
        self.shared = shared
        """Other workers take updates from the same inbox (bot/lease.py)."""
        self.stale_after = stale_after
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._marks: Batcher[int, None] = Batcher(self._mark_handled, name="essaim-inbox")
        self.handled = 0
        """Updates handled by this process (for tests and metrics)."""

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def receive(self, updates: Sequence[Update]) -> list[Update]:
        """Store a batch (raises if the database refuses: then do not confirm it)."""
        fresh = await self.inbox.store([_stored(u) for u in updates], self.clock.now())
        return [u for u in updates if u.update_id in fresh and u.update_id not in self._inflight]

    def spawn(self, update: Update, *, applied: bool = False) -> asyncio.Task[None]:
        """Handle a stored update in the background."""
        task = self._inflight.get(update.update_id)
        if task is None:
            task = asyncio.create_task(
                self._handle(update, applied), name=f"essaim-update-{update.update_id}"
            )
            self._track(update.update_id, task)
        return task

    async def accept(self, update: Update) -> None:
        """Webhook: store, handle, and return once handled (then Telegram is answered).

        A delivery of an update already handled returns at once; one still in flight waits
        for it. Raises when the update could not be stored, so Telegram delivers it again.
        """
        task = self._inflight.get(update.update_id)
        if task is None:
            task = asyncio.create_task(
                self._accept(update), name=f"essaim-hook-{update.update_id}"
            )
            self._track(update.update_id, task)
        await asyncio.shield(task)

    async def _accept(self, update: Update) -> None:
        fresh = await self.inbox.store([_stored(update)], self.clock.now())
        if update.update_id in fresh:
            await self._handle(update, applied=False)
            return
        state = await self.inbox.state(update.update_id)
        if state in ("received", "applied"):
            await self._handle(update, applied=state == "applied")

    def _track(self, update_id: int, task: asyncio.Task[None]) -> None:
        self._inflight[update_id] = task
        if len(self._inflight) >= self._backlog:
            self._room.clear()

        def done(_task: asyncio.Task[None]) -> None:
            self._inflight.pop(update_id, None)
            if len(self._inflight) < self._backlog:
                self._room.set()

        task.add_done_callback(done)

    async def room(self) -> None:
        """Wait while too many updates are waiting for a handler (the poller stops fetching;
        Telegram keeps them meanwhile)."""
        await self._room.wait()

    async def _handle(self, update: Update, applied: bool) -> None:
        async with self._slots:
            token = commit_guard.set(UpdateGuard(self.inbox, update.update_id, applied))
            try:
                await self._process(update)
            except Exception:
                log.exception("update %d could not be handled", update.update_id)
            finally:
                commit_guard.reset(token)
        self.handled += 1
        try:
            await self._marks.submit(update.update_id)
        except Exception:
            # Left unhandled in the table: the next start handles it again, harmlessly.
            log.warning("update %d not marked handled", update.update_id, exc_info=True)

    async def _mark_handled(self, update_ids: list[int]) -> list[None]:
        await self.inbox.mark_handled(update_ids, self.clock.now())
        return [None] * len(update_ids)

    async def replay(self) -> int:
        """Handle, in arrival order, the updates a crash left stored but not handled.

        With other workers on the same inbox, only those older than `stale_after`: the
        recent ones are in the hands of a live worker (and Telegram delivers again what a
        dead one never answered)."""
        before = self.clock.now() - self.stale_after if self.shared else None
        unhandled = await self.inbox.unhandled(received_before=before)
        stored = [s for s in unhandled if s.update_id not in self._inflight]
        retried = [s for s in stored if s.attempts < self._max_attempts and s.payload]
        given_up = [s.update_id for s in stored if s.attempts >= self._max_attempts]
        if given_up:
            log.error(
                "updates %s failed %d starts in a row: skipped", given_up, self._max_attempts
            )
        # No payload: the sender erased their data (/oublier) while it was in flight.
        done = [s.update_id for s in stored if s not in retried]
        await self.inbox.mark_handled(done, self.clock.now())
        if not retried:
            return 0
        await self.inbox.count_attempts([s.update_id for s in retried])
        log.warning("handling %d updates left over by the last run", len(retried))
        for left in retried:
            update = Update.de_json(json.loads(left.payload or "{}"), self.bot)
            self.spawn(update, applied=left.applied)
        return len(retried)

    async def replay_stale(self) -> None:
        """A duty of the lease holder, with several workers: what a dead worker left."""
        if self.shared:
            await self.replay()

    async def drain(self) -> None:
        """Wait for every update in flight (at stop: they finish, then are marked)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight.values()), return_exceptions=True)

    async def prune(self) -> None:
        """A sweeper: forget handled ids after `keep_for` (Telegram redelivers for 24 h)."""
        removed = await self.inbox.prune(self.clock.now() - self.keep_for)
        if removed:
            log.info("pruned %d handled updates from the inbox", removed)


def _stored(update: Update) -> NewUpdate:
    user = update.effective_user
    return NewUpdate(
        update_id=update.update_id, user_id=user.id if user else None, payload=update.to_json()
    )
