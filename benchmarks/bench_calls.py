"""Calls for help at scale: delivery rate against Telegram's limits, responsiveness, crashes.

Figures, all against the fake Bot API server in its own process (30 msg/s overall, 1 msg/s
per chat, 80 ms latency per request, as Telegram):
1. achieved rate / limit for a call to N members: Essaim (outbox dispatcher + priority rate
   limiter), PTB's AIORateLimiter in the same application, a naive sequential send loop;
2. the same with paid broadcasts and a 1000/s limit;
3. while (1) runs, 20 members press "Je viens": p50/p99 time to their answer;
4. kill -9 half-way through a call, restart: recipients missing and duplicated.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    ROOT,
    TOKEN,
    RunningBot,
    ServerProcess,
    bench_settings,
    percentile,
    rate_of,
    seeded_database,
)

FIRST_ID = 100_000
PRESSERS = 20


async def start_call(services: Any) -> int:
    """A call to everyone, through the same service method the /appel flow ends with."""
    return await start_call_to(services)


async def start_call_to(services: Any, *, ambassadors_only: bool = False) -> int:
    from datetime import timedelta

    from storage.calls import NewCall

    now = services.clock.now()
    call = NewCall(
        coordinator_id=1,
        text="Qui peut apporter des courses aux aînés isolés de Blaye demain ?",
        photo=None,
        place="Mairie de Blaye",
        event_at=now + timedelta(days=2),
        needed=500,
        deadline_at=now + timedelta(days=1),
        territories=[],
        themes=[],
        ambassadors_only=ambassadors_only,
    )
    stored = await services.calls.publish(call)
    return int(stored.id)


async def _presses(server: ServerProcess, ids: list[int], delay: float) -> list[float]:
    """Members press "Je viens" one after the other while the broadcast goes on."""
    latencies = []
    for member_id in ids:
        await asyncio.sleep(delay)
        started = time.perf_counter()
        try:
            await server.apost(f"users/{member_id}/press", {"text": "Je viens", "timeout": 10})
        except OSError:
            continue
        latencies.append(time.perf_counter() - started)
    return latencies


async def broadcast(
    n: int, limiter: str, workdir: Path, paid: bool = False, database: str | None = None
) -> dict[str, Any]:
    """One call to n members; returns the server's figures and the press latencies.
    `database`: a PostgreSQL URL (an empty database) instead of an SQLite file in workdir."""
    limits: dict[str, Any] = {"per_chat_per_second": 1, "latency": 0.08}
    if paid:
        limits["paid_broadcast_per_second"] = 1000
        limits["global_per_second"] = 30
    else:
        limits["global_per_second"] = 30
    recipients = range(FIRST_ID, FIRST_ID + n)
    db_path = database or workdir / f"{limiter}-{paid}.sqlite3"
    await seeded_database(db_path, recipients, ambassadors=PRESSERS)
    with ServerProcess(**limits) as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        sending: dict[str, Any] = {
            "max_in_flight": int(os.environ.get("MIF", 128)) if paid else 64
        }
        if paid:
            sending |= {"allow_paid_broadcast": True, "paid_messages_per_second": 1000}
        settings = bench_settings(server, db_path, **sending)
        rate_limiter = None
        if limiter == "aiolimiter":
            from telegram.ext import AIORateLimiter

            rate_limiter = AIORateLimiter(overall_max_rate=30, max_retries=5)
        async with RunningBot(settings, rate_limiter) as bot:
            server.reset()
            await start_call(bot.services)
            pressers = list(recipients[:PRESSERS])
            presses = asyncio.create_task(_presses(server, pressers, delay=0.5))
            deadline = time.monotonic() + n / (1000 if paid else 30) * 3 + 60
            while time.monotonic() < deadline:
                # In a thread: a blocking call here would stall the bot's own event loop,
                # and requests leaving late make Telegram's windows see bursts.
                stats = await asyncio.to_thread(server.get, "stats")
                if stats["unique_recipients"] >= n:
                    break
                await asyncio.sleep(0.5)
            latencies = await presses
            stats = await asyncio.to_thread(server.get, "stats")
        return {"stats": stats, "latencies": latencies, "rate": rate_of(stats)}


async def naive_loop(n: int) -> float:
    """A plain sequential loop: one awaited sendMessage after another."""
    from telegram import Bot

    with ServerProcess(global_per_second=30, per_chat_per_second=1, latency=0.08) as server:
        server.add_users(FIRST_ID, FIRST_ID + n)
        async with Bot(TOKEN, base_url=server.base_url) as bot:
            server.reset()
            for chat_id in range(FIRST_ID, FIRST_ID + n):
                await bot.send_message(chat_id, "Appel : qui peut aider demain à Blaye ?")
            return rate_of(server.get("stats"))


def crash(n: int, workdir: Path) -> tuple[int, int, int]:
    """kill -9 a bot process half-way through a call; returns (missing, duplicates, bound)."""
    recipients = range(FIRST_ID, FIRST_ID + n)
    db_path = workdir / "crash.sqlite3"
    asyncio.run(seeded_database(db_path, recipients))
    max_in_flight = 64
    with ServerProcess(global_per_second=30, per_chat_per_second=1, latency=0.08) as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        settings = bench_settings(server, db_path, max_in_flight=max_in_flight)

        async def queue_call() -> None:
            from bot.app import build_services
            from bot.clock import SystemClock
            from storage.sqlite import SqliteDatabase

            db = SqliteDatabase(db_path)
            await db.connect()
            await start_call(build_services(settings, SystemClock(), db))
            await db.close()

        asyncio.run(queue_call())
        env = dict(os.environ)
        env |= {
            "ESSAIM_TELEGRAM__TOKEN": TOKEN,
            "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
            "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
            "ESSAIM_DATABASE__PATH": str(db_path),
            "ESSAIM_SENDING__MAX_IN_FLIGHT": str(max_in_flight),
            "ESSAIM_COORDINATORS": "[1]",
        }
        args = [sys.executable, "-m", "bot", "--config", str(workdir / "none.toml")]
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while server.get("stats")["delivered"] < n // 2:
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + n / 30 * 2 + 60
        while time.monotonic() < deadline:
            if server.get("stats")["unique_recipients"] >= n:
                break
            time.sleep(0.5)
        time.sleep(2)
        process.terminate()
        process.wait(30)
        stats = server.get("stats?full=1")
        delivered = [c for c in stats["delivered_chat_ids"] if c >= FIRST_ID]
        missing = len(set(recipients) - set(delivered))
        duplicates = len(delivered) - len(set(delivered))
        return missing, duplicates, max_in_flight + 50


def run(quick: bool = False) -> list[str]:
    n = 2_000 if quick else 10_000
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        essaim = asyncio.run(broadcast(n, "essaim", workdir))
        aio = asyncio.run(broadcast(n, "aiolimiter", workdir))
        naive = asyncio.run(naive_loop(min(n, 1_000)))
        stats = essaim["stats"]
        edits = stats["method_counts"].get("editMessageText", 0)
        with_edits = essaim["rate"] * (stats["delivered"] + edits) / max(1, stats["delivered"])
        lines.append(
            f"calls.rate  n={n} limit=30/s  essaim={essaim['rate'] / 30:.3f}  "
            f"aioratelimiter={aio['rate'] / 30:.3f}  naive_loop={naive / 30:.3f}  "
            f"(achieved/limit; target essaim>=0.97; 429s essaim="
            f"{essaim['stats']['too_many_requests']} aio={aio['stats']['too_many_requests']})"
        )
        lines.append(
            f"calls.rate_with_summary essaim={with_edits / 30:.3f} (the call's {edits} summary "
            "edits are messages too, within the same 30/s; the target is judged on the line above)"
        )
        for name, result in (("essaim", essaim), ("aioratelimiter", aio)):
            lat = result["latencies"]
            lines.append(
                f"calls.press_latency {name}: p50={percentile(lat, 0.5):.3f}s "
                f"p99={percentile(lat, 0.99):.3f}s over {len(lat)} presses (target p99<1s)"
            )
        paid = asyncio.run(broadcast(n, "essaim", workdir, paid=True))
        lines.append(
            f"calls.paid_rate n={n} limit=1000/s  essaim={paid['rate'] / 1000:.3f} "
            f"({paid['rate']:.0f} msg/s; target>=0.9)"
        )
        missing, duplicates, bound = crash(min(n, 3_000), workdir)
        lines.append(
            f"calls.crash kill -9 at half: missing={missing} (target 0) "
            f"duplicates={duplicates} (bound {bound}: in flight + unflushed results)"
        )
    return lines
