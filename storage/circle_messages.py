"""What was said in initiative circles: messages (kept for delivery and a short history),
alerts to the coordination, and the shared pace of circle traffic."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, row_lock

MessageKind = Literal["text", "photo", "voice", "location"]
AlertStatus = Literal["open", "removed", "dismissed"]


class CircleMessage(BaseModel):
    id: int
    circle_id: int
    sender_id: int
    kind: MessageKind
    text: str | None
    """The text, or a photo's or voice message's caption."""
    source_chat_id: int | None
    """With `source_message_id`: the sender's own message the bot copies to the others."""
    source_message_id: int | None
    latitude: float | None
    longitude: float | None
    created_at: datetime


class NewMessage(BaseModel):
    circle_id: int
    sender_id: int
    kind: MessageKind
    text: str | None = None
    source_chat_id: int | None = None
    source_message_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None


class Alert(BaseModel):
    id: int
    circle_id: int
    message_id: int | None
    reporter_id: int | None
    author_id: int | None
    status: AlertStatus
    created_at: datetime


_MESSAGE = (
    "id, circle_id, sender_id, kind, text, source_chat_id, source_message_id, latitude, "
    "longitude, created_at"
)


def _message(row: Row) -> CircleMessage:
    return CircleMessage(
        id=row["id"],
        circle_id=row["circle_id"],
        sender_id=row["sender_id"],
        kind=row["kind"],
        text=row["text"],
        source_chat_id=row["source_chat_id"],
        source_message_id=row["source_message_id"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        created_at=from_db_time(row["created_at"]),
    )


def _alert(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        circle_id=row["circle_id"],
        message_id=row["message_id"],
        reporter_id=row["reporter_id"],
        author_id=row["author_id"],
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
    )


class CircleMessageRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- messages ------------------------------------------------------------------------

    async def add(self, message: NewMessage, now: datetime) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO circle_messages (circle_id, sender_id, kind, text, source_chat_id, "
            "source_message_id, latitude, longitude, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.circle_id,
                message.sender_id,
                message.kind,
                message.text,
                message.source_chat_id,
                message.source_message_id,
                message.latitude,
                message.longitude,
                now,
            ),
        )

    async def get(self, message_id: int) -> CircleMessage | None:
        row = await self.db.fetch_one(
            f"SELECT {_MESSAGE} FROM circle_messages WHERE id = ?", (message_id,)
        )
        return _message(row) if row else None

    async def of_circle(self, circle_id: int) -> list[CircleMessage]:
        """The history still kept, oldest first."""
        rows = await self.db.fetch_all(
            f"SELECT {_MESSAGE} FROM circle_messages WHERE circle_id = ? ORDER BY id",
            (circle_id,),
        )
        return [_message(r) for r in rows]

    async def count_since(self, circle_id: int, since: datetime, sender_id: int | None) -> int:
        """Messages of the circle (of one sender, when given) since `since`: flood control."""
        if sender_id is None:
            row = await self.db.fetch_one(
                "SELECT COUNT(*) AS n FROM circle_messages WHERE circle_id = ? "
                "AND created_at >= ?",
                (circle_id, since),
            )
        else:
            row = await self.db.fetch_one(
                "SELECT COUNT(*) AS n FROM circle_messages WHERE sender_id = ? "
                "AND circle_id = ? AND created_at >= ?",
                (sender_id, circle_id, since),
            )
        return int(row["n"]) if row else 0

    async def count_of(self, sender_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM circle_messages WHERE sender_id = ?", (sender_id,)
        )
        return int(row["n"]) if row else 0

    async def erase_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` messages older than `cutoff` (the history's end)."""
        return await self.db.execute(
            "DELETE FROM circle_messages WHERE id IN (SELECT id FROM circle_messages "
            "WHERE created_at < ? ORDER BY id LIMIT ?)",
            (cutoff, limit),
        )

    # --- alerts to the coordination ----------------------------------------------------

    async def add_alert(
        self, message: CircleMessage, reporter_id: int, now: datetime
    ) -> int | None:
        """The new alert's id, or None if this member already alerted about this message."""
        rows = await self.db.fetch_all(
            "INSERT INTO circle_alerts (circle_id, message_id, reporter_id, author_id, "
            "created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (message_id, reporter_id) DO NOTHING RETURNING id",
            (message.circle_id, message.id, reporter_id, message.sender_id, now),
        )
        return int(rows[0]["id"]) if rows else None

    async def alert(self, alert_id: int) -> Alert | None:
        row = await self.db.fetch_one(
            "SELECT id, circle_id, message_id, reporter_id, author_id, status, created_at "
            "FROM circle_alerts WHERE id = ?" + row_lock(self.db),
            (alert_id,),
        )
        return _alert(row) if row else None

    async def handle_alert(
        self, alert_id: int, status: AlertStatus, handled_by: int, now: datetime
    ) -> bool:
        """First coordinator wins: True if the alert was still open."""
        changed = await self.db.execute(
            "UPDATE circle_alerts SET status = ?, handled_by = ?, handled_at = ? "
            "WHERE id = ? AND status = 'open'",
            (status, handled_by, now, alert_id),
        )
        return changed > 0

    async def close_alerts_about(
        self, circle_id: int, author_id: int, handled_by: int, now: datetime
    ) -> None:
        """Once the author is out of the circle, the other alerts about them are handled."""
        await self.db.execute(
            "UPDATE circle_alerts SET status = 'removed', handled_by = ?, handled_at = ? "
            "WHERE circle_id = ? AND author_id = ? AND status = 'open'",
            (handled_by, now, circle_id, author_id),
        )

    # --- the pace of circle traffic ----------------------------------------------------

    async def pace(self) -> datetime:
        """The next free slot of circle traffic, locked until the transaction ends."""
        row = await self.db.fetch_one(
            "SELECT slot_at FROM circle_pace WHERE id = 1" + row_lock(self.db)
        )
        assert row is not None, "migration 0014 creates the pace row"
        slot = from_db_time(row["slot_at"])
        assert slot is not None
        return slot

    async def set_pace(self, slot: datetime) -> None:
        await self.db.execute("UPDATE circle_pace SET slot_at = ? WHERE id = 1", (slot,))
