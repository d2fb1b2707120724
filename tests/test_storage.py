"""Migrations and the transaction rules of the storage layer."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import IntegrityError, SchemaTooNew, latest_version, migration_files
from storage.sqlite import SqliteDatabase

pytestmark = (
    pytest.mark.sqlite_only
)  # the SQLite backend itself; tests/test_backends.py runs on both

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_each_migration_applies_on_an_empty_database(tmp_path):
    for version in range(1, latest_version() + 1):
        db = SqliteDatabase(tmp_path / f"empty{version}.db")
        await db.connect(migrate=False)
        assert await db.migrate(target=version) == version
        assert await db.user_version() == version
        assert await db.integrity_ok()
        await db.close()


async def test_each_migration_applies_on_the_previous_version(tmp_path):
    path = tmp_path / "stepwise.db"
    db = SqliteDatabase(path)
    await db.connect(migrate=False)
    for version in range(1, latest_version() + 1):
        await db.migrate(target=version)
        assert await db.user_version() == version
    await db.close()
    again = SqliteDatabase(path)
    await again.connect()
    assert await again.user_version() == latest_version()
    await again.close()
    assert "members" in _tables(path) and "deliveries" in _tables(path)


def test_migrations_are_numbered_without_gaps():
    versions = [v for v, _, _ in migration_files()]
    assert versions == list(range(1, len(versions) + 1))


async def test_wal_mode_and_foreign_keys(tmp_path):
    db = SqliteDatabase(tmp_path / "wal.db")
    await db.connect()
    row = await db.fetch_one("PRAGMA journal_mode")
    assert row is not None and row[0] == "wal"
    with pytest.raises(IntegrityError):
        await db.execute("INSERT INTO member_themes (member_id, theme) VALUES (1, 'x')")
    await db.close()


async def test_refuses_a_database_newer_than_the_code(tmp_path):
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    db = SqliteDatabase(path)
    with pytest.raises(SchemaTooNew):
        await db.connect()
    await db.close()


async def test_transaction_rolls_back_everything_on_error(tmp_path):
    db = SqliteDatabase(tmp_path / "tx.db")
    await db.connect()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.execute("INSERT INTO consent_refusals VALUES (1, ?)", (NOW,))
            raise RuntimeError("boom")
    assert await db.fetch_all("SELECT * FROM consent_refusals") == []
    await db.close()


async def test_concurrent_transactions_do_not_interleave(tmp_path):
    db = SqliteDatabase(tmp_path / "race.db")
    await db.connect()
    await db.execute("INSERT INTO consent_refusals VALUES (1, ?)", (NOW,))

    async def increment() -> None:
        async with db.transaction():
            row = await db.fetch_one("SELECT telegram_id FROM consent_refusals")
            assert row is not None
            await asyncio.sleep(0)
            await db.execute("UPDATE consent_refusals SET telegram_id = ?", (row[0] + 1,))

    await asyncio.gather(*(increment() for _ in range(20)))
    row = await db.fetch_one("SELECT telegram_id FROM consent_refusals")
    assert row is not None and row[0] == 21
    await db.close()


async def test_nested_transaction_is_a_savepoint_rolled_back_alone(tmp_path):
    db = SqliteDatabase(tmp_path / "savepoint.db")
    await db.connect()
    async with db.transaction() as outer:
        assert outer.depth == 1
        await db.execute("INSERT INTO consent_refusals VALUES (1, ?)", (NOW,))
        with pytest.raises(RuntimeError):
            async with db.transaction() as inner:
                assert inner.depth == 2 and db.in_transaction()
                await db.execute("INSERT INTO consent_refusals VALUES (2, ?)", (NOW,))
                raise RuntimeError("inner fails")
        async with db.transaction():
            await db.execute("INSERT INTO consent_refusals VALUES (3, ?)", (NOW,))
    assert not db.in_transaction()
    rows = await db.fetch_all("SELECT telegram_id FROM consent_refusals ORDER BY telegram_id")
    assert [r[0] for r in rows] == [1, 3]
    await db.close()


async def test_values_cross_the_interface_as_python_types(tmp_path):
    db = SqliteDatabase(tmp_path / "types.db")
    await db.connect()
    later = NOW + timedelta(microseconds=7)
    await db.execute("INSERT INTO consent_refusals VALUES (1, ?)", (later,))
    await db.execute(
        "INSERT INTO audit_log (actor_id, action, details, at) VALUES (?, ?, ?, ?)",
        (1, "x", {"é": [1, True]}, NOW),
    )
    row = await db.fetch_one("SELECT * FROM consent_refusals WHERE refused_at > ?", (NOW,))
    assert row is not None and row["refused_at"] == later and row[0] == 1
    assert dict(row) == {"telegram_id": 1, "refused_at": later} and "refused_at" in row
    audit = await db.fetch_one("SELECT details, at FROM audit_log")
    assert audit is not None and audit.json("details") == {"é": [1, True]}
    assert audit["at"] == NOW and audit["at"].tzinfo is not None
    with pytest.raises(IndexError):
        audit["missing"]
    await db.close()


@pytest.mark.sqlite_only  # file modes of the SQLite files
async def test_database_wal_and_backups_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    old = os.umask(0o022)
    try:
        db = SqliteDatabase(path)
        await db.connect()
        await db.execute("CREATE TABLE t (x INTEGER)")
        await db.execute("INSERT INTO t VALUES (1)")
        backup = tmp_path / "backup.db"
        await db.backup_to(backup)
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm"), backup]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        await db.close()
    finally:
        os.umask(old)
    assert modes == {f.name: 0o600 for f in files}
