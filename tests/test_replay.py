"""Transactions PostgreSQL aborts to settle a conflict are run again (storage/replay.py).

The deadlocks and the serialization failure here are real ones, provoked on the test server
(ESSAIM_TEST_POSTGRES_URL); the rules that need no server (bounded attempts, no replay inside
another transaction) run on SQLite too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from storage import replay
from storage.db import Database, TransactionConflict, create_database
from storage.postgres import PostgresDatabase
from storage.replay import transact
from tests import pg
from tests.helpers import seed_members
from tests.test_backends import BACKENDS
from tests.test_calls import FAST, draft_call, start_coordinator

needs_postgres = pytest.mark.skipif(pg.URL is None, reason="ESSAIM_TEST_POSTGRES_URL is not set")


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database of the backend, with a table of two counters."""
    if request.param == "sqlite":
        opened = create_database(tmp_path / "replay.db")
        await opened.connect()
        try:
            yield await _with_counters(opened)
        finally:
            await opened.close()
        return
    async for url in pg.fresh_database():
        await _admin(f"ALTER DATABASE {url.rsplit('/', 1)[1]} SET deadlock_timeout = '100ms'")
        opened = PostgresDatabase(url, max_size=4)
        await opened.connect()
        try:
            yield await _with_counters(opened)
        finally:
            await opened.close()


async def _with_counters(db: Database) -> Database:
    await db.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    await db.executemany("INSERT INTO counters (id, n) VALUES (?, 0)", [(1,), (2,)])
    return db


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(pg.URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _counters(db: Database) -> dict[int, int]:
    return {r["id"]: r["n"] for r in await db.fetch_all("SELECT id, n FROM counters")}


@needs_postgres
async def test_a_real_deadlock_is_run_again_and_both_transactions_commit(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite transactions run one at a time: no deadlock to provoke")
    runs = {"a": 0, "b": 0}
    holding = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def body(me: str, other: str, first: int, second: int) -> None:
        runs[me] += 1
        await db.execute("UPDATE counters SET n = n + 1 WHERE id = ?", (first,))
        holding[me].set()
        await holding[other].wait()  # each holds one row and now asks for the other's
        await db.execute("UPDATE counters SET n = n + 10 WHERE id = ?", (second,))

    with caplog.at_level(logging.WARNING, logger="storage.replay"):
        await asyncio.gather(
            transact(db, lambda: body("a", "b", 1, 2)),
            transact(db, lambda: body("b", "a", 2, 1)),
        )

    # The server aborted one of the two; it ran again once the other had committed.
    assert sorted(runs.values()) == [1, 2]
    assert await _counters(db) == {1: 11, 2: 11}
    assert "deadlock detected" in caplog.text and "attempt 2" in caplog.text


@needs_postgres
async def test_a_real_serialization_failure_is_run_again_on_a_fresh_snapshot(
    db: Database,
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no isolation levels to choose")
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        await db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await db.fetch_all("SELECT n FROM counters")  # the snapshot is taken here
        if runs == 1:  # someone else changes the row meanwhile, and commits
            await _other_connection(db, "UPDATE counters SET n = n + 100 WHERE id = 1")
        await db.execute("UPDATE counters SET n = n + 1 WHERE id = 1")

    await transact(db, body)

    assert runs == 2
    assert (await _counters(db))[1] == 101


async def _other_connection(db: Database, sql: str) -> None:
    assert isinstance(db, PostgresDatabase)
    conn = await asyncpg.connect(db.url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_replays_are_bounded_then_the_conflict_is_raised(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "FIRST_PAUSE", 0.0)
    runs = 0

    async def always_aborted() -> None:
        nonlocal runs
        runs += 1
        await db.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        raise TransactionConflict("deadlock detected (simulated)")

    with pytest.raises(TransactionConflict):
        await transact(db, always_aborted)

    assert runs == replay.ATTEMPTS
    assert (await _counters(db))[1] == 0  # every attempt was rolled back


async def test_inside_another_transaction_nothing_is_replayed(db: Database) -> None:
    runs = 0

    async def aborted() -> None:
        nonlocal runs
        runs += 1
        raise TransactionConflict("deadlock detected (simulated)")

    with pytest.raises(TransactionConflict):
        async with db.transaction():
            await db.execute("UPDATE counters SET n = n + 1 WHERE id = 2")
            await transact(db, aborted)

    # Only the outermost block could run it all again, and a plain block cannot.
    assert runs == 1
    assert (await _counters(db))[2] == 0


@needs_postgres
async def test_a_press_caught_in_a_deadlock_is_decided_once_run_again(
    server: Any, make_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch deciding a press locks the call, then writes the member's answer; another
    transaction holding that answer's row asks for the call: PostgreSQL aborts the batch,
    which runs again once the other has committed, and the member is answered as usual."""
    bot = await make_bot(**FAST)
    await _sent_call(server, bot, [3101])
    member = server.user(3101)
    await member.press("Pas cette fois")
    call = await bot.state.only_call()
    url = bot.services.db.url
    other = await asyncpg.connect(url)
    try:
        await other.execute("SET deadlock_timeout = '30s'")  # the batch is the one to notice
        tx = other.transaction()
        await tx.start()
        await other.execute(  # locks the answer's row, not the call's
            "UPDATE call_answers SET answered_at = answered_at WHERE call_id = $1", call.id
        )
        with caplog.at_level(logging.WARNING, logger="storage.replay"):
            press = asyncio.create_task(member.press("Je viens"))
            await _until_one_waits_for_a_lock(url)  # the batch, for the answer's row
            await other.fetch("SELECT id FROM calls WHERE id = $1 FOR UPDATE", call.id)
            await tx.commit()
            answer = await press
    finally:
        await other.close()

    assert "vous venez" in answer.text
    assert (await bot.state.call_answers()) == {3101: "yes"}
    assert "deadlock detected" in caplog.text


async def _sent_call(server: Any, bot: Any, members: list[int]) -> None:
    coord = await start_coordinator(server, bot)
    server.add_users(members)
    await seed_members(bot, members)
    await draft_call(coord, needed="3")
    await coord.press("Envoyer maintenant")
    await bot.drain()


async def _until_one_waits_for_a_lock(url: str) -> None:
    conn = await asyncpg.connect(url)  # outside any transaction: a fresh view each time
    try:
        await _poll_locks(conn)
    finally:
        await conn.close()


async def _poll_locks(conn: asyncpg.Connection) -> None:
    for _ in range(1000):
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.005)  # a real server's state, not the bot's clock
    raise AssertionError("the batch never waited for the answer's row")
