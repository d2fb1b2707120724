"""The update inbox: updates stored before Telegram is told they arrived (bot/intake.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from storage.db import Database, to_db_time


class NewUpdate(BaseModel):
    update_id: int
    user_id: int | None
    payload: str


class StoredUpdate(BaseModel):
    update_id: int
    payload: str | None
    """None once the sender erased their data (/oublier) while it was in flight."""
    applied: bool
    """The handler's first write already committed: a replay must not write again."""
    attempts: int


class InboxEntry(BaseModel):
    update_id: int
    state: str
    user_id: int | None
    payload: str | None


class InboxRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, updates: Sequence[NewUpdate], now: datetime) -> set[int]:
        """Store updates; returns the ids that were not already known."""
        if not updates:
            return set()
        ids = [u.update_id for u in updates]
        marks = ", ".join("?" for _ in ids)
        async with self.db.transaction():
            rows = await self.db.fetch_all(
                f"SELECT update_id FROM update_inbox WHERE update_id IN ({marks})", ids
            )
            known = {int(r["update_id"]) for r in rows}
            stamp = to_db_time(now)
            fresh = [u for u in updates if u.update_id not in known]
            await self.db.executemany(
                "INSERT INTO update_inbox (update_id, user_id, payload, received_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
                [(u.update_id, u.user_id, u.payload, stamp) for u in fresh],
            )
        return {u.update_id for u in fresh}

    async def state(self, update_id: int) -> str | None:
        row = await self.db.fetch_one(
            "SELECT state FROM update_inbox WHERE update_id = ?", (update_id,)
        )
        return str(row["state"]) if row else None

    async def entries(self) -> list[InboxEntry]:
        rows = await self.db.fetch_all(
            "SELECT update_id, state, user_id, payload FROM update_inbox ORDER BY update_id"
        )
        return [InboxEntry(**dict(r)) for r in rows]

    async def unhandled(
        self, limit: int = 10_000, received_before: datetime | None = None
    ) -> list[StoredUpdate]:
        """What a crash left behind, in arrival order (received before an instant, if given)."""
        since = "" if received_before is None else "AND received_at < ? "
        rows = await self.db.fetch_all(
            "SELECT update_id, payload, state, attempts FROM update_inbox "
            "WHERE state IN ('received', 'applied') "
            + since
            + "ORDER BY received_at, update_id LIMIT ?",
            (limit,) if received_before is None else (received_before, limit),
        )
        return [
            StoredUpdate(
                update_id=r["update_id"],
                payload=r["payload"],
                applied=r["state"] == "applied",
                attempts=r["attempts"],
            )
            for r in rows
        ]

    async def count_attempts(self, update_ids: Sequence[int]) -> None:
        await self.db.executemany(
            "UPDATE update_inbox SET attempts = attempts + 1 WHERE update_id = ?",
            [(uid,) for uid in update_ids],
        )

    async def mark_applied(self, update_id: int) -> bool:
        """Inside the handler's own transaction: False when an earlier run already wrote."""
        changed = await self.db.execute(
            "UPDATE update_inbox SET state = 'applied' WHERE update_id = ? AND state = 'received'",
            (update_id,),
        )
        return changed == 1

    async def mark_handled(self, update_ids: Sequence[int], now: datetime) -> None:
        """Done: the payload (a member's text) is not kept; the id stays for de-duplication."""
        if not update_ids:
            return
        stamp = to_db_time(now)
        await self.db.executemany(
            "UPDATE update_inbox SET state = 'handled', user_id = NULL, payload = NULL, "
            "handled_at = ? "
            "WHERE update_id = ?",
            [(stamp, uid) for uid in update_ids],
        )

    async def prune(self, handled_before: datetime) -> int:
        return await self.db.execute(
            "DELETE FROM update_inbox WHERE state = 'handled' AND handled_at < ?",
            (to_db_time(handled_before),),
        )
