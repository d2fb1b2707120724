"""Backups of a PostgreSQL database with PostgreSQL's own tools (`pg_dump`, `pg_restore`).

The archive is pg_dump's custom format: compressed, consistent (one snapshot, safe while the
bot runs), restored with `pg_restore --clean`. The tools must be installed where the command
runs (Debian: the `postgresql-client` package) and of a version not older than the server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from storage.db import DatabaseProblem


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
        if candidates:
            return str(candidates[-1])
        raise DatabaseProblem(
            f"{name} not found: install PostgreSQL's client tools (apt-get install "
            "postgresql-client) to back up or restore a PostgreSQL database"
        )
    return found


async def dump(url: str, target: Path) -> None:
    """`pg_dump --format=custom` into `target` (through a .part file renamed at the end)."""
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))  # personal data: owner only
    os.chmod(tmp, 0o600)
    proc = await asyncio.create_subprocess_exec(
        _tool("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--file",
        str(tmp),
        "--dbname",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DatabaseProblem(f"backup failed: {_first_line(err)}")
    tmp.replace(target)


def restore(url: str, source: Path) -> None:
    """Replace what the database holds by the archive (`pg_restore --clean --if-exists`)."""
    if not source.exists():
        raise DatabaseProblem(f"{source}: no such file")
    listing = subprocess.run(
        [_tool("pg_restore"), "--list", str(source)], capture_output=True, check=False
    )
    if listing.returncode != 0:
        raise DatabaseProblem(f"{source}: not a pg_dump archive ({_first_line(listing.stderr)})")
    done = subprocess.run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            url,
            str(source),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise DatabaseProblem(f"restore failed: {_first_line(done.stderr)}")


def _first_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "no message"
