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

    async def recent(self, limit: int = 50, action: str | None = None) -> list[AuditEntry]:
        sql = "SELECT id, actor_id, action, subject, details, at FROM audit_log"
        params: tuple[Any, ...] = ()
        if action is not None:
            sql += " WHERE action = ?"
            params = (action,)
        rows = await self.db.fetch_all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
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
