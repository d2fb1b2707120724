"""Migrations and the transaction rules of the storage layer."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from storage.db import SchemaTooNew, SqliteDatabase, latest_version, migration_files


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
    with pytest.raises(sqlite3.IntegrityError):
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
            await db.execute("INSERT INTO consent_refusals VALUES (1, 'x')")
            raise RuntimeError("boom")
    assert await db.fetch_all("SELECT * FROM consent_refusals") == []
    await db.close()


async def test_concurrent_transactions_do_not_interleave(tmp_path):
    db = SqliteDatabase(tmp_path / "race.db")
    await db.connect()
    await db.execute("INSERT INTO consent_refusals VALUES (1, '0')")

    async def increment() -> None:
        async with db.transaction():
            row = await db.fetch_one("SELECT refused_at FROM consent_refusals WHERE telegram_id=1")
            assert row is not None
            await asyncio.sleep(0)
            await db.execute(
                "UPDATE consent_refusals SET refused_at = ? WHERE telegram_id = 1",
                (str(int(row[0]) + 1),),
            )

    await asyncio.gather(*(increment() for _ in range(20)))
    row = await db.fetch_one("SELECT refused_at FROM consent_refusals")
    assert row is not None and row[0] == "20"
    await db.close()
