"""What each member is in the middle of, kept in SQLite so a restart resumes it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.db import Database, to_db_time


class Conversation(BaseModel):
    member_id: int
    flow: str
    step: str
    data: dict[str, Any]


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, member_id: int) -> Conversation | None:
        row = await self.db.fetch_one(
            "SELECT member_id, flow, step, data FROM conversations WHERE member_id = ?",
            (member_id,),
        )
        if row is None:
            return None
        return Conversation(
            member_id=row["member_id"],
            flow=row["flow"],
            step=row["step"],
            data=json.loads(row["data"]),
        )

    async def save(
        self, member_id: int, flow: str, step: str, data: dict[str, Any], now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO conversations (member_id, flow, step, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id) DO UPDATE SET flow = excluded.flow, "
            "step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
            (member_id, flow, step, json.dumps(data, ensure_ascii=False), to_db_time(now)),
        )

    async def clear(self, member_id: int, flow: str | None = None) -> None:
        if flow is None:
            await self.db.execute("DELETE FROM conversations WHERE member_id = ?", (member_id,))
        else:
            await self.db.execute(
                "DELETE FROM conversations WHERE member_id = ? AND flow = ?", (member_id, flow)
            )
