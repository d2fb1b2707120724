"""Move a deployment from SQLite to PostgreSQL (`python -m bot migrate-to --url ...`).

Everything is copied in one PostgreSQL transaction (a failure leaves the target as it was),
parents before children, then the counts of every table are compared and the identity
sequences moved past the copied ids. A target that already holds rows is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.db import DatabaseError, DatabaseProblem, latest_version
from storage.postgres import PostgresDatabase
from storage.sqlite import SqliteDatabase

CHUNK = 5000
# Tables a migration fills with one row of shared state (the circles' send pace): a new target
# holds that row already, so it is not a sign of a used database, and the source's row replaces it.
SEEDED_BY_MIGRATIONS = ("circle_pace",)


async def copy_all(
    source: SqliteDatabase, target: PostgresDatabase, report: Callable[[str], None]
) -> dict[str, int]:
    """Copy every table; returns the number of rows of each. Raises DatabaseProblem."""
    if await source.schema_version() != latest_version():
        raise DatabaseProblem(
            "the SQLite database is not at the latest schema: start the bot once"
        )
    tables = await tables_in_dependency_order(target)
    busy = [
        t
        for t in tables
        if t not in SEEDED_BY_MIGRATIONS and await target.fetch_one(f'SELECT 1 FROM "{t}" LIMIT 1')
    ]
    if busy:
        raise DatabaseProblem(
            f"the target database is not empty ({', '.join(busy)} hold rows): "
            "migrate-to only fills a new, empty database"
        )
    present = set(await source.table_names())
    counts: dict[str, int] = {}
    async with target.transaction():
        deferred: list[tuple[str, str, str, list[tuple[Any, Any]]]] = []
        for table in SEEDED_BY_MIGRATIONS:
            if table in present:
                await target.execute(f'DELETE FROM "{table}"')
        for table in tables:
            if table not in present:
                continue
            counts[table] = await _copy_table(source, target, table, deferred)
            report(f"{table}: {counts[table]} rows")
        for table, column, key, links in deferred:
            await target.executemany(
                f'UPDATE "{table}" SET "{column}" = ? WHERE "{key}" = ?', links
            )
        for table, expected in counts.items():
            row = await target.fetch_one(f'SELECT COUNT(*) FROM "{table}"')
            if row is None or int(row[0]) != expected:
                raise DatabaseProblem(
                    f"{table}: {expected} rows read but {row and row[0]} written"
                )
        await reset_identities(target)
    return counts


async def _copy_table(
    source: SqliteDatabase,
    target: PostgresDatabase,
    table: str,
    deferred: list[tuple[str, str, str, list[tuple[Any, Any]]]],
) -> int:
    columns = [
        c for c in await target.column_names(table) if c in await source.column_names(table)
    ]
    texts = set(await text_columns(target, table))
    # A column that points at its own table (members.referred_by) is filled in afterwards.
    self_refs = await self_references(target, table)
    insert_columns = [c for c in columns if c not in self_refs]
    names = ", ".join(f'"{c}"' for c in insert_columns)
    marks = ", ".join("?" * len(insert_columns))
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    key = await primary_key(target, table)
    later: dict[str, list[tuple[Any, Any]]] = {c: [] for c in self_refs}
    total, offset = 0, 0
    select = ", ".join(f'"{c}"' for c in columns)
    while True:
        rows = await source.fetch_all(
            f'SELECT {select} FROM "{table}" LIMIT ? OFFSET ?', (CHUNK, offset)
        )
        if not rows:
            break
        batch = []
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            batch.append(tuple(_value(values[c], c in texts) for c in insert_columns))
            for column in self_refs:
                if values[column] is not None and key is not None:
                    later[column].append((values[column], values[key]))
        await target.executemany(sql, batch)
        total += len(rows)
        offset += len(rows)
    for column, links in later.items():
        if links and key is not None:
            deferred.append((table, column, key, links))
    return total


def _value(value: Any, text: bool) -> Any:
    """SQLite lets a TEXT column hold a number; PostgreSQL's text column wants text."""
    if text and value is not None and not isinstance(value, str):
        return str(value)
    return value


# --- what the copy needs to know about the PostgreSQL schema ---------------------------


async def tables_in_dependency_order(db: PostgresDatabase) -> list[str]:
    """Every table, each after the tables its foreign keys point to."""
    tables = await db.table_names()
    links = await db.fetch_all(
        "SELECT c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent "
        "FROM pg_constraint c WHERE c.contype = 'f' "
        "AND c.connamespace = current_schema()::regnamespace"
    )
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for link in links:
        if link["child"] != link["parent"]:
            parents.setdefault(link["child"], set()).add(link["parent"])
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise DatabaseError("foreign keys form a cycle")
        ordered.extend(ready)
    return ordered


async def self_references(db: PostgresDatabase, table: str) -> list[str]:
    rows = await db.fetch_all(
        "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a "
        "ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
        "WHERE c.contype = 'f' AND c.conrelid = c.confrelid AND c.conrelid = ?::regclass",
        (table,),
    )
    return [r[0] for r in rows]


async def primary_key(db: PostgresDatabase, table: str) -> str | None:
    """The single-column primary key of a table, if it has one."""
    rows = await db.fetch_all(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
        "WHERE i.indrelid = ?::regclass AND i.indisprimary",
        (table,),
    )
    return str(rows[0][0]) if len(rows) == 1 else None


async def text_columns(db: PostgresDatabase, table: str) -> list[str]:
    rows = await db.fetch_all(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = ? AND data_type = 'text'",
        (table,),
    )
    return [r[0] for r in rows]


async def reset_identities(db: PostgresDatabase) -> None:
    """Move every identity sequence past the largest id its table holds."""
    rows = await db.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES'"
    )
    for r in rows:
        table, column = r[0], r[1]
        await db.fetch_one(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
            f'COALESCE(MAX("{column}"), 0) + 1, false) FROM "{table}"'
        )
