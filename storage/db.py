"""The one connection interface every repository uses, whatever the backend.

Services own transactions (`async with db.transaction():`); repositories call `execute`,
`fetch_one`, `fetch_all` and `executemany`, which run inside the caller's transaction when
there is one (tracked per asyncio task) and on their own otherwise. A `transaction()` inside
another is a savepoint: if its block raises, only its own writes are undone.

Values cross the interface as Python types and each backend converts them:
- parameters: aware `datetime` (a naive one is refused), `bool`, and `dict` / `list` for JSON
  columns; text, numbers and None as themselves;
- rows: a column named `at` or ending in `_at` comes out as an aware `datetime`; a JSON column
  is read with `row.json(name)`; booleans come out as something `bool()` reads right.
Repositories write `?` placeholders; a backend whose driver wants another style translates.

Nothing above `storage/` imports a driver or names a backend class: it calls
`open_database(target)` with a path (SQLite) or a `postgresql://` URL, and catches
`DatabaseError`.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

Params = Sequence[Any] | dict[str, Any]


class DatabaseError(Exception):
    """The database itself failed (locked, full, corrupt, unreachable, a broken constraint).

    Backends raise this (or a subclass) with the driver's error as `__cause__`.
    """


class IntegrityError(DatabaseError):
    """A constraint refused the write (unique, foreign key, check, not null)."""


class TransactionConflict(DatabaseError):
    """The server aborted the transaction to settle a conflict with another one (PostgreSQL's
    deadlock_detected 40P01 or serialization_failure 40001): nothing it wrote remains, and
    running it again from its start is expected to succeed (`storage.replay.transact`)."""


class SchemaTooNew(DatabaseError):
    """The database was written by a newer Essaim than this one."""


class DatabaseProblem(Exception):
    """The configured database cannot be used; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The column names of one result, shared by all its rows."""

    names: tuple[str, ...]
    index: dict[str, int]

    @classmethod
    def of(cls, names: Iterable[str]) -> Layout:
        names = tuple(names)
        return cls(names, {name: i for i, name in enumerate(names)})


def is_time_column(name: str) -> bool:
    """The naming rule that tells a backend which result columns hold instants."""
    return name == "at" or name.endswith("_at")


class Row:
    """One result row: read by column name (`row["id"]`) or position (`row[0]`).

    It behaves like `sqlite3.Row` and asyncpg's `Record`: iterating yields the values,
    `keys()` the names, and `dict(row)` maps one to the other. Rows are read-only.
    """

    __slots__ = ("_layout", "_values")

    def __init__(self, layout: Layout, values: tuple[Any, ...]) -> None:
        self._layout = layout
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._layout.index[key]]
            except KeyError:
                raise IndexError(f"no column named {key!r}") from None
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._layout.index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._values == other._values and self._layout.names == other._layout.names
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({dict(self.items())!r})"

    def keys(self) -> list[str]:
        return list(self._layout.names)

    def values(self) -> list[Any]:
        return list(self._values)

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self._layout.names, self._values, strict=True))

    def get(self, name: str, default: Any = None) -> Any:
        i = self._layout.index.get(name)
        return default if i is None else self._values[i]

    def json(self, name: str) -> Any:
        """A JSON column as Python values, on every backend."""
        value = self[name]
        if value is None or not isinstance(value, str | bytes):
            return value
        return json.loads(value)


class Transaction(Protocol):
    """What `async with db.transaction() as tx` gives: which level of nesting it is."""

    @property
    def depth(self) -> int:
        """1 for the outermost transaction, 2 and more for savepoints inside it."""
        ...


class CommitGuard(Protocol):
    """Asked before a top-level transaction commits, inside it: False rolls it back instead.

    The update intake (bot/intake.py) sets one for the task handling an update: the handler's
    first write also marks the update applied, in the same transaction; when a replay after a
    crash finds it already applied, its writes are dropped, so an update acts only once.
    Every backend's `transaction()` must call it (savepoints do not).
    """

    async def before_commit(self, db: Database) -> bool: ...


commit_guard: contextvars.ContextVar[CommitGuard | None] = contextvars.ContextVar(
    "commit_guard", default=None
)


class Database(Protocol):
    """What repositories and services need from a storage backend."""

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql': for the rare statement that has no portable form."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...
    def in_transaction(self) -> bool: ...
    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def execute_returning_id(self, sql: str, params: Params = ()) -> int: ...
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...
    async def table_names(self) -> list[str]: ...
    async def column_names(self, table: str) -> list[str]: ...
    async def connect(self, *, migrate: bool = True) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self, target: int | None = None) -> int: ...
    async def schema_version(self) -> int: ...
    async def backup_to(self, target: Path) -> None: ...
    async def after_erasure(self) -> None: ...


def row_lock(db: Database) -> str:
    """` FOR UPDATE` inside a transaction, else nothing: append it to a read whose answer
    decides a write (read, check, write), so that two such transactions on PostgreSQL run one
    after the other instead of both passing the check. SQLite drops the clause: its
    transactions already run one at a time."""
    return " FOR UPDATE" if db.in_transaction() else ""


def to_db_time(instant: datetime) -> str:
    """The text form SQLite stores instants in: ISO in UTC, so they sort as strings.

    Repositories may pass aware datetimes directly; this stays for code that builds text.
    """
    if instant.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(value: str | datetime | None) -> datetime | None:
    """An instant read from any backend (text from an SQLite expression, or a datetime)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)  # reads the trailing Z as UTC (Python 3.11+)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def migration_files(dialect: str = "sqlite") -> list[tuple[int, str, str]]:
    """(version, name, sql) of every numbered migration of a dialect, in order."""
    package = "storage.migrations" if dialect == "sqlite" else f"storage.migrations.{dialect}"
    found = []
    for entry in resources.files(package).iterdir():
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


