"""Signalements: reports of a need or of a person under the radar, and their follow-up.

State changes are conditional UPDATEs (`WHERE status IN (...)`), so when two coordinators act
on one report at once the first wins and the second learns it from the returned count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time

Kind = Literal["isolated", "need", "other"]
Status = Literal["new", "taken", "waiting", "call", "resolved", "closed"]
KINDS: tuple[Kind, ...] = ("isolated", "need", "other")
STATUSES: tuple[Status, ...] = ("new", "taken", "waiting", "call", "resolved", "closed")
OPEN_STATUSES: tuple[Status, ...] = ("new", "taken", "waiting", "call")
FINAL_STATUSES: tuple[Status, ...] = ("resolved", "closed")


class Report(BaseModel):
    id: int
    reporter_id: int | None
    reporter_left: bool
    kind: Kind
    urgent: bool
    territory: str
    description: str | None
    latitude: float | None
    longitude: float | None
    photo: str | None
    status: Status
    assignee_id: int | None
    call_id: int | None
    close_reason: str | None
    created_at: datetime
    first_response_at: datetime | None
    touched_at: datetime
    closed_at: datetime | None
    erased_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ReportMessage(BaseModel):
    from_reporter: bool
    author_id: int | None
    text: str
    created_at: datetime


class NewReport(BaseModel):
    reporter_id: int
    kind: Kind
    urgent: bool
    territory: str
    description: str
    latitude: float | None = None
    longitude: float | None = None
    photo: str | None = None


COLUMNS = (
    "id, reporter_id, reporter_left, kind, urgent, territory, description, latitude, "
    "longitude, photo, status, assignee_id, call_id, close_reason, created_at, "
    "first_response_at, touched_at, closed_at, erased_at"
)


def timestamp(value: str) -> datetime:
    found = from_db_time(value)
    if found is None:
        raise ValueError("missing timestamp")
    return found


def as_report(row: Row) -> Report:
    return Report(
        id=row["id"],
        reporter_id=row["reporter_id"],
        reporter_left=bool(row["reporter_left"]),
        kind=row["kind"],
        urgent=bool(row["urgent"]),
        territory=row["territory"],
        description=row["description"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        photo=row["photo"],
        status=row["status"],
        assignee_id=row["assignee_id"],
        call_id=row["call_id"],
        close_reason=row["close_reason"],
        created_at=timestamp(row["created_at"]),
        first_response_at=from_db_time(row["first_response_at"]),
        touched_at=timestamp(row["touched_at"]),
        closed_at=from_db_time(row["closed_at"]),
        erased_at=from_db_time(row["erased_at"]),
    )


def marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


# /export: the follow-up of reports as counts and dates; never their description, location or
# photo (data about a third person: an export would be a copy no erasure can reach).
REPORT_EXPORT: tuple[tuple[str, ...], str] = (
    (
        "numero",
        "type",
        "urgent",
        "territoire",
        "etat",
        "envoye",
        "premiere_reponse",
        "clos",
        "contenu_efface",
    ),
    "SELECT id, kind, urgent, territory, status, created_at, first_response_at, closed_at, "
    "erased_at FROM reports ORDER BY id",
)


class ReportRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the report itself ---------------------------------------------------------------

    async def create(self, new: NewReport, now: datetime) -> int:
        stamp = now
        return await self.db.execute_returning_id(
            "INSERT INTO reports (reporter_id, kind, urgent, territory, description, latitude, "
            "longitude, photo, created_at, touched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.reporter_id,
                new.kind,
                new.urgent,
                new.territory,
                new.description,
                new.latitude,
                new.longitude,
                new.photo,
                stamp,
                stamp,
            ),
        )

    async def get(self, report_id: int) -> Report | None:
        row = await self.db.fetch_one(f"SELECT {COLUMNS} FROM reports WHERE id = ?", (report_id,))
        return as_report(row) if row else None

    async def of_reporter(self, reporter_id: int, limit: int) -> list[Report]:
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE reporter_id = ? ORDER BY id DESC LIMIT ?",
            (reporter_id, limit),
        )
        return [as_report(r) for r in rows]

    async def queue(
        self,
        status: Status,
        territory: str | None,
        kind: Kind | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Report], int]:
        """One state of the queue, oldest first, optionally for one territory or kind."""
        where = ["status = ?"]
        params: list[object] = [status]
        if territory is not None:
            where.append("territory = ?")
            params.append(territory)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        clause = " AND ".join(where)
        total_row = await self.db.fetch_one(
            f"SELECT COUNT(*) AS n FROM reports WHERE {clause}", params
        )
        rows = await self.db.fetch_all(
            f"SELECT {COLUMNS} FROM reports WHERE {clause} ORDER BY created_at, id "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [as_report(r) for r in rows], int(total_row["n"]) if total_row else 0

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.db.fetch_all("SELECT status, COUNT(*) AS n FROM reports GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    async def change(
        self,
        report_id: int,
        from_statuses: Sequence[Status],
        to_status: Status,
        now: datetime,
        *,
        assignee_id: int | None = None,
        reason: str | None = None,
    ) -> bool:
        """Move a report on if it is still in one of `from_statuses`; first press wins."""
        closing = ", closed_at = ?" if to_status in FINAL_STATUSES else ""
        changed = await self.db.execute(
            "UPDATE reports SET status = ?, touched_at = ?, "
            "first_response_at = COALESCE(first_response_at, ?), "
            "assignee_id = COALESCE(?, assignee_id), "
            f"close_reason = COALESCE(?, close_reason){closing} "
            f"WHERE id = ? AND status IN ({marks(len(from_statuses))})",
            (
                to_status,
                now,
                now,
                assignee_id,
                reason,
                *((now,) if closing else ()),
                report_id,
                *from_statuses,
            ),
        )
        return changed == 1

    async def link_call(self, report_id: int, call_id: int, now: datetime) -> bool:
        stamp = now
        changed = await self.db.execute(
            "UPDATE reports SET status = 'call', call_id = ?, touched_at = ?, "
            "first_response_at = COALESCE(first_response_at, ?) "
            "WHERE id = ? AND status IN ('new', 'taken', 'waiting')",
            (call_id, stamp, stamp, report_id),
        )
        return changed == 1

    async def touch(self, report_id: int, now: datetime) -> None:
        stamp = now
        await self.db.execute(
            "UPDATE reports SET touched_at = ?, reminded_at = NULL, "
            "first_response_at = COALESCE(first_response_at, ?) WHERE id = ?",
            (stamp, stamp, report_id),
        )

    # --- messages between a coordinator and the reporter --------------------------------

    async def add_message(
        self, report_id: int, from_reporter: bool, author_id: int, text: str, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO report_messages (report_id, from_reporter, author_id, text, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (report_id, from_reporter, author_id, text, now),
        )

    async def messages(self, report_id: int) -> list[ReportMessage]:
        rows = await self.db.fetch_all(
            "SELECT from_reporter, author_id, text, created_at FROM report_messages "
            "WHERE report_id = ? ORDER BY id",
            (report_id,),
        )
        return [
            ReportMessage(
                from_reporter=bool(r["from_reporter"]),
                author_id=r["author_id"],
                text=r["text"],
                created_at=timestamp(r["created_at"]),
            )
            for r in rows
        ]
