"""`make run` without a token: the fake Bot API, the real bot against it, and the web page.

Everything runs in one event loop. The bot is the production Application (bot.app) with only
three differences, all made here: its token and base URLs point at the fake server, its clock
runs with the wall clock and the page can jump it forward (SandboxClock), and its database is
a throw-away ``sandbox.sqlite3`` (next to the configured database, recreated at every start,
so a real deployment's data is never touched and every demo starts from the same seeded community).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import build_application, run_sweepers
from bot.config import Settings
from bot.context import Services
from sandbox.fakeapi import FakeTelegram

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "424242:SANDBOX-ESSAIM"
SANDBOX_DB_NAME = "sandbox.sqlite3"
# Telegram's global limit, so a big call is paced as it would be in production.
GLOBAL_PER_SECOND = 30.0


class SandboxClock:
    """The bot's clock in the sandbox: it runs with the wall clock, and the page's buttons
    jump it ahead. Digests, reminders and check-ins then fall due on their own, as in
    production, while "+1 h" / "+1 jour" still skip the waiting. `running=False` freezes it
    between jumps (a FakeClock), for tests that count exact seconds."""

    def __init__(self, start: datetime, *, running: bool = True) -> None:
        if start.tzinfo is None:
            raise ValueError("SandboxClock needs an aware datetime")
        self.running = running
        self._start = start
        self._origin = time.monotonic()
        self._jumped = timedelta()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin if self.running else 0.0
        return self._start + self._jumped + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> datetime:
        self._jumped += delta
        return self.now()


@dataclass
class Phone:
    """One phone on the page: a fake Telegram user and the role the demo gives them."""

    user_id: int
    name: str
    role: str  # citizen | ambassador | technician | coordinator


@dataclass
class Sandbox:
    """The three running parts; `start()` then `stop()`, or `async with`."""

    settings: Settings
    host: str | None = None
    port: int | None = None
    api_port: int | None = None
    db_path: Path | None = None
    realtime: bool = True
    server: FakeTelegram = field(init=False)
    clock: SandboxClock = field(init=False)
    bot_settings: Settings = field(init=False)
    app: Any = field(init=False, default=None)
    phones: list[Phone] = field(init=False, default_factory=list)
    web_runner: web.AppRunner | None = field(init=False, default=None)
    url: str = field(init=False, default="")
    bulk_added: int = field(init=False, default=0)

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data.services
        return services

    def _bot_settings(self) -> Settings:
        from sandbox.demo import COORDINATOR_ID

        db_path = self.db_path or self.settings.database.path.with_name(SANDBOX_DB_NAME)
        self.db_path = db_path
        telegram = self.settings.telegram.model_copy(
            update={
                "token": _secret(SANDBOX_TOKEN),
                "base_url": self.server.base_url,
                "base_file_url": self.server.base_file_url,
                "mode": "polling",
            }
        )
        # Always a throw-away SQLite file, even when the configuration names a PostgreSQL URL.
        database = self.settings.database.model_copy(update={"path": db_path, "url": None})
        coordinators = list(dict.fromkeys([*self.settings.coordinators, COORDINATOR_ID]))
        # Visitors click at demo speed on phones side by side: notices to a phone that was
        # just busy should not wait a second per message behind its own replies. The global
        # 30 messages/s pacing of broadcasts stays, so a call still shows the dispatcher.
        sending = self.settings.sending.model_copy(update={"per_chat_per_second": 10.0})
        return self.settings.model_copy(
            update={
                "telegram": telegram,
                "database": database,
                "coordinators": coordinators,
                "sending": sending,
            }
        )

    async def start(self) -> Sandbox:
        from sandbox import demo
        from sandbox.webapp import build_web_app

        sandbox_settings = self.settings.sandbox
        self.server = FakeTelegram(
            token=SANDBOX_TOKEN,
            bot_username="essaim_sandbox_bot",
            bot_first_name=self.settings.organisation.name[:64] or "Essaim",
            port=sandbox_settings.api_port if self.api_port is None else self.api_port,
            global_per_second=GLOBAL_PER_SECOND,
        )
        await self.server.start()
        self.clock = SandboxClock(datetime.now(UTC).replace(microsecond=0), running=self.realtime)
        self.bot_settings = self._bot_settings()
        assert self.db_path is not None
        _remove_database(self.db_path)
        await self._start_bot()
        self.phones = await demo.seed(self)

        web_app = build_web_app(self)
        self.web_runner = web.AppRunner(
            web_app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self.web_runner.setup()
        host = sandbox_settings.host if self.host is None else self.host
        port = sandbox_settings.port if self.port is None else self.port
        site = web.TCPSite(self.web_runner, host, port)
        await site.start()
        bound = self.web_runner.addresses[0]
        self.url = f"http://{host}:{bound[1]}/"
        return self

    async def _start_bot(self) -> None:
        # What Application.run_polling does, split so that it shares our event loop.
        self.app = build_application(self.bot_settings, clock=self.clock)
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.updater.start_polling(
            poll_interval=0.0, timeout=10, allowed_updates=["message", "callback_query"]
        )
        await self.app.start()

    async def stop(self) -> None:
        if self.web_runner is not None:
            await self.web_runner.cleanup()
            self.web_runner = None
        if self.app is not None:
            with contextlib.suppress(Exception):
                if self.app.updater.running:
                    await self.app.updater.stop()
                if self.app.running:
                    await self.app.stop()
                await self.app.shutdown()
                if self.app.post_shutdown:
                    await self.app.post_shutdown(self.app)
            self.app = None
        await self.server.stop()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def advance_clock(self, seconds: float) -> datetime:
        """Move the bot's time forward, run the periodic duties, wake the dispatcher."""
        now = self.clock.advance(timedelta(seconds=seconds))
        await run_sweepers(self.services)
        dispatcher = self.services.dispatcher
        if dispatcher is not None:
            dispatcher.wake()
        return now


def _remove_database(path: Path) -> None:
    """Every sandbox start begins from the same seeded community."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def banner(sandbox: Sandbox) -> str:
    return "\n".join(
        [
            "",
            "  Essaim — bac à sable / sandbox (no Telegram token configured)",
            "",
            f"  Ouvrez / open  {sandbox.url}",
            "",
            "  Quatre téléphones parlent au vrai bot : une habitante, un porte-voix,",
            "  une jardinière technicienne et une coordinatrice. Tapez /start dans le",
            "  premier. « + » ajoute un habitant ; l'horloge du bot tourne en temps réel,",
            "  ses boutons la font avancer d'un coup.",
            "  Four phones talk to the real bot: type /start in the first one.",
            "",
            f"  Fake Bot API: {sandbox.server.base_url}  database: {sandbox.db_path}",
            "  (recreated at every start).  Ctrl-C to stop.",
            "",
        ]
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run until `stop` is set (or SIGINT/SIGTERM), then shut everything down."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    sandbox = Sandbox(settings)
    try:
        await sandbox.start()
    except OSError as error:
        print(f"sandbox: cannot start ({error})", flush=True)
        with contextlib.suppress(Exception):
            await sandbox.stop()
        return 1
    try:
        print(banner(sandbox), flush=True)
        await stop.wait()
    finally:
        print("  stopping…", flush=True)
        await sandbox.stop()
    return 0


def run_sandbox(settings: Settings) -> int:
    """Entry point used by `python -m bot` when no token is configured."""
    return asyncio.run(serve(settings))
