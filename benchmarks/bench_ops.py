"""Memory of an idle bot: resident memory of `python -m bot run` on a database of 100,000
members (and pair-sized history), next to a bare Python process importing telegram.

Target: under 150 MB. Run: `python benchmarks/bench_ops.py` (the integrator wires run()).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.fakeapi import FakeTelegram  # noqa: E402
from storage.db import open_database, to_db_time  # noqa: E402

MEMBERS = 100_000
PAIRS = 1_000
TOKEN = "123456:BENCH-TOKEN"
TARGET_MB = 150.0
THEMES = ("Solidarité", "Environnement", "Culture")
TERRITORIES = ("Blaye", "Libourne", "Saint-André-de-Cubzac")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def seed(path: Path) -> None:
    db = await open_database(path)
    await db.close()
    stamp = to_db_time(datetime(2026, 3, 1, tzinfo=UTC))
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
        # Pair-sized history: two introductions and a check-in per pair, as sent deliveries
        # (the pairs table itself belongs to another feature and may not exist yet).
        conn.executemany(
            "INSERT INTO deliveries (chat_id, kind, ref_id, payload, status, attempts, "
            "not_before, created_at, sent_at) VALUES (?, 'pair', ?, ?, 'sent', 1, ?, ?, ?)",
            (
                (1 + (n * 7) % MEMBERS, n // 3, '{"text":"Bonjour, voici votre binôme"}')
                + (stamp,) * 3
                for n in range(PAIRS * 3)
            ),
        )
    conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def baseline_mb() -> float:
    code = (
        "import telegram, telegram.ext\n"
        "from pathlib import Path\n"
        "s = Path('/proc/self/status').read_text()\n"
        "print([l for l in s.splitlines() if l.startswith('VmRSS:')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


async def idle_bot_mb(path: Path) -> float:
    server = FakeTelegram(token=TOKEN)
    await server.start()
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        "ESSAIM_DATABASE__PATH": str(path),
        "ESSAIM_HEALTH__ENABLED": "true",
        "ESSAIM_HEALTH__PORT": str(free_port()),
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
        return rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
        await server.stop()


def run() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "essaim.sqlite3"
        asyncio.run(seed(path))
        size_mb = path.stat().st_size / 1024 / 1024
        bot_mb = asyncio.run(idle_bot_mb(path))
    base_mb = baseline_mb()
    verdict = "ok" if bot_mb < TARGET_MB else "OVER TARGET"
    return [
        f"ops memory: idle bot RSS {bot_mb:.1f} MB with {MEMBERS:,} members and "
        f"{PAIRS:,} pairs' deliveries (database {size_mb:.1f} MB); target < {TARGET_MB:.0f} MB: "
        f"{verdict}",
        f"ops memory: baseline python + import telegram RSS {base_mb:.1f} MB "
        f"(bot overhead {bot_mb - base_mb:.1f} MB)",
    ]


if __name__ == "__main__":
    print(*run(), sep="\n")
