"""The SQLite backend: the zero-setup default, one file next to the bot.

Instants are stored as ISO text in UTC (`to_db_time`), so they sort and compare as strings;
JSON as text; booleans as 0/1. This module is the only one that knows.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import (
    DatabaseError,
    DatabaseProblem,
    IntegrityError,
    Layout,
    Params,
    Row,
    SchemaTooNew,
    commit_guard,
    from_db_time,
    is_time_column,
    migration_files,
    to_db_time,
    too_new,
)
from storage.sqlite_files import (
    create_private,
    file_problem,
    inspect_file,
    make_private,
    restore_file,
)

log = logging.getLogger(__name__)


def _adapt_json(value: dict[str, Any] | list[Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


# Parameters are converted by sqlite3 itself, in C, as it binds them: no Python loop per row.
sqlite3.register_adapter(datetime, to_db_time)
sqlite3.register_adapter(dict, _adapt_json)
sqlite3.register_adapter(list, _adapt_json)


def _row_factory() -> Callable[[sqlite3.Cursor, tuple[Any, ...]], Row]:
    """Build our Row from each result tuple; the layout is worked out once per statement."""
    last: list[Any] = [None, None, ()]  # description, layout, positions of time columns

    def factory(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
        description = cursor.description
        if description is not last[0]:
            layout = Layout.of(d[0] for d in description)
            last[:] = [
                description,
                layout,
                tuple(i for i, name in enumerate(layout.names) if is_time_column(name)),
            ]
        if last[2]:
            converted = list(values)
            for i in last[2]:
                if isinstance(converted[i], str):
                    converted[i] = from_db_time(converted[i])
            values = tuple(converted)
        return Row(last[1], values)

    return factory


def _wrap(error: sqlite3.Error) -> DatabaseError:
    if isinstance(error, sqlite3.IntegrityError):
        return IntegrityError(str(error))
    return DatabaseError(str(error))


@dataclass(frozen=True, slots=True)
class _Level:
    depth: int


class SqliteDatabase:
    """SQLite in WAL mode: one writer connection guarded by a lock, one reader connection.

    Writes start with BEGIN IMMEDIATE so that a transaction never has to upgrade its lock
    half-way (which is how SQLite deadlocks). Reads outside a transaction go to the reader
    connection and see the last committed state.
    """

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._depth: contextvars.ContextVar[int] = contextvars.ContextVar(
            f"tx-{id(self)}", default=0
        )

    async def _open(self) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn.row_factory = _row_factory()  # type: ignore[assignment]
            for pragma in _PRAGMAS:
                await _run(conn, f"PRAGMA {pragma}")
        except sqlite3.Error as error:
            raise _wrap(error) from error
        return conn

    async def connect(self, *, migrate: bool = True) -> None:
        create_private(Path(self.path))
        self._writer = await self._open()
        await self._run("PRAGMA journal_mode = WAL")
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; make sure
            make_private(Path(self.path + suffix))
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

    async def _run(self, sql: str) -> None:
        try:
            await _run(self.writer, sql)
        except sqlite3.Error as error:
            raise _wrap(error) from error

    async def _pragma(self, name: str) -> Any:
        try:
            rows = await self.writer.execute_fetchall(f"PRAGMA {name}")
        except sqlite3.Error as error:
            raise _wrap(error) from error
        return next(iter(rows))[0]

    async def schema_version(self) -> int:
        return int(await self._pragma("user_version"))

    user_version = schema_version

    async def integrity_ok(self) -> bool:
        return bool(await self._pragma("integrity_check") == "ok")

    async def migrate(self, target: int | None = None) -> int:
        """Apply the numbered migrations above the stored version, each in its own transaction."""
        files = migration_files()
        current = await self.schema_version()
        if current > len(files):
            raise SchemaTooNew(too_new(self.path, current, len(files)))
        goal = len(files) if target is None else target
        for version, name, sql in files:
            if current < version <= goal:
                # BEGIN IMMEDIATE holds the file's write lock: another process that started at
                # the same moment waits here, then sees the version it wrote and skips.
                async with self.transaction():
                    current = await self.schema_version()
                    if current >= version:
                        continue
                    log.info("applying migration %s", name)
                    for statement in split_sql(sql):
                        await self._run(statement)
                    await self._run(f"PRAGMA user_version = {version}")
                current = version
        return current

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Level]:
        """A write transaction for the current task; inside another one, a savepoint."""
        depth = self._depth.get()
        if depth:
            async with self._savepoint(depth + 1) as level:
                yield level
            return
        async with self._write_lock:
            await self._run("BEGIN IMMEDIATE")
            token = self._depth.set(1)
            try:
                yield _Level(1)
                guard = commit_guard.get()
                keep = guard is None or await guard.before_commit(self)
            except BaseException:
                await self._run("ROLLBACK")
                raise
            else:
                await self._run("COMMIT" if keep else "ROLLBACK")
            finally:
                self._depth.reset(token)

    @asynccontextmanager
    async def _savepoint(self, depth: int) -> AsyncIterator[_Level]:
        name = f"essaim_{depth}"
        await self._run(f"SAVEPOINT {name}")
        token = self._depth.set(depth)
        try:
            yield _Level(depth)
        except BaseException:
            await self._run(f"ROLLBACK TO {name}")
            await self._run(f"RELEASE {name}")
            raise
        else:
            await self._run(f"RELEASE {name}")
        finally:
            self._depth.reset(token)

    def in_transaction(self) -> bool:
        """Whether the current task is inside `transaction()`."""
        return self._depth.get() > 0

    def _read_conn(self) -> aiosqlite.Connection:
        conn = self._writer if self._depth.get() else self._reader
        if conn is None:
            raise RuntimeError("database is not connected")
        return conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write; returns the number of rows it changed."""
        if not self._depth.get():
            async with self.transaction():
                return await self.execute(sql, params)
        # One trip to the database thread: once executed, a write's statement is finished and
        # holds nothing, so the cursor is not closed (a statement with RETURNING would be
        # left pending: use fetch_all for those).
        try:
            cursor = await self.writer.execute(sql, params)
        except sqlite3.Error as error:
            raise _wrap(error) from error
        return cursor.rowcount

    async def execute_returning_id(self, sql: str, params: Params = ()) -> int:
        if not self._depth.get():
            async with self.transaction():
                return await self.execute_returning_id(sql, params)
        try:
            row = await self.writer.execute_insert(sql, params)
        except sqlite3.Error as error:
            raise _wrap(error) from error
        if row is None or row[0] is None:
            raise RuntimeError("statement inserted no row")
        return int(row[0])

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        if not self._depth.get():
            async with self.transaction():
                await self.executemany(sql, rows)
                return
        try:
            await self.writer.executemany(sql, rows)
        except sqlite3.Error as error:
            raise _wrap(error) from error

    # Reads fetch and close in one trip to the database thread (execute_fetchall), instead
    # of three (execute, fetch, close): on a button press that is most of the database's cost.
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        for row in await self.fetch_all(sql, params):
            return row
        return None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        if "FOR UPDATE" in sql:
            sql = _without_row_locks(sql)
        try:
            rows = await self._read_conn().execute_fetchall(sql, params)
        except sqlite3.Error as error:
            raise _wrap(error) from error
        return rows  # type: ignore[return-value]  # built by our row factory

    async def table_names(self) -> list[str]:
        """The application's tables, as the schema holds them (SQLite's own tables left out)."""
        rows = await self.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [r["name"] for r in rows]

    async def after_erasure(self) -> None:
        """Leave no copy of what was just erased in the files: freed pages are zeroed as they
        are freed (secure_delete), and the WAL, which still holds the rows as they were, is
        written back to the database and emptied."""
        if self._depth.get():
            raise RuntimeError("after_erasure runs once the erasing transaction has committed")
        async with self._write_lock:
            await self._pragma("wal_checkpoint(TRUNCATE)")

    async def column_names(self, table: str) -> list[str]:
        """A table's columns in schema order (the name comes from code, never from input)."""
        rows = await self.fetch_all("SELECT name FROM pragma_table_info(?)", (table,))
        return [r["name"] for r in rows]

    async def backup_to(self, target: Path) -> None:
        """Consistent copy of the live database through SQLite's online backup API.

        Safe while the bot runs; the copy is checked before it replaces `target`.
        """
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)
        create_private(tmp)
        async with self._write_lock:
            try:
                dest = await aiosqlite.connect(str(tmp))
                try:
                    await self.writer.backup(dest)
                finally:
                    await dest.close()
            except sqlite3.Error as error:
                tmp.unlink(missing_ok=True)
                raise _wrap(error) from error
        problem = file_problem(tmp, "backup is not a readable SQLite database")
        if problem:
            tmp.unlink(missing_ok=True)
            raise DatabaseProblem(f"backup {problem}")
        tmp.replace(target)


# secure_delete: deleted content is overwritten with zeros, so an erased member's rows do not
# linger in free pages (nor in later backups, which copy pages).
_PRAGMAS = (
    "foreign_keys = ON",
    "busy_timeout = 5000",
    "synchronous = NORMAL",
    "secure_delete = ON",
)


@lru_cache(maxsize=256)
def _without_row_locks(sql: str) -> str:
    """`SELECT ... FOR UPDATE` locks rows on PostgreSQL; SQLite has no such clause and needs
    none: its transactions already run one at a time (BEGIN IMMEDIATE)."""
    return _FOR_UPDATE.sub("", sql)


_FOR_UPDATE = re.compile(r"\s+FOR\s+UPDATE(\s+OF\s+\w+)?(\s+(NOWAIT|SKIP\s+LOCKED))?\s*$")


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """A statement without rows (BEGIN, COMMIT, PRAGMA set): one trip, nothing left open."""
    await conn.execute_fetchall(sql)


def split_sql(script: str) -> list[str]:
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


__all__ = ["SqliteDatabase", "inspect_file", "restore_file", "split_sql"]
