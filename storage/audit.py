"""The coordinators' audit log: who did what, to what, and when."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.db import Database, from_db_time, to_db_time


class AuditEntry(BaseModel):
    id: int
    actor_id: int
    action: str
    subject: str | None
    details: dict[str, Any]
    at: datetime


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        actor_id: int,
        action: str,
        subject: str | None,
        now: datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        await self.db.execute(
            "INSERT INTO audit_log (actor_id, action, subject, details, at) "
            "VALUES (?, ?, ?, ?, ?)",
            (actor_id, action, subject, json.dumps(details or {}), to_db_time(now)),
        )

    async def entries(self, action_prefix: str = "") -> list[AuditEntry]:
        """The log in order, or the entries whose action starts with `action_prefix`."""
        rows = await self.db.fetch_all(
            "SELECT id, actor_id, action, subject, details, at FROM audit_log "
            "WHERE substr(action, 1, ?) = ? ORDER BY id",
            (len(action_prefix), action_prefix),
        )
        return [
            AuditEntry(
                id=r["id"],
                actor_id=r["actor_id"],
                action=r["action"],
                subject=r["subject"],
                details=json.loads(r["details"]),
                at=from_db_time(r["at"]),
            )
            for r in rows
        ]
