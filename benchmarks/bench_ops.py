"""Memory: resident memory of `python -m bot run` on a database of 100,000 members and
1,000 pairs (with their check-ins), idle and then while it delivers a call to 10,000 of them,
next to a bare Python process importing telegram.

Target: under 150 MB idle. During the call, the peak (VmHWM) is reported; the call runs in
paid mode against the fake server (1000/s) so that it ends in seconds: memory depends on the
number of recipients and messages in flight, not on the pace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import ROOT, TOKEN, free_port
from sandbox.fakeapi import FakeTelegram
from storage.db import open_database, to_db_time

MEMBERS = 100_000
PAIRS = 1_000
CALL_N = 10_000
TARGET_MB = 150.0
THEMES = ("Solidarité", "Environnement", "Culture")
TERRITORIES = ("Blaye", "Libourne", "Saint-André-de-Cubzac")


async def seed(path: Path) -> None:
    db = await open_database(path)
    await db.close()
    stamp = to_db_time(datetime(2026, 3, 1, tzinfo=UTC))
    later = to_db_time(datetime(2036, 3, 1, tzinfo=UTC))  # no check-in falls due meanwhile
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO members (telegram_id, display_name, username, language, territory, "
            "consent_at, onboarded_at, referral_code, created_at, last_seen_at) "
            "VALUES (?, ?, ?, 'fr', ?, ?, ?, ?, ?, ?)",
            (
                (
                    i,
                    f"Membre {i}",
                    f"m{i}",
                    TERRITORIES[i % 3],
                    stamp,
                    stamp,
                    f"r{i}",
                    stamp,
                    stamp,
                )
                for i in range(1, MEMBERS + 1)
            ),
        )
        conn.executemany(
            "INSERT INTO member_themes (member_id, theme) VALUES (?, ?)",
            ((i, THEMES[i % 3]) for i in range(1, MEMBERS + 1)),
        )
        # The first CALL_RECIPIENTS members are ambassadors: the call goes to them.
        conn.execute("UPDATE members SET is_ambassador = 1 WHERE telegram_id <= ?", (CALL_N,))
        conn.executemany(
            "INSERT INTO pairs (id, citizen_id, technician_id, interval_days, next_due_at, "
            "created_at) VALUES (?, ?, ?, 14, ?, ?)",
            ((n, 2 * n - 1, 2 * n, later, stamp) for n in range(1, PAIRS + 1)),
        )
        conn.executemany(
            "INSERT INTO pair_checkins (pair_id, sent_at) VALUES (?, ?)",
            ((1 + n % PAIRS, stamp) for n in range(PAIRS * 3)),
        )
        conn.executemany(
            "INSERT INTO pair_checkin_answers (checkin_id, member_id, answer, answered_at) "
            "VALUES (?, ?, 'progress', ?)",
            ((n, 2 * (1 + (n - 1) % PAIRS) - 1, stamp) for n in range(1, PAIRS * 3 + 1)),
        )
    conn.close()


def baseline_mb() -> float:
    code = (
        "import telegram, telegram.ext\n"
        "from pathlib import Path\n"
        "s = Path('/proc/self/status').read_text()\n"
        "print([l for l in s.splitlines() if l.startswith('VmRSS:')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


async def _queue_call(path: Path) -> None:
    """A call to the CALL_N ambassadors, queued from outside (WAL: a second writer waits)."""
    from benchmarks.bench_calls import start_call_to
    from bot.app import build_services
    from bot.clock import SystemClock
    from bot.config import Settings
    from storage.sqlite import SqliteDatabase

    settings = Settings(database={"path": str(path)}, coordinators=[1])
    db = SqliteDatabase(path)
    await db.connect()
    try:
        await start_call_to(build_services(settings, SystemClock(), db), ambassadors_only=True)
    finally:
        await db.close()


async def bot_memory(path: Path) -> tuple[float, float, float, int]:
    """(idle RSS, peak RSS sampled during the call, VmHWM, recipients reached)."""
    server = FakeTelegram(token=TOKEN, paid_broadcast_per_second=1000)
    server.add_users(range(1, MEMBERS + 1))
    await server.start()
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        "ESSAIM_DATABASE__PATH": str(path),
        "ESSAIM_HEALTH__ENABLED": "true",
        "ESSAIM_HEALTH__PORT": str(free_port()),
        "ESSAIM_COORDINATORS": "[1]",
        "ESSAIM_SENDING__ALLOW_PAID_BROADCAST": "true",
        "ESSAIM_SENDING__MAX_IN_FLIGHT": "128",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(path.parent / "absent.toml"),
        "--log-level",
        "WARNING",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await server.wait_until(lambda: server.stats.method_counts["getUpdates"] >= 1, timeout=60)
        await asyncio.sleep(3)  # idle: a few empty long polls and scheduler ticks
        idle = _status_mb(proc.pid, "VmRSS")
        await _queue_call(path)
        peak = idle
        deadline = asyncio.get_running_loop().time() + 300
        while server.stats.delivered < CALL_N and asyncio.get_running_loop().time() < deadline:
            peak = max(peak, _status_mb(proc.pid, "VmRSS"))
            await asyncio.sleep(0.1)
        return idle, peak, _status_mb(proc.pid, "VmHWM"), server.stats.delivered
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        await server.stop()


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "essaim.sqlite3"
        asyncio.run(seed(path))
        size_mb = path.stat().st_size / 1024 / 1024
        bot_mb, call_mb, hwm_mb, reached = asyncio.run(bot_memory(path))
    base_mb = baseline_mb()
    verdict = "ok" if bot_mb < TARGET_MB else "OVER TARGET"
    return [
        f"ops memory: idle bot RSS {bot_mb:.1f} MB with {MEMBERS:,} members and "
        f"{PAIRS:,} pairs (database {size_mb:.1f} MB); target < {TARGET_MB:.0f} MB: {verdict}",
        f"ops memory: during a call to {CALL_N:,} members: peak RSS {call_mb:.1f} MB sampled "
        f"every 0.1 s, VmHWM {hwm_mb:.1f} MB ({reached:,} messages delivered)",
        f"ops memory: baseline python + import telegram RSS {base_mb:.1f} MB "
        f"(bot overhead idle {bot_mb - base_mb:.1f} MB)",
    ]


if __name__ == "__main__":
    print(*run(), sep="\n")
