"""PostgreSQL beside SQLite on the two loads that matter most (issue 17), in the same run:

1. a call to 10,000 members against Telegram's limits (the fake server in its own process:
   30 msg/s overall, 1 msg/s per chat, 80 ms per request): achieved rate / limit on each
   backend (goal >= 0.97 on both) and the 429s the server answered;
2. inbound presses answering a call (the storm generated in the server's process, as in
   bench_inbound): presses answered per second on each backend and PostgreSQL / SQLite;
   the median of ROUNDS rounds, the two backends interleaved so that a noisy minute hits both.
The machinery is bench_calls' and bench_inbound's, with the bot's `database.url` set.
PostgreSQL comes from ESSAIM_BENCH_POSTGRES_URL or a throwaway cluster (`.ci/postgres`);
without either the benchmark says so and measures nothing. `--quick`: 2,000 recipients.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import pg_server
from benchmarks.bench_calls import broadcast
from benchmarks.bench_inbound import CONCURRENCY
from benchmarks.bench_inbound import essaim as inbound
from benchmarks.common import median

ROUNDS = 3


def _call_on(admin: str | None, n: int, workdir: Path) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        if admin is None:
            return await broadcast(n, "essaim", workdir)
        async with pg_server.database(admin) as url:
            return await broadcast(n, "essaim", workdir, database=url)

    return asyncio.run(main())


def _presses_on(admin: str | None, members: int, presses: int, workdir: Path) -> float:
    async def main() -> float:
        if admin is None:
            return await inbound(members, presses, workdir)
        async with pg_server.database(admin) as url:
            return await inbound(members, presses, workdir, database=url)

    return asyncio.run(main())


def run(quick: bool = False) -> list[str]:
    n = 2_000 if quick else 10_000
    members, presses, rounds = (100, 1_000, 1) if quick else (200, 3_000, ROUNDS)
    with pg_server.server() as admin, tempfile.TemporaryDirectory() as tmp:
        if admin is None:
            return [f"backends: {line}" for line in pg_server.skipped_because]
        workdir = Path(tmp)
        lines = []
        backends = (("sqlite", None), ("pg", admin))
        calls = {name: _call_on(url, n, workdir) for name, url in backends}
        rates = {name: c["rate"] / 30 for name, c in calls.items()}
        errors = {name: c["stats"]["too_many_requests"] for name, c in calls.items()}
        lines.append(
            f"backends.call_rate n={n} limit=30/s  postgresql={rates['pg']:.3f} "
            f"sqlite={rates['sqlite']:.3f} (achieved/limit; goal >= 0.97 on both; 429s "
            f"postgresql={errors['pg']} sqlite={errors['sqlite']})"
        )
        on_pg: list[float] = []
        on_sqlite: list[float] = []
        for _ in range(rounds):
            on_sqlite.append(_presses_on(None, members, presses, workdir))
            on_pg.append(_presses_on(admin, members, presses, workdir))
        p, s = median(on_pg), median(on_sqlite)
        lines.append(
            f"backends.inbound_presses postgresql={p:.0f}/s sqlite={s:.0f}/s "
            f"ratio={p / s:.2f} (postgresql/sqlite; median of {rounds}, {presses} presses, "
            f"{CONCURRENCY} in flight)"
        )
    return lines
