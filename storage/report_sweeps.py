"""What the periodic duties of signalements ask of storage: reports due for a digest, a
reminder or an outcome; retention (content erased, the row kept as a count); coordinators'
quiet hours; the figures of /stats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from storage.db import Database, from_db_time
from storage.reports import COLUMNS, Report, as_report, marks, timestamp


class CallOutcome(BaseModel):
    """A report turned into a call whose answers are in: what to tell the reporter."""

    report_id: int
    reporter_id: int
    coming: int


class ReportCounts(BaseModel):
    by_kind: dict[str, int]
    by_territory: dict[str, int]
    by_status: dict[str, int]
    response_seconds: list[float]


class ReportSweepRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- what the sweeper finds due ------------------------------------------------------

    async def unnoticed(self, urgent: bool) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE noticed_at IS NULL AND urgent = ? ORDER BY id",
            (urgent,),
        )
        return [as_report(r) for r in rows]

    async def mark(self, column: str, report_ids: Sequence[int], now: datetime) -> None:
        if column not in (
            "noticed_at",
            "raised_at",
            "reminded_at",
            "outcome_told_at",
            "warned_at",
        ):
            raise ValueError(f"not a report mark: {column}")
        if not report_ids:
            return
        await self.db.executemany(
            f"UPDATE reports SET {column} = ? WHERE id = ?",
            [(now, report_id) for report_id in report_ids],
        )

    async def last_digest(self) -> datetime | None:
        row = await self.db.fetch_one(
            "SELECT MAX(noticed_at) AS at FROM reports WHERE NOT urgent AND noticed_at IS NOT NULL"
        )
        return from_db_time(row["at"]) if row else None

    async def still_new(self, created_before: datetime) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE status = 'new' AND raised_at IS NULL "
            "AND created_at < ? ORDER BY id",
            (created_before,),
        )
        return [as_report(r) for r in rows]

    async def untouched(self, touched_before: datetime) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE status IN ('taken', 'waiting') "
            "AND assignee_id IS NOT NULL AND reminded_at IS NULL AND touched_at < ? ORDER BY id",
            (touched_before,),
        )
        return [as_report(r) for r in rows]

    async def call_outcomes(self, now: datetime) -> list[CallOutcome]:
        """Reports turned into a call that is over (closed, cancelled or past its deadline)."""
        rows = await self.db.fetch_all(
            "SELECT r.id, r.reporter_id, "
            "(SELECT COUNT(*) FROM call_answers a WHERE a.call_id = c.id AND a.answer = 'yes') "
            "+ c.erased_yes AS coming "
            "FROM reports r JOIN calls c ON c.id = r.call_id "
            "WHERE r.status = 'call' AND r.outcome_told_at IS NULL AND NOT r.reporter_left "
            "AND r.reporter_id > 0 "
            "AND (c.status IN ('closed', 'cancelled') OR c.deadline_at < ?) ORDER BY r.id",
            (now,),
        )
        return [
            CallOutcome(report_id=r["id"], reporter_id=r["reporter_id"], coming=int(r["coming"]))
            for r in rows
        ]

    # --- privacy and retention -----------------------------------------------------------

    async def open_of_reporter(self, reporter_id: int) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE reporter_id = ? "
            "AND status IN ('new', 'taken', 'waiting', 'call') ORDER BY id",
            (reporter_id,),
        )
        return [as_report(r) for r in rows]

    async def mark_reporter_left(self, reporter_id: int) -> None:
        await self.db.execute(
            "UPDATE reports SET reporter_left = ? WHERE reporter_id = ?", (True, reporter_id)
        )

    async def erase_content(self, report_ids: Sequence[int], now: datetime) -> None:
        """Keep the report as a count: kind, territory, state and dates; nothing else."""
        if not report_ids:
            return
        stamp = now
        await self.db.executemany(
            "DELETE FROM report_messages WHERE report_id = ?", [(i,) for i in report_ids]
        )
        await self.db.executemany(
            "UPDATE reports SET description = NULL, latitude = NULL, longitude = NULL, "
            "photo = NULL, close_reason = NULL, reporter_id = NULL, assignee_id = NULL, "
            "erased_at = ? WHERE id = ?",
            [(stamp, i) for i in report_ids],
        )

    async def closed_before(self, cutoff: datetime) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT id FROM reports WHERE erased_at IS NULL AND status IN ('resolved', 'closed') "
            "AND closed_at < ? ORDER BY id",
            (cutoff,),
        )
        return [int(r["id"]) for r in rows]

    async def open_created_before(self, cutoff: datetime, *, warned: bool) -> list[Report]:
        warned_clause = "warned_at IS NOT NULL" if warned else "warned_at IS NULL"
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE erased_at IS NULL "
            f"AND status IN ('new', 'taken', 'waiting', 'call') AND {warned_clause} "
            "AND created_at < ? ORDER BY id",
            (cutoff,),
        )
        return [as_report(r) for r in rows]

    # --- coordinators' quiet hours -------------------------------------------------------

    async def quiet_hours(self, member_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        if not member_ids:
            return {}
        rows = await self.db.fetch_all(
            "SELECT member_id, start_hour, end_hour FROM quiet_hours "
            f"WHERE member_id IN ({marks(len(member_ids))})",
            tuple(member_ids),
        )
        return {int(r["member_id"]): (int(r["start_hour"]), int(r["end_hour"])) for r in rows}

    async def set_quiet_hours(self, member_id: int, hours: tuple[int, int] | None) -> None:
        if hours is None:
            await self.db.execute("DELETE FROM quiet_hours WHERE member_id = ?", (member_id,))
            return
        await self.db.execute(
            "INSERT INTO quiet_hours (member_id, start_hour, end_hour) VALUES (?, ?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET start_hour = excluded.start_hour, "
            "end_hour = excluded.end_hour",
            (member_id, hours[0], hours[1]),
        )

    # --- figures -------------------------------------------------------------------------

    async def counts(self) -> ReportCounts:
        async def grouped(column: str) -> dict[str, int]:
            rows = await self.db.fetch_all(
                f"SELECT {column} AS k, COUNT(*) AS n FROM reports GROUP BY {column} ORDER BY k"
            )
            return {str(r["k"]): int(r["n"]) for r in rows}

        rows = await self.db.fetch_all(
            "SELECT created_at, first_response_at FROM reports WHERE first_response_at IS NOT NULL"
        )
        return ReportCounts(
            by_kind=await grouped("kind"),
            by_territory=await grouped("territory"),
            by_status=await grouped("status"),
            response_seconds=[
                (timestamp(r["first_response_at"]) - timestamp(r["created_at"])).total_seconds()
                for r in rows
            ],
        )
