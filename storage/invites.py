"""Single-use invite codes for technicians and coordinators."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, to_db_time

InviteRole = Literal["technician", "coordinator"]


class Invite(BaseModel):
    code: str
    role: InviteRole
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None


_COLUMNS = "code, role, created_by, created_at, expires_at, used_by, used_at"


def _invite(row: Row) -> Invite:
    return Invite(
        code=row["code"],
        role=row["role"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        expires_at=from_db_time(row["expires_at"]),
        used_by=row["used_by"],
        used_at=from_db_time(row["used_at"]),
    )


class InviteRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, code: str, role: InviteRole, created_by: int, now: datetime, expires: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO invites (code, role, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (code, role, created_by, to_db_time(now), to_db_time(expires)),
        )

    async def get(self, code: str) -> Invite | None:
        row = await self.db.fetch_one(f"SELECT {_COLUMNS} FROM invites WHERE code = ?", (code,))
        return _invite(row) if row else None

    async def all(self) -> list[Invite]:
        """Every invite, oldest first: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM invites ORDER BY created_at, code")
        return [_invite(r) for r in rows]

    async def claim(self, code: str, member_id: int, now: datetime) -> bool:
        """Mark the invite used; the conditional update makes exactly one racer win."""
        changed = await self.db.execute(
            "UPDATE invites SET used_by = ?, used_at = ? "
            "WHERE code = ? AND used_by IS NULL AND expires_at > ?",
            (member_id, to_db_time(now), code, to_db_time(now)),
        )
        return changed == 1
