"""The PostgreSQL backend (asyncpg): for deployments that outgrow one SQLite file.

Where the dialects differ, the difference lives here, not in repositories:
- placeholders: repositories write `?` (or `?1`); `translate` turns them into `$1, $2...`
  outside string literals, quoted names and comments, once per distinct statement (cached);
- `group_concat(x, char(31))` or `group_concat(x, ', ')` becomes `string_agg(x, ... ORDER BY x)`;
- values: instants are `timestamptz` (an aware datetime, or the ISO text `to_db_time` writes,
  goes in; an aware datetime comes out), flags are `boolean` (0/1 are accepted as parameters),
  JSON is `jsonb` (a dict/list or JSON text goes in; JSON text comes out, read with
  `row.json`), Telegram ids `bigint`.
Connections come from a pool; asyncpg prepares and caches each statement per connection.
Migrations are `storage/migrations/postgresql/NNNN_name.sql`, twins of the SQLite ones, applied
under a transaction-scoped advisory lock so two processes starting together never migrate at once.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from storage.db import (
    DatabaseError,
    DatabaseProblem,
    IntegrityError,
    Layout,
    Params,
    Row,
    SchemaTooNew,
    TransactionConflict,
    commit_guard,
    from_db_time,
    migration_files,
    too_new,
)
from storage.pg_sql import translate

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x65_73_73_61_69_6D  # "essaim": the advisory lock key of the migrator
SCHEMA_TABLE = "essaim_schema"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's own epoch for timestamps
_MICRO = timedelta(microseconds=1)


def _encode_time(value: datetime | str) -> tuple[int]:
    instant = from_db_time(value) if isinstance(value, str) else value
    if instant is None or instant.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return ((instant - _EPOCH) // _MICRO,)


def _decode_time(value: tuple[int]) -> datetime:
    return _EPOCH + timedelta(microseconds=value[0])


def _encode_json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _encode_bool(value: Any) -> str:
    return "t" if value else "f"


def _decode_bool(value: str) -> bool:
    return value == "t"


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "timestamptz",
        schema="pg_catalog",
        encoder=_encode_time,
        decoder=_decode_time,
        format="tuple",
    )
    for name in ("jsonb", "json"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_encode_json, decoder=str, format="text"
        )
    await conn.set_type_codec(
        "bool", schema="pg_catalog", encoder=_encode_bool, decoder=_decode_bool, format="text"
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool: Essaim sets no session state
    (its advisory lock is transaction-scoped), and asyncpg's default reset costs a round trip
    on every transaction."""


_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)  # 40P01, 40001


def _wrap(error: Exception) -> DatabaseError:
    if isinstance(error, _CONFLICTS):
        return TransactionConflict(str(error))
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(str(error))
    return DatabaseError(str(error))


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    if not records:
        return []
    layout = Layout.of(records[0].keys())
    return [Row(layout, tuple(r)) for r in records]


def _args(params: Params) -> Sequence[Any]:
    if isinstance(params, dict):
        raise TypeError("the PostgreSQL backend takes positional parameters only")
    return params


@dataclass(frozen=True, slots=True)
class _Level:
    depth: int


@dataclass(slots=True)
class _Current:
    conn: asyncpg.Connection
    depth: int


