"""Gardener pairs themselves: who is paired with whom, their health and schedule.

The matcher's proposals are in `storage.pair_matching`, check-ins in `storage.pair_checkins`;
`PairRepository` offers all three to the pairs service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Row, from_db_time
from storage.pair_checkins import Answer, AnswerCode, Checkin, CheckinKind, CheckinRepository
from storage.pair_matching import (
    CitizenRow,
    MatchingRepository,
    ProposalRow,
    ProposalStatus,
    TechnicianRow,
)

__all__ = [
    "Answer",
    "AnswerCode",
    "Checkin",
    "CheckinKind",
    "CitizenRow",
    "ProposalRow",
    "ProposalStatus",
    "TechnicianRow",
]

PairStatus = Literal["active", "ended"]
Health = Literal["on_track", "needs_help", "blocked", "silent", "waiting"]
EndReason = Literal["ended", "repair", "left"]


class Pair(BaseModel):
    id: int
    citizen_id: int
    technician_id: int
    initiative_id: int | None
    status: PairStatus
    health: Health
    interval_days: int
    next_due_at: datetime | None
    silent_rounds: int
    created_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None


# A pair nobody has answered yet is not "on track": it is waiting for its first news. The
# stored health stays 'on_track' (its CHECK); "waiting" is read, never written.
HEALTH_SQL = (
    "CASE WHEN health = 'on_track' AND NOT EXISTS (SELECT 1 FROM pair_checkins c "
    "JOIN pair_checkin_answers a ON a.checkin_id = c.id WHERE c.pair_id = pairs.id) "
    "THEN 'waiting' ELSE health END"
)

_PAIR = (
    f"id, citizen_id, technician_id, initiative_id, status, {HEALTH_SQL} AS health, "
    "interval_days, next_due_at, silent_rounds, created_at, ended_at, end_reason"
)


DUE_SQL = (
    f"SELECT {_PAIR} FROM pairs WHERE status = 'active' AND next_due_at <= ? "
    "ORDER BY next_due_at LIMIT ?"
)
"""The check-in sweeper's query; it must use the partial index `pairs_due`."""


def _pair(row: Row) -> Pair:
    return Pair(
        id=row["id"],
        citizen_id=row["citizen_id"],
        technician_id=row["technician_id"],
        initiative_id=row["initiative_id"],
        status=row["status"],
        health=row["health"],
        interval_days=row["interval_days"],
        next_due_at=from_db_time(row["next_due_at"]),
        silent_rounds=row["silent_rounds"],
        created_at=from_db_time(row["created_at"]),
        ended_at=from_db_time(row["ended_at"]),
        end_reason=row["end_reason"],
    )


class PairRepository(MatchingRepository, CheckinRepository):
    # --- pairs -------------------------------------------------------------------------

    async def create(
        self,
        *,
        citizen_id: int,
        technician_id: int,
        initiative_id: int | None,
        interval_days: int,
        next_due_at: datetime,
        created_by: int | None,
        now: datetime,
    ) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO pairs (citizen_id, technician_id, initiative_id, interval_days, "
            "next_due_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                citizen_id,
                technician_id,
                initiative_id,
                interval_days,
                next_due_at,
                created_by,
                now,
            ),
        )

    async def get(self, pair_id: int) -> Pair | None:
        row = await self.db.fetch_one(f"SELECT {_PAIR} FROM pairs WHERE id = ?", (pair_id,))
        return _pair(row) if row else None

    async def all(self) -> list[Pair]:
        """Every pair, active or ended, oldest first: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(f"SELECT {_PAIR} FROM pairs ORDER BY id")
        return [_pair(r) for r in rows]

    async def active_of(self, member_id: int) -> list[Pair]:
        rows = await self.db.fetch_all(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' "
            "AND (citizen_id = ? OR technician_id = ?) ORDER BY id",
            (member_id, member_id),
        )
        return [_pair(r) for r in rows]

    async def requested_initiative(self, citizen_id: int) -> int | None:
        """The initiative whose author asked for a gardener when it reached consolidation."""
        row = await self.db.fetch_one(
            "SELECT initiative_id FROM gardener_requests WHERE member_id = ? "
            "ORDER BY requested_at DESC LIMIT 1",
            (citizen_id,),
        )
        return int(row["initiative_id"]) if row else None

    async def initiative_title(self, initiative_id: int) -> str | None:
        row = await self.db.fetch_one(
            "SELECT title FROM initiatives WHERE id = ?", (initiative_id,)
        )
        return str(row["title"]) if row else None

    async def active_citizen_pair(self, citizen_id: int) -> Pair | None:
        """Inside the confirming transaction, it first locks the citizen's member row: two
        confirmations for one citizen at once run one after the other, the second sees the
        first one's pair."""
        await self.db.fetch_one(
            "SELECT 1 FROM members WHERE telegram_id = ? FOR UPDATE", (citizen_id,)
        )
        row = await self.db.fetch_one(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' AND citizen_id = ?",
            (citizen_id,),
        )
        return _pair(row) if row else None

    async def active(self, limit: int) -> list[Pair]:
        """Active pairs, those needing attention first."""
        rows = await self.db.fetch_all(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' ORDER BY "
            "CASE health WHEN 'blocked' THEN 0 WHEN 'needs_help' THEN 1 WHEN 'silent' THEN 2 "
            "ELSE 3 END, id LIMIT ?",
            (limit,),
        )
        return [_pair(r) for r in rows]

    async def health_counts(self) -> dict[str, int]:
        rows = await self.db.fetch_all(
            f"SELECT {HEALTH_SQL} AS health, COUNT(*) AS n FROM pairs WHERE status = 'active' "
            "GROUP BY 1"
        )
        return {r["health"]: int(r["n"]) for r in rows}

    async def due(self, now: datetime, limit: int) -> list[Pair]:
        """Active pairs whose check-in is due (the pairs_due partial index)."""
        rows = await self.db.fetch_all(DUE_SQL, (now, limit))
        return [_pair(r) for r in rows]

    async def with_blocked_technician(self) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT DISTINCT p.technician_id FROM pairs p JOIN members m "
            "ON m.telegram_id = p.technician_id WHERE p.status = 'active' AND m.status = 'blocked'"
        )
        return [r["technician_id"] for r in rows]

    async def set_schedule(
        self, pair_id: int, next_due_at: datetime, interval_days: int | None = None
    ) -> None:
        if interval_days is None:
            await self.db.execute(
                "UPDATE pairs SET next_due_at = ? WHERE id = ?", (next_due_at, pair_id)
            )
        else:
            await self.db.execute(
                "UPDATE pairs SET next_due_at = ?, interval_days = ? WHERE id = ?",
                (next_due_at, interval_days, pair_id),
            )

    async def set_health(self, pair_id: int, health: Health, silent_rounds: int) -> None:
        await self.db.execute(
            "UPDATE pairs SET health = ?, silent_rounds = ? WHERE id = ?",
            ("on_track" if health == "waiting" else health, silent_rounds, pair_id),
        )

    async def end(self, pair_id: int, reason: EndReason, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE pairs SET status = 'ended', ended_at = ?, end_reason = ?, next_due_at = NULL "
            "WHERE id = ? AND status = 'active'",
            (now, reason, pair_id),
        )
        return changed == 1
