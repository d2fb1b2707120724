"""A PostgreSQL server for the benchmarks that compare the backends (issue 17).

`ESSAIM_BENCH_POSTGRES_URL` names a server to use (a superuser's URL: each benchmark creates
and drops its own databases there). Without it, a throwaway cluster is started with
`.ci/postgres start` (Debian's postgresql package) and stopped afterwards. When neither is
possible, `server()` yields None and the PostgreSQL figures are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from itertools import count
from pathlib import Path

import asyncpg

from benchmarks.common import ROOT, free_port

_numbers = count(1)
skipped_because: list[str] = []
"""Why the last `server()` yielded None (one line)."""


@contextmanager
def server() -> Iterator[str | None]:
    """The admin URL of a PostgreSQL server, or None (see `skipped_because`)."""
    url = os.environ.get("ESSAIM_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    script = ROOT / ".ci" / "postgres"
    if not any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and os.geteuid() != 0:
        skipped_because[:] = [
            "PostgreSQL skipped: not installed (apt-get install postgresql) and "
            "ESSAIM_BENCH_POSTGRES_URL is not set"
        ]
        yield None
        return
    workdir = Path(tempfile.mkdtemp(prefix="essaim-bench-pg-"))
    os.chmod(workdir, 0o755)
    cluster = workdir / "cluster"
    started = subprocess.run(
        [str(script), "start", str(cluster), str(free_port())],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        reason = (started.stderr.strip().splitlines() or ["no reason given"])[-1]
        skipped_because[:] = [f"PostgreSQL skipped: .ci/postgres could not start ({reason})"]
        yield None
        return
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(script), "stop", str(cluster)], check=False, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _with_db(url: str, name: str) -> str:
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    query = "?" + tail.split("?", 1)[1] if "?" in tail else ""
    return f"{scheme}://{host}/{name}{query}"


@asynccontextmanager
async def database(admin_url: str) -> AsyncIterator[str]:
    """A new empty database on the server (the bot migrates it), dropped afterwards."""
    name = f"essaim_bench_{os.getpid()}_{next(_numbers)}"
    await _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield _with_db(admin_url, name)
    finally:
        await _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
