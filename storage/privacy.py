"""Where a member's personal data lives, to give it back (/mesdonnees) or erase it (/oublier).

Each table that refers to a member is listed once here with what erasure does to it:
`delete` the rows, or `anonymise` them (the member's id replaced by a random negative id that
links to nobody), so that counts and aggregates stay correct after the person is gone.
A test scans every table after an erasure, so a table forgotten here is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from storage.db import Database, Row, to_db_time

Action = Literal["delete", "anonymise", "keep"]


@dataclass(frozen=True)
class MemberColumn:
    table: str
    column: str
    action: Action
    # Extra SQL condition for rows to delete rather than anonymise, e.g. unpublished drafts.
    delete_where: str | None = None


# Order matters for foreign keys: children before parents, `members` last.
MEMBER_COLUMNS: list[MemberColumn] = [
    MemberColumn("consent_refusals", "telegram_id", "delete"),
    MemberColumn("conversations", "member_id", "delete"),
    MemberColumn("member_themes", "member_id", "delete"),
    MemberColumn("technician_territories", "member_id", "delete"),
    MemberColumn("technician_profiles", "member_id", "delete"),
    MemberColumn("invites", "used_by", "anonymise"),
    MemberColumn("invites", "created_by", "anonymise"),
    MemberColumn("audit_log", "actor_id", "anonymise"),
    MemberColumn("deliveries", "chat_id", "anonymise"),
    MemberColumn("call_answers", "member_id", "delete"),
    MemberColumn("calls", "coordinator_id", "anonymise"),
    MemberColumn("initiative_supports", "member_id", "delete"),
    MemberColumn("gardener_requests", "member_id", "delete"),
    MemberColumn("initiatives", "author_id", "keep"),
    MemberColumn("pair_checkin_answers", "member_id", "delete"),
    MemberColumn("pair_proposals", "citizen_id", "delete"),
    MemberColumn("pair_proposals", "technician_id", "delete"),
    MemberColumn("pairs", "citizen_id", "delete"),
    MemberColumn("pairs", "technician_id", "delete"),
    # Signalements stay workable (and counted) without their reporter; see ReportService.
    MemberColumn("report_messages", "author_id", "anonymise"),
    MemberColumn("reports", "reporter_id", "anonymise"),
    MemberColumn("reports", "assignee_id", "anonymise"),
    MemberColumn("quiet_hours", "member_id", "delete"),
]

# Run before the list above, each with the member's id as its only parameter: what a
# generic delete or anonymise cannot say.
PRE_ERASE_SQL: list[str] = [
    "UPDATE calls SET erased_answers = erased_answers + 1 WHERE id IN "
    "(SELECT call_id FROM call_answers WHERE member_id = ?)",
    # Supports stay counted without pointing to the person.
    "UPDATE initiatives SET erased_supporters = erased_supporters + 1 WHERE id IN "
    "(SELECT initiative_id FROM initiative_supports WHERE member_id = ? AND kind = 'support')",
    "UPDATE initiatives SET erased_participants = erased_participants + 1 WHERE id IN "
    "(SELECT initiative_id FROM initiative_supports WHERE member_id = ? "
    "AND kind = 'participate')",
    # Published initiatives stay, without their author (members' FK sets author_id NULL);
    # drafts, pending and declined proposals go.
    "DELETE FROM initiatives WHERE author_id = ? AND status != 'published'",
    "UPDATE initiatives SET moderator_id = NULL WHERE moderator_id = ?",
]

# What /mesdonnees adds beyond the rows that name the member directly.
EXTRA_EXPORTS: dict[str, str] = {
    "pair_checkins": "SELECT c.* FROM pair_checkins c JOIN pairs p ON p.id = c.pair_id "
    "WHERE p.citizen_id = ?1 OR p.technician_id = ?1 ORDER BY c.id",
}


class PrivacyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tables(self) -> set[str]:
        rows = await self.db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        return {r["name"] for r in rows}

    async def columns(self, table: str) -> list[str]:
        rows = await self.db.fetch_all(f"PRAGMA table_info({_ident(table)})")
        return [r["name"] for r in rows]

    async def rows_of(self, table: str, column: str, member_id: int) -> list[dict[str, Any]]:
        rows = await self.db.fetch_all(
            f"SELECT * FROM {_ident(table)} WHERE {_ident(column)} = ?", (member_id,)
        )
        return [_plain(r) for r in rows]

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table, whole: what an auditor checking for personal data reads."""
        return [dict(r) for r in await self.db.fetch_all(f"SELECT * FROM {_ident(table)}")]

    async def erase_column(self, spec: MemberColumn, member_id: int, anon_id: int) -> None:
        table, column = _ident(spec.table), _ident(spec.column)
        if spec.action == "delete":
            await self.db.execute(f"DELETE FROM {table} WHERE {column} = ?", (member_id,))
            return
        if spec.action == "anonymise":
            if spec.delete_where:
                await self.db.execute(
                    f"DELETE FROM {table} WHERE {column} = ? AND ({spec.delete_where})",
                    (member_id,),
                )
            await self.db.execute(
                f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (anon_id, member_id)
            )

    async def pre_erase(self, member_id: int) -> None:
        for sql in PRE_ERASE_SQL:
            await self.db.execute(sql, (member_id,))

    async def extra_exports(self, member_id: int) -> dict[str, list[dict[str, Any]]]:
        found = {}
        for name, sql in EXTRA_EXPORTS.items():
            rows = await self.db.fetch_all(sql, (member_id,))
            if rows:
                found[name] = [_plain(r) for r in rows]
        return found

    async def blank_sent_payloads(self, chat_id: int) -> None:
        await self.db.execute(
            'UPDATE deliveries SET payload = \'{"text":""}\', last_error = NULL WHERE chat_id = ?',
            (chat_id,),
        )

    async def delete_member(self, member_id: int) -> None:
        await self.db.execute(
            "UPDATE members SET referred_by = NULL WHERE referred_by = ?", (member_id,)
        )
        await self.db.execute("DELETE FROM members WHERE telegram_id = ?", (member_id,))

    async def inactive_since(self, cutoff: str, limit: int = 500) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT telegram_id FROM members WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?",
            (cutoff, limit),
        )
        return [r["telegram_id"] for r in rows]


def _plain(row: Row) -> dict[str, Any]:
    """A row as JSON-ready values: instants in the stored text form, whatever the backend."""
    return {k: to_db_time(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _ident(name: str) -> str:
    """Table and column names come from the list above, never from input; still, check."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad identifier {name!r}")
    return f'"{name}"'
