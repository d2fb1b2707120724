"""Queueing notifications: the one way a service asks for a message to reach someone.

Rows are written inside the caller's transaction (the transactional outbox), so a change and
the messages announcing it are stored together or not at all; the dispatcher sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.clock import Clock
from storage.db import Database
from storage.outbox import (
    Button,
    Copy,
    Document,
    Location,
    NewDelivery,
    OutboxRepository,
    Payload,
)

__all__ = [
    "Button",
    "Copy",
    "Document",
    "Location",
    "NewDelivery",
    "OutboxService",
    "Payload",
]


log = logging.getLogger(__name__)

PRUNE_BATCH = 2000
PRUNE_EVERY = timedelta(hours=1)


class OutboxService:
    def __init__(self, db: Database, clock: Clock, keep_finished_days: float = 30.0) -> None:
        self.db = db
        self.clock = clock
        self.repo = OutboxRepository(db)
        self.keep_finished = timedelta(days=keep_finished_days)
        self._listeners: list[Callable[[], None]] = []
        self._pruned_at: datetime | None = None

    async def prune(self) -> None:
        """Sweeper: forget finished deliveries older than `sending.keep_finished_days`, at
        most once an hour, in short transactions."""
        now = self.clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        deleted = 0
        while True:
            async with self.db.transaction():
                batch = await self.repo.prune(now - self.keep_finished, PRUNE_BATCH)
            deleted += batch
            if batch < PRUNE_BATCH:
                break
        if deleted:
            log.info("outbox: %d finished deliveries forgotten", deleted)

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        """The dispatcher registers here to wake up as soon as something is queued."""
        self._listeners.append(listener)

    async def enqueue(self, deliveries: Sequence[NewDelivery]) -> None:
        if not deliveries:
            return
        await self.repo.enqueue(deliveries, self.clock.now())
        for listener in self._listeners:
            listener()

    async def notify(
        self,
        chat_ids: Sequence[int],
        kind: str,
        render: Callable[[int], Payload],
        *,
        ref_id: int | None = None,
        priority: int = 5,
        not_before: datetime | None = None,
    ) -> None:
        """One delivery per chat, each rendered for its recipient (language, buttons)."""
        await self.enqueue(
            [
                NewDelivery(
                    chat_id=chat_id,
                    kind=kind,
                    ref_id=ref_id,
                    priority=priority,
                    payload=render(chat_id),
                    not_before=not_before,
                )
                for chat_id in chat_ids
            ]
        )