class PostgresDatabase:
    """A pool of asyncpg connections; each transaction holds one connection for its task."""

    dialect = "postgresql"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._current: contextvars.ContextVar[_Current | None] = contextvars.ContextVar(
            f"pg-tx-{id(self)}", default=None
        )

    async def connect(self, *, migrate: bool = True) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                init=_init_connection,
                reset=_keep_session,
                statement_cache_size=1024,
                server_settings={"timezone": "UTC", "application_name": "essaim"},
            )
        except (*_DRIVER_ERRORS, ValueError) as error:
            raise _wrap(error) from error
        if migrate:
            await self.migrate()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not connected")
        return self._pool

    # --- schema -----------------------------------------------------------------------

    async def schema_version(self) -> int:
        async with self.pool.acquire() as conn:
            return await _version(conn)

    async def migrate(self, target: int | None = None) -> int:
        """Apply the migrations above the stored version, one transaction and lock each."""
        files = migration_files("postgresql")
        goal = len(files) if target is None else target
        async with self.pool.acquire() as conn:
            try:
                current = await _version(conn)
                if current > len(files):
                    raise SchemaTooNew(too_new(_where(self.url), current, len(files)))
                for version, name, sql in files:
                    if version > goal:
                        break
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                        await conn.execute(
                            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version INTEGER NOT NULL)"
                        )
                        current = await _version(conn)
                        if current >= version:
                            continue
                        log.info("applying migration %s", name)
                        await conn.execute(sql)
                        await conn.execute(f"DELETE FROM {SCHEMA_TABLE}")
                        await conn.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES ($1)", version)
                        current = version
            except _DRIVER_ERRORS as error:
                raise _wrap(error) from error
        return current

    async def table_names(self) -> list[str]:
        rows = await self.fetch_all(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            f"AND table_name <> '{SCHEMA_TABLE}' ORDER BY table_name"
        )
        return [r[0] for r in rows]

    async def column_names(self, table: str) -> list[str]:
        rows = await self.fetch_all(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [r[0] for r in rows]

    # --- transactions -----------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Level]:
        """A transaction for the current task; inside another one, a savepoint."""
        current = self._current.get()
        if current is not None:
            async with self._scope(current.conn, current.depth + 1) as level:
                yield level
            return
        try:
            conn = await self.pool.acquire()
        except _DRIVER_ERRORS as error:
            raise _wrap(error) from error
        try:
            async with self._scope(conn, 1) as level:
                yield level
        finally:
            await self.pool.release(conn)

    @asynccontextmanager
    async def _scope(self, conn: asyncpg.Connection, depth: int) -> AsyncIterator[_Level]:
        """BEGIN (or SAVEPOINT when nested) ... COMMIT, or ROLLBACK when the block raises."""
        tx = conn.transaction()
        try:
            await tx.start()
        except _DRIVER_ERRORS as error:
            raise _wrap(error) from error
        token = self._current.set(_Current(conn, depth))
        try:
            yield _Level(depth)
            guard = commit_guard.get() if depth == 1 else None
            keep = guard is None or await guard.before_commit(self)
        except BaseException:
            try:
                await tx.rollback()
            except _DRIVER_ERRORS:
                log.warning("rollback failed", exc_info=True)
            raise
        else:
            try:
                await (tx.commit() if keep else tx.rollback())
            except _DRIVER_ERRORS as error:
                raise _wrap(error) from error
        finally:
            self._current.reset(token)

    def in_transaction(self) -> bool:
        return self._current.get() is not None

    # --- statements -------------------------------------------------------------------

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write; returns the number of rows it changed."""
        status = await self._call("execute", sql, params)
        last = str(status).rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def execute_returning_id(self, sql: str, params: Params = ()) -> int:
        if "returning" not in sql.lower():
            sql = f"{sql} RETURNING id"
        value = await self._call("fetchval", sql, params)
        if value is None:
            raise RuntimeError("statement inserted no row")
        return int(value)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = [_args(r) for r in rows]
        if not batch:
            return
        current = self._current.get()
        try:
            if current is not None:
                await current.conn.executemany(translate(sql), batch)
            else:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.executemany(translate(sql), batch)
        except _DRIVER_ERRORS as error:
            raise _wrap(error) from error

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        for row in await self.fetch_all(sql, params):
            return row
        return None

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return _rows(await self._call("fetch", sql, params))

    async def _call(self, method: str, sql: str, params: Params) -> Any:
        current = self._current.get()
        target: Any = current.conn if current is not None else self.pool
        try:
            return await getattr(target, method)(translate(sql), *_args(params))
        except _DRIVER_ERRORS as error:
            raise _wrap(error) from error

    async def after_erasure(self) -> None:
        """Nothing to do at once: the erased rows are gone from every query and every later
        backup; their old versions stay in the table files until (auto)vacuum reclaims them,
        and in WAL archives and older backups until those expire (docs/deploy.md, section 8).
        VACUUM cannot run inside the request's flow without stalling it."""
        if self._current.get() is not None:
            raise RuntimeError("after_erasure runs once the erasing transaction has committed")

    async def backup_to(self, target: Path) -> None:
        """A pg_dump archive (custom format) of the database, written next to `target` first."""
        from storage.pg_tools import dump

        await dump(self.url, target)


async def _version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass($1)", SCHEMA_TABLE)
    if exists is None:
        return 0
    value = await conn.fetchval(f"SELECT MAX(version) FROM {SCHEMA_TABLE}")
    return int(value or 0)


def _where(url: str) -> str:
    """The URL without its password, to name the database in a message."""
    return re.sub(r"://([^:@/]*):[^@/]*@", r"://\1@", url)


async def probe(url: str) -> str | None:
    """None when the server answers and the schema is not newer than the code; else one line."""
    where = _where(url)
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except asyncpg.InvalidPasswordError:
        return f"database.url: login refused for {where} (wrong user or password)"
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        return f"database.url: login refused for {where} ({error})"
    except asyncpg.InvalidCatalogNameError:
        return f"database.url: the database of {where} does not exist (createdb it first)"
    except (OSError, TimeoutError) as error:
        return f"database.url: cannot reach the server of {where} ({error.__class__.__name__})"
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
        return f"database.url: {where} is not usable ({error})"
    try:
        version = await _version(conn)
    finally:
        await conn.close()
    known = len(migration_files("postgresql"))
    if version > known:
        return too_new(where, version, known)
    return None


def check_url(url: str) -> None:
    """Raise DatabaseProblem with one line when `probe` finds something (sync, for the CLI)."""
    import asyncio

    problem = asyncio.run(probe(url))
    if problem is not None:
        raise DatabaseProblem(problem)
