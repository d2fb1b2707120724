"""Two workers on PostgreSQL: a call on the shared budget, and kill -9 of the lease holder.

Needs `ESSAIM_BENCH_POSTGRES_URL` (a server where a scratch database can be created). The
fake Bot API runs in its own process with Telegram's limits (30/s, 1/s per chat) and 10 ms
of latency; both workers are real `python -m bot run` processes behind a round-robin proxy
(sandbox/balancer.py), the webhook set by the lease holder. Figures:

- `workers.call_two_workers`: a call to N members sent by two workers: rate / 30 and 429s
  (the standby worker takes its slots from the same budget as the holder);
- `workers.failover`: kill -9 of the holder half-way: seconds from the kill to the next
  message Telegram accepted, and the duplicates it caused (bound: max_in_flight + 50);
- `workers.inbound`: members pressing "Je viens" on the call, 32 at a time, through the
  proxy, on one worker then on two (no limits, as bench_inbound): presses/s and the ratio
  (on 2 cores shared with the fake server and PostgreSQL two cannot be faster; the goal is
  that coordination costs little: two >= 0.9 of one).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import TOKEN, ServerProcess, rate_of
from sandbox.balancer import Balancer
from sandbox.cluster import WorkerProcess, holder_of, worker_env

URL = os.environ.get("ESSAIM_BENCH_POSTGRES_URL")
SECRET = "bench-secret"
FIRST_ID = 100_000
MAX_IN_FLIGHT = 64


async def _scratch(name: str) -> str:
    import asyncpg

    assert URL is not None
    admin = await asyncpg.connect(URL)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    scheme, rest = URL.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}/{name}"


async def _publish(url: str, server: ServerProcess, members: range) -> None:
    """Members seeded with executemany, then the call queued by the real service, in a
    process that never sends (someone else holds the lease meanwhile)."""
    from benchmarks.bench_calls import start_call
    from benchmarks.common import RunningBot, bench_settings
    from storage.db import open_database

    db = await open_database(url)
    now = datetime.now(UTC)
    try:
        await db.executemany(
            "INSERT INTO members (telegram_id, display_name, username, language, territory, "
            "is_ambassador, consent_at, onboarded_at, referral_code, created_at, last_seen_at) "
            "VALUES (?, ?, ?, 'fr', 'Blaye', ?, ?, ?, ?, ?, ?)",
            [(i, f"M{i}", f"m{i}", False, now, now, f"r{i}", now, now) for i in members],
        )
        await db.executemany(
            "INSERT INTO member_themes (member_id, theme) VALUES (?, 'Solidarité')",
            [(i,) for i in members],
        )
        await db.execute(
            "INSERT INTO leases (name, holder, token, expires_at, renewed_at) VALUES "
            "('sender', 'bench', 1, clock_timestamp() + interval '1 hour', clock_timestamp())"
        )
        settings = bench_settings(server, Path("unused"), messages_per_second=30)
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": url})}
        )
        async with RunningBot(settings) as bot:
            await start_call(bot.services)
        await db.execute("UPDATE leases SET expires_at = clock_timestamp()")
    finally:
        await db.close()


async def _round(
    members: int,
    kill: bool,
    workdir: Path,
    *,
    workers_count: int = 2,
    presses: int = 0,
    shared: bool = True,
) -> dict[str, Any]:
    recipients = range(FIRST_ID, FIRST_ID + members)
    url = await _scratch(f"essaim_bench_workers_{os.getpid()}")
    limits: dict[str, Any] = (
        {"webhook_connections": 32}
        if presses
        else {"global_per_second": 30, "per_chat_per_second": 1, "latency": 0.01}
    )
    pressed = 0.0
    with ServerProcess(**limits) as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        await _publish(url, server, recipients)
        proxy = await Balancer([]).start()
        env = dict(
            SENDING__MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
            COORDINATORS="[1]",
            WORKERS__SHARED_BUDGET=str(shared).lower(),
        )
        workers = [
            WorkerProcess(
                worker_env(TOKEN, server.base_url, url, proxy.url + "/telegram", SECRET, **env),
                workdir / f"worker{n}.log",
            )
            for n in range(1, workers_count + 1)
        ]
        proxy.upstreams += [w.upstream for w in workers]
        proxy.forwarded.update(dict.fromkeys(proxy.upstreams, 0))
        killed_at: float | None = None
        try:
            for worker in workers:
                await worker.start()
            holder = await holder_of(workers)
            if presses:
                while server.get("stats")["unique_recipients"] < members + 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                pressed = await _press_all(server, recipients, presses)
            while server.get("stats")["unique_recipients"] < members // 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if kill:
                await holder.kill()
                killed_at = time.monotonic()  # CLOCK_MONOTONIC: the server's clock too
            while server.get("stats")["unique_recipients"] < members:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        finally:
            for worker in workers:
                await worker.stop()
            await proxy.stop()
        stats = _full_stats(server)
    return {"stats": stats, "killed_at": killed_at, "members": members, "pressed": pressed}


async def _press_all(server: ServerProcess, members: range, presses: int) -> float:
    from benchmarks.bench_inbound import _press_all as storm

    return await storm(server, members, presses)


def _full_stats(server: ServerProcess) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(
        f"http://127.0.0.1:{server.port}/_control/stats?full=1", timeout=30
    ) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _failover(result: dict[str, Any]) -> tuple[float, int]:
    stats, killed_at = result["stats"], result["killed_at"]
    times = sorted(stats.get("delivery_times") or [])
    # What was already on the wire lands within the latency: the next message after that.
    after = [t for t in times if t > killed_at + 0.1]
    gap = (after[0] - killed_at) if after else float("nan")
    counts: dict[int, int] = {}
    for chat in stats.get("delivered_chat_ids") or []:
        counts[chat] = counts.get(chat, 0) + 1
    duplicates = sum(n - 1 for chat, n in counts.items() if chat != 1)
    return gap, duplicates


def run(quick: bool = False) -> list[str]:
    if URL is None:
        return ["workers: skipped (set ESSAIM_BENCH_POSTGRES_URL)"]
    members = 2_000 if quick else 10_000
    failover_members = 1_000 if quick else 3_000
    press_members, presses = (100, 600) if quick else (200, 2_000)
    with tempfile.TemporaryDirectory() as tmp:
        call = asyncio.run(_round(members, False, Path(tmp)))
        # Baseline, same run: one worker pacing alone, as a single process does.
        alone = asyncio.run(_round(members, False, Path(tmp), workers_count=1, shared=False))
        crash = asyncio.run(_round(failover_members, True, Path(tmp)))
        one, two = (
            asyncio.run(_round(press_members, False, Path(tmp), workers_count=n, presses=presses))[
                "pressed"
            ]
            for n in (1, 2)
        )
    stats, base = call["stats"], alone["stats"]
    gap, duplicates = _failover(crash)
    return [
        f"workers.call_one_worker_unshared n={members} rate={rate_of(base):.2f}/s "
        f"ratio={rate_of(base) / 30:.3f} 429s={base['too_many_requests']} (baseline)",
        f"workers.call_two_workers n={members} rate={rate_of(stats):.2f}/s "
        f"ratio={rate_of(stats) / 30:.3f} of 30/s 429s={stats['too_many_requests']} "
        f"max_in_1s={stats['max_per_second']} (target >=0.97, 0 429s)",
        f"workers.failover n={failover_members} kill_to_next_send={gap:.2f}s "
        f"duplicates={duplicates} (bound {MAX_IN_FLIGHT + 50}) "
        f"429s={crash['stats']['too_many_requests']} (target <5 s)",
        f"workers.inbound one_worker={one:.0f}/s two_workers={two:.0f}/s "
        f"ratio={two / one if one else float('nan'):.2f} (target >=0.9; {presses} presses, "
        "32 at a time, through the proxy)",
    ]
