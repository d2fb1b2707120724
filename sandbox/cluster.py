"""Worker processes of one bot on one PostgreSQL, for the two-worker tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_env(
    token: str, base_url: str, database_url: str, hook: str, secret: str, **extra: str
) -> dict[str, str]:
    """A worker in webhook mode on its own ports; `extra` are more ESSAIM_ variables."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESSAIM_")},
        "ESSAIM_TELEGRAM__TOKEN": token,
        "ESSAIM_TELEGRAM__BASE_URL": base_url,
        "ESSAIM_TELEGRAM__MODE": "webhook",
        "ESSAIM_TELEGRAM__WEBHOOK_PORT": str(free_port()),
        "ESSAIM_TELEGRAM__WEBHOOK_URL": hook,
        "ESSAIM_TELEGRAM__WEBHOOK_PATH": "/telegram",
        "ESSAIM_TELEGRAM__WEBHOOK_SECRET": secret,
        "ESSAIM_DATABASE__URL": database_url,
        "ESSAIM_HEALTH__ENABLED": "true",
        "ESSAIM_HEALTH__PORT": str(free_port()),
        "ESSAIM_SCHEDULER__TICK_SECONDS": "3600",
        **{"ESSAIM_" + k: v for k, v in extra.items()},
    }


class WorkerProcess:
    """`python -m bot run` in a subprocess, its output in a file (a pipe could fill up)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.health_port = int(env["ESSAIM_HEALTH__PORT"])
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def upstream(self) -> str:
        return f"http://127.0.0.1:{self.env['ESSAIM_TELEGRAM__WEBHOOK_PORT']}"

    async def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bot", "--config", "absent.toml", "--log-level"),
                *("WARNING", "run"),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        return self

    async def health(self) -> dict[str, Any] | None:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                session.get(f"http://127.0.0.1:{self.health_port}/healthz") as response,
            ):
                result: dict[str, Any] = await response.json()
                return result
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()


async def holder_of(workers: list[WorkerProcess], timeout: float = 60.0) -> WorkerProcess:
    """The worker whose /healthz says it holds the sender lease."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for worker in workers:
            health = await worker.health()
            if health is not None and health["lease"] == "held":
                return worker
        await asyncio.sleep(0.1)
    raise TimeoutError("no worker took the lease")
