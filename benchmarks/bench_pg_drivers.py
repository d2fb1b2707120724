"""asyncpg against psycopg 3 on the statements of a press answering a call (issue 17).

One "press" is the transaction `CallAnswers` runs for a member who says yes: read the member,
lock and count the call (FOR UPDATE), read the member's answer, upsert it, and queue the
notice in the outbox. Each driver runs the same presses over one connection on a fresh
database migrated by Essaim; the Essaim backend (asyncpg plus `?` translation and Row) is
measured beside them to show what the interface costs. Needs a server:

    ESSAIM_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        python -m benchmarks bench_pg_drivers
(ESSAIM_TEST_POSTGRES_URL is used when the first is not set.)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from storage.postgres import PostgresDatabase, _init_connection

MEMBERS = 500
ROUNDS = 5
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

MEMBER = "SELECT telegram_id, language, status FROM members WHERE telegram_id = $1"
TALLY = (
    "SELECT id, needed, status, (SELECT COUNT(*) FROM call_answers a WHERE a.call_id = calls.id "
    "AND a.answer = 'yes') AS yes_count FROM calls WHERE id = $1 FOR UPDATE"
)
KNOWN = "SELECT answer FROM call_answers WHERE call_id = $1 AND member_id = $2"
UPSERT = (
    "INSERT INTO call_answers (call_id, member_id, answer, answered_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (call_id, member_id) DO UPDATE SET answer = excluded.answer, "
    "answered_at = excluded.answered_at"
)
NOTICE = (
    "INSERT INTO deliveries (chat_id, kind, ref_id, priority, payload, not_before, created_at) "
    "VALUES ($1, 'call_answer', $2, 1, $3, $4, $4) RETURNING id"
)


def _q(sql: str) -> str:
    """The same SQL with `?NNN` placeholders, as repositories may write it."""
    return sql.replace("$", "?")


async def _seed(url: str) -> None:
    db = PostgresDatabase(url, max_size=1)
    await db.connect()
    try:
        await db.executemany(
            "INSERT INTO members (telegram_id, display_name, referral_code, consent_at, "
            "onboarded_at, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(i, f"M{i}", f"r{i}", NOW, NOW, NOW, NOW) for i in range(1, MEMBERS + 1)],
        )
        await db.execute(
            "INSERT INTO calls (id, coordinator_id, text, place, event_at, needed, deadline_at, "
            "created_at) VALUES (1, 1, 'x', 'Blaye', ?, 500, ?, ?)",
            (NOW, NOW, NOW),
        )
    finally:
        await db.close()


async def _reset(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE call_answers, deliveries")
    finally:
        await conn.close()


async def bench_asyncpg(url: str) -> int:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    payload = json.dumps({"text": "Merci !"})
    try:
        for member in range(1, MEMBERS + 1):
            async with conn.transaction():
                await conn.fetchrow(MEMBER, member)
                await conn.fetchrow(TALLY, 1)
                await conn.fetchrow(KNOWN, 1, member)
                await conn.execute(UPSERT, 1, member, "yes", NOW)
                await conn.fetchval(NOTICE, member, 1, payload, NOW)
    finally:
        await conn.close()
    return MEMBERS


async def bench_psycopg(url: str) -> int:
    import psycopg
    from psycopg.types.json import Jsonb

    def pct(sql: str) -> str:
        for n in range(9, 0, -1):
            sql = sql.replace(f"${n}", f"%(p{n})s")
        return sql

    member_sql, tally, known, upsert, notice = map(pct, (MEMBER, TALLY, KNOWN, UPSERT, NOTICE))
    payload = Jsonb({"text": "Merci !"})
    # prepare_threshold=0: every statement server-side prepared, as asyncpg does.
    conn = await psycopg.AsyncConnection.connect(url, prepare_threshold=0)
    try:
        for member in range(1, MEMBERS + 1):
            async with conn.transaction():
                cur = conn.cursor()
                await (await cur.execute(member_sql, {"p1": member})).fetchone()
                await (await cur.execute(tally, {"p1": 1})).fetchone()
                await (await cur.execute(known, {"p1": 1, "p2": member})).fetchone()
                await cur.execute(upsert, {"p1": 1, "p2": member, "p3": "yes", "p4": NOW})
                await (
                    await cur.execute(notice, {"p1": member, "p2": 1, "p3": payload, "p4": NOW})
                ).fetchone()
    finally:
        await conn.close()
    return MEMBERS


async def bench_essaim(url: str) -> int:
    db = PostgresDatabase(url, max_size=1)
    await db.connect(migrate=False)
    member_sql, tally, known, upsert, notice = map(_q, (MEMBER, TALLY, KNOWN, UPSERT, NOTICE))
    try:
        for member in range(1, MEMBERS + 1):
            async with db.transaction():
                await db.fetch_one(member_sql, (member,))
                await db.fetch_one(tally, (1,))
                await db.fetch_one(known, (1, member))
                await db.execute(upsert, (1, member, "yes", NOW))
                await db.fetch_one(notice, (member, 1, {"text": "Merci !"}, NOW))
    finally:
        await db.close()
    return MEMBERS


async def _measure(url: str) -> list[str]:
    from tests.pg import _replace_db

    admin = await asyncpg.connect(url)
    name = f"essaim_bench_{os.getpid()}"
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    await admin.close()
    target = _replace_db(url, name)
    lines = []
    try:
        await _seed(target)
        results: dict[str, float] = {}
        runs: list[tuple[str, Callable[[str], Awaitable[int]]]] = [
            ("asyncpg", bench_asyncpg),
            ("psycopg", bench_psycopg),
            ("essaim-backend", bench_essaim),
        ]
        # Interleaved rounds, best of each: on a shared machine the slow rounds are noise.
        for _round in range(ROUNDS):
            for label, bench in runs:
                await _reset(target)
                started = time.perf_counter()
                done = await bench(target)
                rate = done / (time.perf_counter() - started)
                results[label] = max(results.get(label, 0.0), rate)
        base = results["asyncpg"]
        for label, rate in results.items():
            ratio = rate / base
            lines.append(f"pg press, {label}: {rate:,.0f} presses/s ({ratio:.2f}x asyncpg)")
    finally:
        admin = await asyncpg.connect(url)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    return lines


def run(quick: bool = False) -> list[str]:
    url = os.environ.get("ESSAIM_BENCH_POSTGRES_URL") or os.environ.get("ESSAIM_TEST_POSTGRES_URL")
    if not url:
        return ["bench_pg_drivers: skipped (set ESSAIM_BENCH_POSTGRES_URL)"]
    global ROUNDS
    if quick:
        ROUNDS = 2
    return asyncio.run(_measure(url))