def too_new(where: str, version: int, known: int) -> str:
    return (
        f"the database {where} is at schema version {version} but this Essaim only knows "
        f"{known}: upgrade Essaim or restore an older backup"
    )


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def create_database(target: str | Path) -> Database:
    """The backend for a target: a `postgresql://` URL, else the path of an SQLite file."""
    if is_url(target):
        from storage.postgres import PostgresDatabase

        return PostgresDatabase(str(target))
    from storage.sqlite import SqliteDatabase

    return SqliteDatabase(target)


async def open_database(target: str | Path, *, migrate: bool = True) -> Database:
    """Connect (and bring the schema up to date, unless told not to)."""
    db = create_database(target)
    await db.connect(migrate=migrate)
    return db


def check_database(target: str | Path, *, must_exist: bool = False) -> None:
    """Raise DatabaseProblem when the database cannot be used as is (nothing is changed).

    A missing SQLite file is fine unless `must_exist` (it is created at start); a corrupt one,
    or one of a newer schema, is not.
    """
    if is_url(target):
        from storage.postgres import check_url

        check_url(str(target))
        return
    from storage.sqlite import inspect_file

    problem = inspect_file(Path(target), must_exist=must_exist)
    if problem is not None:
        raise DatabaseProblem(problem)


def restore_database(target: str | Path, source: Path) -> None:
    """Replace the database with a backup (the bot must be stopped); DatabaseProblem if not."""
    if is_url(target):
        from storage.pg_tools import restore

        restore(str(target), source)
        return
    from storage.sqlite import restore_file

    restore_file(Path(target), source)


async def copy_database(
    source: str | Path, url: str, report: Callable[[str], None]
) -> dict[str, int]:
    """Copy an SQLite database into an empty PostgreSQL one; the rows copied per table."""
    from storage.postgres import PostgresDatabase
    from storage.sqlite import SqliteDatabase
    from storage.transfer import copy_all

    sqlite = SqliteDatabase(source)
    await sqlite.connect()
    postgres = PostgresDatabase(url)
    try:
        await postgres.connect()
        return await copy_all(sqlite, postgres, report)
    finally:
        await postgres.close()
        await sqlite.close()
