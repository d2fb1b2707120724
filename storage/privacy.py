"""SQL that applies the privacy model (storage/privacy_model.py) to one member's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database, Row, to_db_time
from storage.privacy_model import BY_NAME, TABLES, Link, Table


class PrivacyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def undeclared(self) -> list[str]:
        """Tables of the schema with no entry in the privacy model (there must be none)."""
        return [name for name in await self.db.table_names() if name not in BY_NAME]

    async def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table, whole: what an auditor checking for personal data reads."""
        return [dict(r) for r in await self.db.fetch_all(f"SELECT * FROM {_ident(table)}")]

    async def member_rows(self, member_id: int) -> dict[str, list[dict[str, Any]]]:
        """The rows that point to the member, as `table.column` (or `table`) -> rows."""
        found: dict[str, list[dict[str, Any]]] = {}
        for table in TABLES:
            for link in (link for link in table.links if link.given_back):
                rows = await self.db.fetch_all(
                    f"SELECT * FROM {_ident(table.name)} WHERE {_ident(link.column)} = ?",
                    (member_id,),
                )
                if rows:
                    found[f"{table.name}.{link.column}"] = [_plain(r) for r in rows]
            if table.reached_by is not None:
                rows = await self.db.fetch_all(table.reached_by, (member_id,))
                if rows:
                    found[table.name] = [_plain(r) for r in rows]
        return found

    async def erase(self, member_id: int, anon_id: int) -> None:
        """Apply every entry to the member's rows: `before` statements first, then links."""
        for table in TABLES:
            for sql in table.before:
                await self.db.execute(sql, (member_id,))
        for table in TABLES:
            for link in table.links:
                await self._erase_link(table, link, member_id, anon_id)

    async def _erase_link(self, table: Table, link: Link, member_id: int, anon_id: int) -> None:
        name, column = _ident(table.name), _ident(link.column)
        if link.erase == "delete":
            await self.db.execute(f"DELETE FROM {name} WHERE {column} = ?", (member_id,))
        elif link.erase == "anonymise":
            await self.db.execute(
                f"UPDATE {name} SET {column} = ? WHERE {column} = ?", (anon_id, member_id)
            )
        elif link.erase == "clear":
            await self.db.execute(
                f"UPDATE {name} SET {column} = NULL WHERE {column} = ?", (member_id,)
            )


def _plain(row: Row) -> dict[str, Any]:
    """A row as JSON-ready values: instants in the stored text form, whatever the backend."""
    return {k: to_db_time(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _ident(name: str) -> str:
    """Table and column names come from the model, never from input; still, check."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad identifier {name!r}")
    return f'"{name}"'
