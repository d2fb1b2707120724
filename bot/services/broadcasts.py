"""Queueing a broadcast (a call, a consultation) and following each copy's delivery.

`queue` writes one outbox row and one `broadcast_recipients` row per member, inside the
caller's transaction: the broadcast is fully queued or not at all. The dispatcher calls
`record` inside the transaction that stores its results, so the recipients table never
disagrees with the outbox, and answers and counts can be read from it alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import Clock
from bot.services.outbox import OutboxService
from storage.audience import RecipientRepository, RecipientStatus
from storage.db import Database
from storage.outbox import Delivery, DeliveryResult, NewDelivery

# An expired copy (its broadcast lost its point before Telegram could be reached) never left:
# for the recipients it is one dropped with the broadcast.
_FINAL: dict[str, RecipientStatus] = {
    "sent": "sent",
    "failed": "failed",
    "blocked": "blocked",
    "expired": "dropped",
}


class Broadcasts:
    def __init__(self, db: Database, clock: Clock, outbox: OutboxService) -> None:
        self.clock = clock
        self.outbox = outbox
        self.recipients = RecipientRepository(db)
        self._kinds: set[str] = set()

    def register(self, kind: str) -> None:
        """Outbox rows of this kind are copies of a broadcast whose id is their `ref_id`."""
        self._kinds.add(kind)

    async def queue(self, kind: str, broadcast_id: int, copies: Sequence[NewDelivery]) -> None:
        """One copy per member (each of `kind`, `ref_id` = `broadcast_id`), with its recipient
        row; inside the caller's transaction."""
        await self.recipients.add(
            kind, broadcast_id, [c.chat_id for c in copies], self.clock.now()
        )
        await self.outbox.enqueue(copies)

    async def record(self, results: Sequence[tuple[Delivery, DeliveryResult]]) -> None:
        """The dispatcher's results, inside its transaction: the fate of each copy."""
        rows = [
            (_FINAL[r.status], r.message_id, d.kind, d.ref_id, d.chat_id)
            for d, r in results
            if d.kind in self._kinds and d.ref_id is not None and r.status in _FINAL
        ]
        await self.recipients.record(rows, self.clock.now())

    async def drop(self, kind: str, broadcast_id: int) -> None:
        """The broadcast ended: copies not sent yet will not be (inside a transaction)."""
        await self.outbox.repo.drop_for_ref(kind, broadcast_id)
        await self.recipients.drop_queued(kind, broadcast_id)

    async def counts(self, kind: str, broadcast_id: int) -> dict[str, int]:
        return await self.recipients.counts(kind, broadcast_id)

    async def was_sent_to(self, kind: str, broadcast_id: int, member_id: int) -> bool:
        return await self.recipients.was_sent_to(kind, broadcast_id, member_id)
