"""Initiatives, the supports they gather, and authors waiting for a technician gardener."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, to_db_time

Status = Literal["pending", "changes", "declined", "published"]
SupportKind = Literal["support", "participate"]


class Initiative(BaseModel):
    id: int
    author_id: int | None
    title: str
    description: str
    theme: str
    territory: str
    needs: list[str]
    status: Status
    stage: str | None
    proposed_stage: str | None
    moderator_id: int | None
    moderation_message: str | None
    submitted_at: datetime
    published_at: datetime | None
    supporters: int = 0
    participants: int = 0


class NewSupports(BaseModel):
    """Supports an author has not heard about yet, for one initiative."""

    initiative_id: int
    author_id: int
    title: str
    supporters: int
    participants: int


_COLUMNS = (
    "i.id, i.author_id, i.title, i.description, i.theme, i.territory, i.needs, i.status, "
    "i.stage, i.proposed_stage, i.moderator_id, i.moderation_message, i.submitted_at, "
    "i.published_at, "
    "i.erased_supporters + (SELECT COUNT(*) FROM initiative_supports s "
    "WHERE s.initiative_id = i.id AND s.kind = 'support') AS supporters, "
    "i.erased_participants + (SELECT COUNT(*) FROM initiative_supports s "
    "WHERE s.initiative_id = i.id AND s.kind = 'participate') AS participants"
)


def _initiative(row: Row) -> Initiative:
    return Initiative(
        id=row["id"],
        author_id=row["author_id"],
        title=row["title"],
        description=row["description"],
        theme=row["theme"],
        territory=row["territory"],
        needs=json.loads(row["needs"]),
        status=row["status"],
        stage=row["stage"],
        proposed_stage=row["proposed_stage"],
        moderator_id=row["moderator_id"],
        moderation_message=row["moderation_message"],
        submitted_at=from_db_time(row["submitted_at"]),
        published_at=from_db_time(row["published_at"]),
        supporters=row["supporters"],
        participants=row["participants"],
    )


class InitiativeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- proposals -----------------------------------------------------------------------

    async def create(
        self,
        *,
        author_id: int,
        title: str,
        description: str,
        theme: str,
        territory: str,
        needs: Sequence[str],
        now: datetime,
    ) -> int:
        stamp = to_db_time(now)
        return await self.db.execute_returning_id(
            "INSERT INTO initiatives (author_id, title, description, theme, territory, needs, "
            "submitted_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                author_id,
                title,
                description,
                theme,
                territory,
                json.dumps(list(needs)),
                stamp,
                stamp,
            ),
        )

    async def resubmit(
        self,
        initiative_id: int,
        author_id: int,
        *,
        title: str,
        description: str,
        theme: str,
        territory: str,
        needs: Sequence[str],
        now: datetime,
    ) -> bool:
        """Back to the queue after changes were asked; only from the 'changes' status."""
        changed = await self.db.execute(
            "UPDATE initiatives SET title = ?, description = ?, theme = ?, territory = ?, "
            "needs = ?, status = 'pending', submitted_at = ?, announced_at = NULL "
            "WHERE id = ? AND author_id = ? AND status = 'changes'",
            (
                title,
                description,
                theme,
                territory,
                json.dumps(list(needs)),
                to_db_time(now),
                initiative_id,
                author_id,
            ),
        )
        return changed == 1

    async def get(self, initiative_id: int) -> Initiative | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM initiatives i WHERE i.id = ?", (initiative_id,)
        )
        return _initiative(row) if row else None

    async def all(self) -> list[Initiative]:
        """Every initiative, oldest first: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM initiatives i ORDER BY i.id")
        return [_initiative(r) for r in rows]

    async def count_pending(self, author_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM initiatives WHERE author_id = ? AND status = 'pending'",
            (author_id,),
        )
        return int(row["n"]) if row else 0

    async def by_author(self, author_id: int) -> list[Initiative]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM initiatives i WHERE i.author_id = ? ORDER BY i.id DESC",
            (author_id,),
        )
        return [_initiative(r) for r in rows]

    async def pending(self) -> list[Initiative]:
        """The moderation queue, oldest first."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM initiatives i WHERE i.status = 'pending' "
            "ORDER BY i.submitted_at, i.id"
        )
        return [_initiative(r) for r in rows]

    # --- moderation ----------------------------------------------------------------------

    async def decide(
        self,
        initiative_id: int,
        status: Status,
        moderator_id: int,
        message: str | None,
        now: datetime,
    ) -> bool:
        """The first decision wins: only a proposal still pending changes."""
        stamp = to_db_time(now)
        published = status == "published"
        changed = await self.db.execute(
            "UPDATE initiatives SET status = ?, moderator_id = ?, moderation_message = ?, "
            "moderated_at = ?, stage = CASE WHEN ? THEN 'emergence' ELSE stage END, "
            "published_at = CASE WHEN ? THEN ? ELSE published_at END, "
            "stage_changed_at = CASE WHEN ? THEN ? ELSE stage_changed_at END "
            "WHERE id = ? AND status = 'pending'",
            (
                status,
                moderator_id,
                message,
                stamp,
                published,
                published,
                stamp,
                published,
                stamp,
                initiative_id,
            ),
        )
        return changed == 1

    async def unannounced(self) -> list[Initiative]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM initiatives i WHERE i.status = 'pending' "
            "AND i.announced_at IS NULL ORDER BY i.submitted_at, i.id"
        )
        return [_initiative(r) for r in rows]

    async def last_announced_at(self) -> datetime | None:
        row = await self.db.fetch_one("SELECT MAX(announced_at) AS last FROM initiatives")
        return from_db_time(row["last"]) if row else None

    async def mark_announced(self, ids: Sequence[int], now: datetime) -> None:
        await self.db.executemany(
            "UPDATE initiatives SET announced_at = ? WHERE id = ?",
            [(to_db_time(now), i) for i in ids],
        )

    # --- browsing ------------------------------------------------------------------------

    async def published(
        self, territory: str | None, theme: str | None, offset: int, limit: int
    ) -> tuple[list[Initiative], int]:
        where = "i.status = 'published' AND i.stage != 'abandonnee'"
        params: list[object] = []
        if territory is not None:
            where += " AND i.territory = ?"
            params.append(territory)
        if theme is not None:
            where += " AND i.theme = ?"
            params.append(theme)
        total = await self.db.fetch_one(
            f"SELECT COUNT(*) AS n FROM initiatives i WHERE {where}", params
        )
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM initiatives i WHERE {where} "
            "ORDER BY i.published_at DESC, i.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_initiative(r) for r in rows], int(total["n"]) if total else 0

    # --- supports ------------------------------------------------------------------------

    async def supports_of(self, initiative_id: int, member_id: int) -> set[str]:
        rows = await self.db.fetch_all(
            "SELECT kind FROM initiative_supports WHERE initiative_id = ? AND member_id = ?",
            (initiative_id, member_id),
        )
        return {r["kind"] for r in rows}

    async def supports(self) -> list[tuple[int, int, SupportKind]]:
        """(initiative id, member id, kind) of every support, in a stable order."""
        rows = await self.db.fetch_all(
            "SELECT initiative_id, member_id, kind FROM initiative_supports "
            "ORDER BY initiative_id, member_id, kind"
        )
        return [(int(r["initiative_id"]), int(r["member_id"]), r["kind"]) for r in rows]

    async def add_support(
        self, initiative_id: int, member_id: int, kind: SupportKind, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO initiative_supports (initiative_id, member_id, kind, "
            "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (initiative_id, member_id, kind, to_db_time(now)),
        )

    async def remove_support(self, initiative_id: int, member_id: int, kind: SupportKind) -> None:
        await self.db.execute(
            "DELETE FROM initiative_supports WHERE initiative_id = ? AND member_id = ? "
            "AND kind = ?",
            (initiative_id, member_id, kind),
        )

    async def participants(self, initiative_id: int) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT member_id FROM initiative_supports WHERE initiative_id = ? "
            "AND kind = 'participate' ORDER BY created_at",
            (initiative_id,),
        )
        return [r["member_id"] for r in rows]

    async def digests_due(self, before: datetime) -> list[NewSupports]:
        """Initiatives with supports not yet told, whose last digest is older than `before`."""
        rows = await self.db.fetch_all(
            "SELECT i.id, i.author_id, i.title, "
            "COUNT(*) FILTER (WHERE s.kind = 'support') AS supporters, "
            "COUNT(*) FILTER (WHERE s.kind = 'participate') AS participants "
            "FROM initiative_supports s JOIN initiatives i ON i.id = s.initiative_id "
            "WHERE NOT s.notified AND i.author_id IS NOT NULL "
            "AND (i.digest_at IS NULL OR i.digest_at <= ?) "
            "GROUP BY i.id ORDER BY i.id",
            (to_db_time(before),),
        )
        return [
            NewSupports(
                initiative_id=r["id"],
                author_id=r["author_id"],
                title=r["title"],
                supporters=int(r["supporters"] or 0),
                participants=int(r["participants"] or 0),
            )
            for r in rows
        ]

    async def mark_digested(self, initiative_ids: Sequence[int], now: datetime) -> None:
        await self.db.executemany(
            "UPDATE initiative_supports SET notified = TRUE "
            "WHERE initiative_id = ? AND NOT notified",
            [(i,) for i in initiative_ids],
        )
        await self.db.executemany(
            "UPDATE initiatives SET digest_at = ? WHERE id = ?",
            [(to_db_time(now), i) for i in initiative_ids],
        )

    # --- stages --------------------------------------------------------------------------

    async def set_stage(self, initiative_id: int, current: str, stage: str, now: datetime) -> bool:
        """Conditional on the stage the deciding person saw: a stale press changes nothing."""
        changed = await self.db.execute(
            "UPDATE initiatives SET stage = ?, proposed_stage = NULL, stage_changed_at = ? "
            "WHERE id = ? AND status = 'published' AND stage = ?",
            (stage, to_db_time(now), initiative_id, current),
        )
        return changed == 1

    async def set_proposed_stage(self, initiative_id: int, stage: str | None) -> None:
        await self.db.execute(
            "UPDATE initiatives SET proposed_stage = ? WHERE id = ?", (stage, initiative_id)
        )

    # --- gardener requests ---------------------------------------------------------------

    async def request_gardener(self, member_id: int, initiative_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "INSERT INTO gardener_requests (member_id, initiative_id, requested_at) "
            "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (member_id, initiative_id, to_db_time(now)),
        )
        return changed == 1

    async def gardener_requests(self) -> list[tuple[int, int]]:
        """(member id, initiative id) of every request for a technician gardener."""
        rows = await self.db.fetch_all(
            "SELECT member_id, initiative_id FROM gardener_requests "
            "ORDER BY requested_at, member_id"
        )
        return [(int(r["member_id"]), int(r["initiative_id"])) for r in rows]

    async def gardener_requested(self, initiative_id: int) -> bool:
        row = await self.db.fetch_one(
            "SELECT 1 FROM gardener_requests WHERE initiative_id = ?", (initiative_id,)
        )
        return row is not None
