"""Who receives a broadcast: the audience query (recipients and their exact count) and the
recipients table that remembers, per broadcast, who it was sent to and their copy's message.

Every broadcast (a call for help, a consultation) selects its members here and records them
in `broadcast_recipients` when it is queued; answers and counts read that table, never the
outbox, so delivered outbox rows can be pruned without changing either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from storage.db import Database, to_db_time

Role = Literal["ambassador", "citizen_gardener", "technician"]
ROLES: tuple[Role, ...] = ("ambassador", "citizen_gardener", "technician")
_ROLE_COLUMNS: dict[str, str] = {
    "ambassador": "is_ambassador",
    "citizen_gardener": "is_citizen_gardener",
    "technician": "is_technician",
}
RecipientStatus = Literal["queued", "sent", "failed", "blocked", "dropped"]


class Audience(BaseModel):
    """Empty lists mean everyone: every territory, every theme, every role. Members match
    when they live in one of the territories, follow one of the themes, and hold one of the
    roles."""

    territories: list[str] = Field(default_factory=list)
    themes: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)


class Recipient(BaseModel):
    telegram_id: int
    language: str
    territory: str | None
    is_ambassador: bool
    referral_code: str


def _audience_sql(audience: Audience, exclude: int) -> tuple[str, list[object]]:
    """Active (not paused, not blocked), onboarded members matching the audience."""
    sql = (
        "SELECT m.telegram_id, m.language, m.territory, m.is_ambassador, m.referral_code "
        "FROM members m WHERE m.status = 'active' AND m.onboarded_at IS NOT NULL "
        "AND m.telegram_id != ?"
    )
    params: list[object] = [exclude]
    if audience.territories:
        sql += f" AND m.territory IN ({','.join('?' * len(audience.territories))})"
        params.extend(audience.territories)
    if audience.themes:
        sql += (
            " AND EXISTS (SELECT 1 FROM member_themes t WHERE t.member_id = m.telegram_id "
            f"AND t.theme IN ({','.join('?' * len(audience.themes))}))"
        )
        params.extend(audience.themes)
    roles = [_ROLE_COLUMNS[r] for r in ROLES if r in audience.roles]
    if roles:
        sql += " AND (" + " OR ".join(f"m.{column} = ?" for column in roles) + ")"
        params.extend([True] * len(roles))
    return sql, params


class AudienceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def members(self, audience: Audience, exclude: int = 0) -> list[Recipient]:
        """The recipients, in a stable order; `exclude` is the sender (who gets a summary)."""
        sql, params = _audience_sql(audience, exclude)
        rows = await self.db.fetch_all(sql + " ORDER BY m.telegram_id", params)
        # Built without validation: the columns already have the types (100,000 rows for a
        # call to a big territory).
        return [
            Recipient.model_construct(
                telegram_id=r["telegram_id"],
                language=r["language"],
                territory=r["territory"],
                is_ambassador=bool(r["is_ambassador"]),
                referral_code=r["referral_code"],
            )
            for r in rows
        ]

    async def count(self, audience: Audience, exclude: int = 0) -> int:
        """Exactly how many `members` would return now (the previews' count)."""
        sql, params = _audience_sql(audience, exclude)
        row = await self.db.fetch_one(f"SELECT COUNT(*) AS n FROM ({sql}) AS a", params)
        return int(row["n"]) if row else 0


class RecipientRepository:
    """`broadcast_recipients`: one row per member a broadcast (kind, id) was queued for."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, kind: str, broadcast_id: int, member_ids: Sequence[int], now: datetime
    ) -> None:
        stamp = to_db_time(now)
        await self.db.executemany(
            "INSERT INTO broadcast_recipients (kind, broadcast_id, member_id, queued_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (kind, broadcast_id, member_id) DO NOTHING",
            [(kind, broadcast_id, m, stamp) for m in member_ids],
        )

    async def record(
        self,
        rows: Sequence[tuple[RecipientStatus, int | None, str, int, int]],
        now: datetime,
    ) -> None:
        """(status, message id, kind, broadcast id, member id): the outcome of each copy."""
        if not rows:
            return
        stamp = to_db_time(now)
        await self.db.executemany(
            "UPDATE broadcast_recipients SET status = ?, message_id = COALESCE(?, message_id), "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END "
            "WHERE kind = ? AND broadcast_id = ? AND member_id = ?",
            [(s, mid, s, stamp, kind, b, m) for s, mid, kind, b, m in rows],
        )

    async def drop_queued(self, kind: str, broadcast_id: int) -> int:
        """Copies not sent yet when a broadcast ends (their outbox rows are dropped too)."""
        return await self.db.execute(
            "UPDATE broadcast_recipients SET status = 'dropped' "
            "WHERE kind = ? AND broadcast_id = ? AND status = 'queued'",
            (kind, broadcast_id),
        )

    async def was_sent_to(self, kind: str, broadcast_id: int, member_id: int) -> bool:
        row = await self.db.fetch_one(
            "SELECT 1 FROM broadcast_recipients WHERE kind = ? AND broadcast_id = ? "
            "AND member_id = ?",
            (kind, broadcast_id, member_id),
        )
        return row is not None

    async def message_id(self, kind: str, broadcast_id: int, member_id: int) -> int | None:
        row = await self.db.fetch_one(
            "SELECT message_id FROM broadcast_recipients WHERE kind = ? AND broadcast_id = ? "
            "AND member_id = ?",
            (kind, broadcast_id, member_id),
        )
        return int(row["message_id"]) if row and row["message_id"] is not None else None

    async def counts(self, kind: str, broadcast_id: int) -> dict[str, int]:
        rows = await self.db.fetch_all(
            "SELECT status, COUNT(*) AS n FROM broadcast_recipients "
            "WHERE kind = ? AND broadcast_id = ? GROUP BY status",
            (kind, broadcast_id),
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def reached(
        self, kind: str, broadcast_id: int, statuses: Sequence[RecipientStatus] = ("sent",)
    ) -> list[int]:
        """Members whose copy has one of `statuses` (by default: delivered)."""
        rows = await self.db.fetch_all(
            "SELECT member_id FROM broadcast_recipients WHERE kind = ? AND broadcast_id = ? "
            f"AND status IN ({','.join('?' * len(statuses))}) ORDER BY member_id",
            (kind, broadcast_id, *statuses),
        )
        return [int(r["member_id"]) for r in rows]
