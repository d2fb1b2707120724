"""The storage interface on each backend: migrations, savepoints, value types, errors.

SQLite always; PostgreSQL too when ESSAIM_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import (
    Database,
    IntegrityError,
    SchemaTooNew,
    create_database,
    latest_version,
    migration_files,
)
from tests import pg

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(pg.URL is None, reason="ESSAIM_TEST_POSTGRES_URL is not set"),
    ),
]


@pytest.fixture(params=BACKENDS)
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str | Path]:
    """An empty database (no schema at all) of the backend."""
    if request.param == "sqlite":
        yield tmp_path / "empty.db"
        return
    async for url in pg.fresh_database(empty=True):
        yield url


async def opened(target: str | Path, *, migrate: bool = True) -> Database:
    db = create_database(target)
    await db.connect(migrate=migrate)
    return db


def test_every_sqlite_migration_has_its_postgresql_twin() -> None:
    sqlite = [name for _, name, _ in migration_files("sqlite")]
    postgresql = [name for _, name, _ in migration_files("postgresql")]
    assert postgresql == sqlite, (
        "write storage/migrations/postgresql/<same name> (COORDINATION.md)"
    )


async def test_migrations_on_an_empty_database_then_step_by_step(target: str | Path) -> None:
    db = await opened(target, migrate=False)
    try:
        assert await db.schema_version() == 0
        for version in range(1, latest_version() + 1):
            assert await db.migrate(target=version) == version
            assert await db.schema_version() == version
        assert await db.migrate() == latest_version()  # nothing left: a no-op
        assert {"members", "deliveries", "calls", "pairs"} <= set(await db.table_names())
    finally:
        await db.close()


async def test_two_processes_starting_together_migrate_once(target: str | Path) -> None:
    first, second = create_database(target), create_database(target)
    await asyncio.gather(first.connect(), second.connect())
    try:
        assert await first.schema_version() == await second.schema_version() == latest_version()
    finally:
        await first.close()
        await second.close()


async def test_a_newer_schema_is_refused(target: str | Path) -> None:
    db = await opened(target)
    try:
        if db.dialect == "sqlite":
            await db.execute(f"PRAGMA user_version = {latest_version() + 1}")
        else:
            await db.execute("UPDATE essaim_schema SET version = ?", (latest_version() + 1,))
    finally:
        await db.close()
    again = create_database(target)
    with pytest.raises(SchemaTooNew, match="upgrade Essaim or restore an older backup"):
        await again.connect()
    await again.close()


async def test_nested_transaction_is_a_savepoint(target: str | Path) -> None:
    db = await opened(target)
    try:
        async with db.transaction() as outer:
            assert outer.depth == 1
            await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (1, NOW))
            with pytest.raises(RuntimeError):
                async with db.transaction() as inner:
                    assert inner.depth == 2
                    await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (2, NOW))
                    raise RuntimeError("only the inner block fails")
            async with db.transaction():
                await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (3, NOW))
        rows = await db.fetch_all("SELECT telegram_id FROM consent_refusals ORDER BY 1")
        assert [r[0] for r in rows] == [1, 3]
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (4, NOW))
                raise RuntimeError("the whole transaction goes")
        assert len(await db.fetch_all("SELECT * FROM consent_refusals")) == 2
    finally:
        await db.close()


async def test_values_and_errors_cross_as_python_types(target: str | Path) -> None:
    db = await opened(target)
    try:
        later = NOW + timedelta(microseconds=7)
        await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (2**40, later))
        row = await db.fetch_one(
            "SELECT telegram_id, refused_at FROM consent_refusals WHERE refused_at > ?", (NOW,)
        )
        assert row is not None and dict(row) == {"telegram_id": 2**40, "refused_at": later}
        assert row[1].tzinfo is not None and "refused_at" in row and list(row) == [2**40, later]
        entry = await db.execute_returning_id(
            "INSERT INTO audit_log (actor_id, action, subject, details, at) "
            "VALUES (?, ?, '?', ?, ?)",
            (1, "test", {"é": [1, True]}, NOW),
        )
        audit = await db.fetch_one("SELECT id, subject, details, at FROM audit_log")
        assert audit is not None and audit["id"] == entry and audit["subject"] == "?"
        assert audit.json("details") == {"é": [1, True]} and audit["at"] == NOW
        with pytest.raises(IntegrityError):
            await db.execute("INSERT INTO consent_refusals VALUES (?, ?)", (2**40, NOW))
    finally:
        await db.close()
