"""Queueing notifications: the one way a service asks for a message to reach someone.

Rows are written inside the caller's transaction (the transactional outbox), so a change and
the messages announcing it are stored together or not at all; the dispatcher sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

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


class OutboxService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.repo = OutboxRepository(db)
        self._listeners: list[Callable[[], None]] = []

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
