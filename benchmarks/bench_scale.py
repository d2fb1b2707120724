"""Scale, on both backends (issue 17): a database of 1,000,000 members.

Figures, each the median of REPEATS runs on the same database, SQLite and PostgreSQL side by
side, each beside a baseline measured in the same run on the same backend:
1. the audience preview count of a call to one territory and two themes (goal < 1 s), through
   `AudienceRepository.count`, the query the call and consultation previews run; baseline: a
   bare `SELECT COUNT(*) FROM members` (the whole table, no filter);
2. writing the outbox rows of a 100,000-recipient call (goal < 5 s): `CallService.publish` of a
   call to the territory holding 100,000 members, which selects them, stores one delivery and
   one recipient row each and the summary, in one transaction; baseline: inserting as many
   bare rows into a table of two integers through the same backend (`executemany`);
3. idle RSS of `python -m bot run` on that database (goal < 150 MB), beside a bare Python
   process importing telegram.
PostgreSQL comes from ESSAIM_BENCH_POSTGRES_URL or a throwaway cluster (`.ci/postgres`);
without either its figures are skipped, with the reason. `--quick`: 100,000 members.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks import pg_server
from benchmarks.bench_ops import TARGET_MB, _status_mb, baseline_mb
from benchmarks.common import ROOT, TOKEN, free_port, median
from sandbox.fakeapi import FakeTelegram
from storage.db import Database, is_url, open_database

REPEATS = 5
TERRITORIES = [f"Commune {n:02d}" for n in range(10)]  # 10 % of the members each
THEMES = ["Solidarité", "Environnement", "Culture", "Sport", "Santé", "Jeunesse", "Mobilité"]
STAMP = datetime(2026, 3, 1, tzinfo=UTC)
COORDINATOR = 1
_COLUMNS = (
    "telegram_id, display_name, username, language, territory, consent_at, onboarded_at, "
    "referral_code, created_at, last_seen_at"
)


def _members(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        yield (i, f"Membre {i}", f"m{i}", "fr", TERRITORIES[i % 10], STAMP, STAMP, f"r{i}")


def _themes(n: int) -> Iterator[tuple[int, str]]:
    """One theme each, a second one for every other member: 1.5 themes a member."""
    for i in range(1, n + 1):
        yield (i, THEMES[i % 7])
        if i % 2:
            yield (i, THEMES[(i % 7 + 1 + (i // 7) % 6) % 7])


async def seed(target: str | Path, n: int) -> None:
    db = await open_database(target)
    await db.close()
    if is_url(target):
        conn = await asyncpg.connect(str(target))
        try:
            await conn.copy_records_to_table(
                "members",
                records=((*m, STAMP, STAMP) for m in _members(n)),
                columns=[c.strip() for c in _COLUMNS.split(",")],
            )
            await conn.copy_records_to_table(
                "member_themes", records=_themes(n), columns=["member_id", "theme"]
            )
            await conn.execute("UPDATE members SET is_coordinator = TRUE WHERE telegram_id = 1")
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        return
    stamp = STAMP.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with sqlite3.connect(target) as conn:
        conn.executemany(
            f"INSERT INTO members ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((*m[:5], stamp, stamp, m[7], stamp, stamp) for m in _members(n)),
        )
        conn.executemany("INSERT INTO member_themes (member_id, theme) VALUES (?, ?)", _themes(n))
        conn.execute("UPDATE members SET is_coordinator = 1 WHERE telegram_id = 1")
        conn.execute("ANALYZE")
    conn.close()


async def _timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


async def preview_count(db: Database) -> tuple[float, float, int]:
    """(median seconds of the audience count, of the bare count, the count)."""
    from storage.audience import Audience, AudienceRepository

    repo = AudienceRepository(db)
    audience = Audience(territories=[TERRITORIES[3]], themes=THEMES[:2])
    counted, bare = [], []
    found = 0
    for _ in range(REPEATS):
        seconds, found = await _timed(lambda: repo.count(audience, COORDINATOR))
        counted.append(seconds)
        seconds, _ = await _timed(lambda: db.fetch_one("SELECT COUNT(*) FROM members"))
        bare.append(seconds)
    return median(counted), median(bare), int(found)


async def publish_call(db: Database, target: str | Path) -> tuple[float, float, int]:
    """(median seconds to publish a call to one territory, to insert as many bare rows,
    recipients); each publish is undone before the next (its rows deleted)."""
    from bot.app import build_services
    from bot.clock import SystemClock
    from bot.config import Settings
    from storage.calls import NewCall

    database = {"url": str(target)} if is_url(target) else {"path": str(target)}
    settings = Settings(database=database, coordinators=[COORDINATOR], territories=TERRITORIES)
    services = build_services(settings, SystemClock(), db)
    now = services.clock.now()
    call = NewCall(
        coordinator_id=COORDINATOR,
        text="Qui peut aider à la distribution de repas samedi ?",
        photo=None,
        place="Salle des fêtes",
        event_at=now + timedelta(days=2),
        needed=50,
        deadline_at=now + timedelta(days=1),
        territories=[TERRITORIES[5]],
        themes=[],
        ambassadors_only=False,
    )
    await db.execute("CREATE TABLE bench_rows (a BIGINT NOT NULL, b BIGINT NOT NULL)")
    published, bare = [], []
    recipients = 0
    for _ in range(REPEATS):
        seconds, stored = await _timed(lambda: services.calls.publish(call))
        published.append(seconds)
        recipients = int(stored.recipients or 0)
        rows = [(i, stored.id) for i in range(recipients)]
        seconds, _ = await _timed(lambda rows=rows: _bare_insert(db, rows))
        bare.append(seconds)
        async with db.transaction():
            for table in ("deliveries", "broadcast_recipients", "bench_rows"):
                await db.execute(f"DELETE FROM {table}")
    return median(published), median(bare), recipients


async def _bare_insert(db: Database, rows: list[tuple[int, int]]) -> None:
    async with db.transaction():
        await db.executemany("INSERT INTO bench_rows (a, b) VALUES (?, ?)", rows)


async def idle_rss(target: str | Path, workdir: Path) -> float:
    """VmRSS of `python -m bot run` on the database, after a few idle seconds."""
    server = FakeTelegram(token=TOKEN)
    server.add_users(range(1, 3))
    await server.start()
    key, value = (
        ("ESSAIM_DATABASE__URL", str(target))
        if is_url(target)
        else ("ESSAIM_DATABASE__PATH", str(target))
    )
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        key: value,
        "ESSAIM_HEALTH__ENABLED": "true",
        "ESSAIM_HEALTH__PORT": str(free_port()),
        "ESSAIM_COORDINATORS": f"[{COORDINATOR}]",
    }
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "--config", str(workdir / "absent.toml")),
        *("--log-level", "WARNING", "run"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await server.wait_until(lambda: server.stats.method_counts["getUpdates"] >= 1, timeout=120)
        await asyncio.sleep(3)  # idle: a few empty long polls and scheduler ticks
        return _status_mb(proc.pid, "VmRSS")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        await server.stop()


async def measure(target: str | Path, n: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    await seed(target, n)
    figures: dict[str, Any] = {"seed": time.perf_counter() - started}
    db = await open_database(target)
    try:
        figures["count"] = await preview_count(db)
        figures["publish"] = await publish_call(db, target)
    finally:
        await db.close()
    figures["rss"] = await idle_rss(target, workdir)
    return figures


def _lines(name: str, n: int, f: dict[str, Any]) -> list[str]:
    count_s, bare_count_s, found = f["count"]
    publish_s, bare_insert_s, recipients = f["publish"]
    return [
        f"scale.{name} preview_count members={n:,} one territory + two themes: "
        f"{count_s * 1000:.0f} ms for {found:,} (goal < 1000 ms; bare COUNT(*) of the table "
        f"{bare_count_s * 1000:.0f} ms, ratio {count_s / bare_count_s:.2f})",
        f"scale.{name} publish_call recipients={recipients:,}: {publish_s:.2f} s (goal < 5 s; "
        f"bare insert of as many rows {bare_insert_s:.2f} s, ratio "
        f"{publish_s / bare_insert_s:.1f})",
        f"scale.{name} idle_rss {f['rss']:.1f} MB (goal < {TARGET_MB:.0f} MB) "
        f"[seeding took {f['seed']:.0f} s]",
    ]


def run(quick: bool = False) -> list[str]:
    n = 100_000 if quick else 1_000_000
    lines = [f"scale: median of {REPEATS} per figure; the machine's load is in the note"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sqlite = asyncio.run(measure(workdir / "scale.sqlite3", n, workdir))
        lines += _lines("sqlite", n, sqlite)
        with pg_server.server() as admin:
            if admin is None:
                return [*lines, *pg_server.skipped_because]

            async def on_postgres() -> dict[str, Any]:
                async with pg_server.database(admin) as url:
                    return await measure(url, n, workdir)

            lines += _lines("postgresql", n, asyncio.run(on_postgres()))
    lines.append(f"scale: idle baseline python + import telegram {baseline_mb():.1f} MB")
    return lines


if __name__ == "__main__":
    print(*run(quick="--quick" in sys.argv), sep="\n")
