"""Retention warnings: who was told their data will expire, and when."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, to_db_time


class RetentionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def to_warn(self, cutoff: str, limit: int = 1000) -> list[int]:
        """Members away since before `cutoff` who were not warned since they were last seen."""
        rows = await self.db.fetch_all(
            "SELECT m.telegram_id FROM members m "
            "LEFT JOIN retention_warnings w ON w.member_id = m.telegram_id "
            "WHERE m.last_seen_at < ? AND (w.warned_at IS NULL OR w.warned_at < m.last_seen_at) "
            "ORDER BY m.last_seen_at LIMIT ?",
            (cutoff, limit),
        )
        return [r["telegram_id"] for r in rows]

    async def to_erase(self, cutoff: str, warned_before: str, limit: int = 500) -> list[int]:
        """Members away since before `cutoff`, warned long enough ago and not seen since."""
        rows = await self.db.fetch_all(
            "SELECT m.telegram_id FROM members m "
            "JOIN retention_warnings w ON w.member_id = m.telegram_id "
            "WHERE m.last_seen_at < ? AND w.warned_at >= m.last_seen_at AND w.warned_at <= ? "
            "ORDER BY m.last_seen_at LIMIT ?",
            (cutoff, warned_before, limit),
        )
        return [r["telegram_id"] for r in rows]

    async def mark_warned(self, member_ids: list[int], now: datetime) -> None:
        stamp = to_db_time(now)
        await self.db.executemany(
            "INSERT INTO retention_warnings (member_id, warned_at) VALUES (?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET warned_at = excluded.warned_at",
            [(member_id, stamp) for member_id in member_ids],
        )
