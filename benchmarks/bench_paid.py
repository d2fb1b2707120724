"""Paid broadcasts: a call to n members at Telegram's paid ceiling (1,000 messages/s).

The bot (the real application, in this process) sends through the outbox dispatcher and the
priority limiter to the fake Bot API server in its own process (1 msg/s per chat, 80 ms
latency, a 1,000/s overall window). Three send paths, alternated round by round in the same
run so that all see the same machine:
- `lean`: what the dispatcher does, requests prepared once per payload and answers read for
  the message id only (bot/sending.py), over the lean HTTP client (bot/bulk_http.py);
- `lean_aiohttp`: the same requests over aiohttp (what a deployment behind a proxy gets);
- `ptb`: the baseline, every message through PTB's `send_message` (Telegram objects for the
  keyboard, the answer parsed into a `Message`), as every send went before.

Figures: rate / 1,000 (median of the rounds, each round listed), 429s, and CPU per message:
the bot's process (its threads included) and the fake server's, so one can tell whether the
server, not the bot, is what limits the run. On a machine shared with other work the rate
falls with the CPU the bot gets; CPU per message does not, and is the figure to compare.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_calls import FIRST_ID, start_call
from benchmarks.common import RunningBot, ServerProcess, bench_settings, rate_of, seeded_database

LIMIT = 1000
PATHS = ("lean", "lean_aiohttp", "ptb")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def paid_round(n: int, workdir: Path, path: str, index: int) -> dict[str, Any]:
    recipients = range(FIRST_ID, FIRST_ID + n)
    db_path = workdir / f"paid-{path}-{index}.sqlite3"
    await seeded_database(db_path, recipients)
    limits = {
        "per_chat_per_second": 1,
        "latency": 0.08,
        "global_per_second": 30,
        "paid_broadcast_per_second": LIMIT,
    }
    with ServerProcess(**limits) as server:
        assert server.process is not None
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        sending = {"max_in_flight": 128, "allow_paid_broadcast": True}
        settings = bench_settings(server, db_path, **sending, paid_messages_per_second=LIMIT)
        async with RunningBot(settings) as bot:
            sender = bot.services.dispatcher.sender
            sender.lean = path != "ptb"
            if path != "lean":
                await sender.stop()  # no lean HTTP client: bot.request (aiohttp)
            server.reset()
            cpu, server_cpu = time.process_time(), _process_cpu(server.process.pid)
            await start_call(bot.services)
            deadline = time.monotonic() + n / LIMIT * 5 + 60
            while time.monotonic() < deadline:
                stats = await asyncio.to_thread(server.get, "stats")
                if stats["unique_recipients"] >= n:
                    break
                await asyncio.sleep(0.25)
            cpu = time.process_time() - cpu
            server_cpu = _process_cpu(server.process.pid) - server_cpu
            stats = await asyncio.to_thread(server.get, "stats")
    return {
        "ratio": rate_of(stats) / LIMIT,
        "too_many": stats["too_many_requests"],
        "delivered": stats["unique_recipients"],
        "bot_ms": cpu / n * 1000,
        "server_ms": server_cpu / n * 1000,
    }


def _line(path: str, rounds: list[dict[str, Any]]) -> str:
    ratios = [r["ratio"] for r in rounds]
    return (
        f"paid.{path:<12} rate/1000={statistics.median(ratios):.3f} "
        f"(rounds {' '.join(f'{x:.3f}' for x in ratios)}) "
        f"429s={sum(r['too_many'] for r in rounds)} "
        f"cpu/msg bot={statistics.median(r['bot_ms'] for r in rounds):.3f} ms "
        f"server={statistics.median(r['server_ms'] for r in rounds):.3f} ms "
        f"delivered={min(r['delivered'] for r in rounds)}"
    )


def run(quick: bool = False) -> list[str]:
    n = 3_000 if quick else 10_000
    repeats = int(os.environ.get("BENCH_PAID_ROUNDS", 3))
    results: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    load_before = _load()
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(repeats):
            for path in PATHS[index % len(PATHS) :] + PATHS[: index % len(PATHS)]:
                results[path].append(asyncio.run(paid_round(n, Path(tmp), path, index)))
    lean, ptb = results["lean"], results["ptb"]

    def median_of(rounds: list[dict[str, Any]], key: str) -> float:
        return max(1e-9, statistics.median(r[key] for r in rounds))

    return [
        f"paid n={n} limit={LIMIT}/s, {repeats} rounds per path, alternated; "
        f"load average {load_before} before, {_load()} after (2 cores)",
        _line("lean", lean) + " (target rate/1000>=0.95)",
        _line("lean_aiohttp", results["lean_aiohttp"]) + " (same requests over aiohttp)",
        _line("ptb", ptb) + " (baseline: every message through PTB's send_message)",
        f"paid.gain lean/ptb rate={median_of(lean, 'ratio') / median_of(ptb, 'ratio'):.2f}x "
        f"bot cpu/msg={median_of(ptb, 'bot_ms') / median_of(lean, 'bot_ms'):.2f}x less",
    ]
