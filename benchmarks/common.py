"""Shared pieces of the benchmarks: a fake Bot API server in its own process, seeded databases.

The server runs in a separate process so that its work does not share the bot's event loop
and core: what we measure is the bot.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.db import is_url, open_database, to_db_time
from storage.sqlite import SqliteDatabase

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-TOKEN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`python -m sandbox.fakeapi` with the given limits, driven through /_control/."""

    def __init__(self, **limits: Any) -> None:
        self.port = free_port()
        self.limits = limits
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def __enter__(self) -> ServerProcess:
        args = [sys.executable, "-m", "sandbox.fakeapi", "--port", str(self.port)]
        args += ["--token", TOKEN]
        flags = {
            "global_per_second": "--global-rate",
            "per_chat_per_second": "--per-chat",
            "paid_broadcast_per_second": "--paid-rate",
            "latency": "--latency",
            "webhook_connections": "--webhook-connections",
        }
        for key, value in self.limits.items():
            if value is not None:
                args += [flags[key], str(value)]
        self.process = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.get("stats")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fake server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/_control/{path}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict[str, Any], timeout: float = 30) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_control/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    async def apost(self, path: str, body: dict[str, Any], timeout: float = 30) -> Any:
        return await asyncio.to_thread(self.post, path, body, timeout)

    def add_users(self, start: int, stop: int) -> None:
        self.post("users", {"range": [start, stop]})

    def reset(self) -> None:
        self.post("stats/reset", {})


def rate_of(stats: dict[str, Any]) -> float:
    """Deliveries per second between the first and the last delivery."""
    first, last, count = stats["first_delivery"], stats["last_delivery"], stats["delivered"]
    if not first or not last or count < 2 or last <= first:
        return 0.0
    return float((count - 1) / (last - first))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


async def seeded_database(path: Path | str, member_ids: range, ambassadors: int = 0) -> None:
    """A migrated database with onboarded members (fast path: executemany, or COPY when
    `path` is a PostgreSQL URL)."""
    if is_url(path):
        await _seeded_postgres(str(path), member_ids, ambassadors)
        return
    db = SqliteDatabase(path)
    await db.connect()
    now = to_db_time(datetime.now(UTC))
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO members (telegram_id, display_name, username, language, territory, "
            "is_ambassador, consent_at, onboarded_at, referral_code, created_at, last_seen_at) "
            "VALUES (?, ?, ?, 'fr', 'Blaye', ?, ?, ?, ?, ?, ?)",
            [
                (i, f"M{i}", f"m{i}", int(n < ambassadors), now, now, f"r{i}", now, now)
                for n, i in enumerate(member_ids)
            ],
        )
        conn.executemany(
            "INSERT INTO member_themes (member_id, theme) VALUES (?, 'Solidarité')",
            [(i,) for i in member_ids],
        )


async def _seeded_postgres(url: str, member_ids: range, ambassadors: int) -> None:
    import asyncpg

    db = await open_database(url)
    await db.close()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url)
    try:
        await conn.copy_records_to_table(
            "members",
            columns=[
                *("telegram_id", "display_name", "username", "language", "territory"),
                *("is_ambassador", "consent_at", "onboarded_at", "referral_code"),
                *("created_at", "last_seen_at"),
            ],
            records=(
                (i, f"M{i}", f"m{i}", "fr", "Blaye", n < ambassadors, now, now, f"r{i}", now, now)
                for n, i in enumerate(member_ids)
            ),
        )
        await conn.copy_records_to_table(
            "member_themes",
            columns=["member_id", "theme"],
            records=((i, "Solidarité") for i in member_ids),
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def bench_settings(server: ServerProcess, db_path: Path | str, **sending: Any) -> Any:
    """Settings for a bot against the server; `db_path` may be a PostgreSQL URL."""
    from bot.config import Settings

    return Settings(
        telegram={
            "token": TOKEN,
            "base_url": server.base_url,
            "base_file_url": server.base_file_url,
        },
        database={"url": db_path} if is_url(db_path) else {"path": str(db_path)},
        coordinators=[1],
        territories=["Blaye", "Libourne"],
        themes=["Solidarité", "Culture"],
        scheduler={"tick_seconds": 3600},
        sending=sending,
    )


class RunningBot:
    """The real Essaim application, in this process, against the server process."""

    def __init__(self, settings: Any, rate_limiter: Any = None) -> None:
        self.settings = settings
        self.rate_limiter = rate_limiter
        self.app: Any = None

    async def __aenter__(self) -> RunningBot:
        from bot.app import build_application

        self.app = build_application(self.settings, rate_limiter=self.rate_limiter)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()
        await self.app.post_shutdown(self.app)

    @property
    def services(self) -> Any:
        return self.app.bot_data.services
