"""The one connection interface every repository uses.

Services own transactions (`async with db.transaction():`); repositories call `execute`,
`fetch_one`, `fetch_all` and `executemany`, which run inside the caller's transaction when
there is one (tracked per asyncio task with a context variable) and on their own otherwise.
A PostgreSQL backend will be another class with these same few methods.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

log = logging.getLogger(__name__)

Params = Sequence[Any] | dict[str, Any]
Row = sqlite3.Row
DatabaseError = sqlite3.Error
"""What the backend raises when the database itself fails (locked, full, corrupt)."""


class SchemaTooNew(Exception):
    """The database was written by a newer Essaim than this one."""


class DatabaseCorrupt(Exception):
    """PRAGMA integrity_check did not answer ok."""


class Database(Protocol):
    """What repositories need from a storage backend."""

    def transaction(self) -> Any: ...
    def in_transaction(self) -> bool: ...
    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def execute_returning_id(self, sql: str, params: Params = ()) -> int: ...
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...
    async def table_names(self) -> list[str]: ...


def to_db_time(instant: datetime) -> str:
    """Times are stored as ISO text in UTC, so they sort and compare as strings."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)  # reads the trailing Z as UTC (Python 3.11+)


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered migration shipped with the code, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {versions}")
    return found


def latest_version() -> int:
    return len(migration_files())


class SqliteDatabase:
    """SQLite in WAL mode: one writer connection guarded by a lock, one reader connection.

    Writes start with BEGIN IMMEDIATE so that a transaction never has to upgrade its lock
    half-way (which is how SQLite deadlocks). Reads outside a transaction go to the reader
    connection and see the last committed state.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._current: contextvars.ContextVar[aiosqlite.Connection | None] = (
            contextvars.ContextVar(f"tx-{id(self)}", default=None)
        )

    async def _open(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in ("foreign_keys = ON", "busy_timeout = 5000", "synchronous = NORMAL"):
            await _run(conn, f"PRAGMA {pragma}")
        return conn

    async def connect(self, *, migrate: bool = True) -> None:
        self._writer = await self._open()
        await _run(self._writer, "PRAGMA journal_mode = WAL")
        if migrate:
            await self.migrate()
        self._reader = await self._open()

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("database is not connected")
        return self._writer

    async def user_version(self) -> int:
        async with self.writer.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def integrity_ok(self) -> bool:
        async with self.writer.execute("PRAGMA integrity_check") as cur:
            row = await cur.fetchone()
        return row is not None and row[0] == "ok"

    async def migrate(self, target: int | None = None) -> int:
        """Apply the numbered migrations above the stored version, each in its own transaction."""
        files = migration_files()
        current = await self.user_version()
        if current > len(files):
            raise SchemaTooNew(
                f"the database is at schema version {current} but this Essaim only knows "
                f"{len(files)}: upgrade Essaim or restore an older backup"
            )
        goal = len(files) if target is None else target
        for version, name, sql in files:
            if current < version <= goal:
                log.info("applying migration %s", name)
                async with self._write_lock:
                    await _run(self.writer, "BEGIN IMMEDIATE")
                    try:
                        for statement in _split_sql(sql):
                            await _run(self.writer, statement)
                        await _run(self.writer, f"PRAGMA user_version = {version}")
                        await _run(self.writer, "COMMIT")
                    except BaseException:
                        await _run(self.writer, "ROLLBACK")
                        raise
                current = version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A write transaction for the current task; nested calls join the outer one."""
        if self._current.get() is not None:
            yield
            return
        async with self._write_lock:
            conn = self.writer
            await _run(conn, "BEGIN IMMEDIATE")
            token = self._current.set(conn)
            try:
                yield
            except BaseException:
                await _run(conn, "ROLLBACK")
                raise
            else:
                await _run(conn, "COMMIT")
            finally:
                self._current.reset(token)

    def in_transaction(self) -> bool:
        """Whether the current task is inside `transaction()`."""
        return self._current.get() is not None

    def _read_conn(self) -> aiosqlite.Connection:
        conn = self._current.get() or self._reader
        if conn is None:
            raise RuntimeError("database is not connected")
        return conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write; returns the number of rows it changed."""
        if self._current.get() is None:
            async with self.transaction():
                return await self.execute(sql, params)
        # One trip to the database thread: once executed, a write's statement is finished and
        # holds nothing, so the cursor is not closed (a statement with RETURNING would be
        # left pending: use fetch_all for those).
        cursor = await self.writer.execute(sql, params)
        return cursor.rowcount

    async def execute_returning_id(self, sql: str, params: Params = ()) -> int:
        if self._current.get() is None:
            async with self.transaction():
                return await self.execute_returning_id(sql, params)
        row = await self.writer.execute_insert(sql, params)
        if row is None or row[0] is None:
            raise RuntimeError("statement inserted no row")
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        if self._current.get() is None:
            async with self.transaction():
                await self.executemany(sql, rows)
                return
        await self.writer.executemany(sql, rows)

    # Reads fetch and close in one trip to the database thread (execute_fetchall), instead
    # of three (execute, fetch, close): on a button press that is most of the database's cost.
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self._read_conn().execute_fetchall(sql, params)
        for row in rows:
            return row
        return None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._read_conn().execute_fetchall(sql, params))

    async def table_names(self) -> list[str]:
        """The application's tables, as the schema holds them (SQLite's own tables left out)."""
        rows = await self.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [r["name"] for r in rows]

    async def backup_to(self, target: Path) -> None:
        """Consistent copy of the live database through SQLite's online backup API."""
        async with self._write_lock:
            dest = await aiosqlite.connect(str(target))
            try:
                await self.writer.backup(dest)
            finally:
                await dest.close()


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """A statement without rows (BEGIN, COMMIT, PRAGMA set): one trip, nothing left open."""
    await conn.execute_fetchall(sql)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements; migrations hold no semicolons inside literals."""
    statements = []
    buffer: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") or not stripped:
            continue
        buffer.append(line)
        if sqlite3.complete_statement("\n".join(buffer)):
            statements.append("\n".join(buffer))
            buffer = []
    if buffer:
        statements.append("\n".join(buffer))
    return statements


async def open_database(path: Path | str, *, migrate: bool = True) -> SqliteDatabase:
    db = SqliteDatabase(path)
    await db.connect(migrate=migrate)
    return db
