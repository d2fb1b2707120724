"""Where a member's personal data lives, to give it back (/mesdonnees) or erase it (/oublier).

Each table that refers to a member is listed once here with what erasure does to it:
`delete` the rows, or `anonymise` them (the member's id replaced by a random negative id that
links to nobody), so that counts and aggregates stay correct after the person is gone.
A test scans every table after an erasure, so a table forgotten here is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from storage.db import Database

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
]


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
        return [dict(r) for r in rows]

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


def _ident(name: str) -> str:
    """Table and column names come from the list above, never from input; still, check."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad identifier {name!r}")
    return f'"{name}"'
