"""Test harness: the real Application, polling our fake Bot API server on loopback.

A test says what people did (`await alice.send("/start")`, `await alice.press("J'accepte")`)
and what they saw (`await alice.receive(contains=...)`). Time only moves through the
injected FakeClock; `bot.tick()` runs the periodic duties right away instead of waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, run_sweepers
from bot.clock import FakeClock
from bot.config import Settings
from bot.context import Services
from sandbox.fakeapi import FakeTelegram
from tests import pg
from tests.state import State

# Every test closes what it opens, and the run always exits (see tests/resources.py).
pytest_plugins = ["tests.resources"]

COORDINATOR_ID = 900
TOKEN = "123456:TEST-TOKEN"


def make_settings(tmp_path: Path, server: FakeTelegram, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "telegram": {
            "token": TOKEN,
            "base_url": server.base_url,
            "base_file_url": server.base_file_url,
        },
        "database": {"path": str(tmp_path / "essaim.sqlite3")},
        "coordinators": [COORDINATOR_ID],
        "territories": ["Blaye", "Libourne", "Cenon"],
        "themes": ["Solidarité", "Environnement", "Culture"],
        "scheduler": {"tick_seconds": 3600},
        "organisation": {"name": "SMICVAL", "contact": "dpo@example.org"},
        # Tests click at machine speed: a per-chat spacing of 1 s would only make them slow.
        # Tests about pacing set their own rates.
        "sending": {"per_chat_per_second": 10},
    }
    if _postgres_url is not None:
        data["database"]["url"] = _postgres_url
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Settings(**data)


# --- the backend the suite runs on -----------------------------------------------------------

_postgres_url: str | None = None
"""The fresh PostgreSQL database of the running test, when the suite runs on PostgreSQL."""

SQLITE_ONLY = "about the SQLite file itself; this run is on PostgreSQL"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if pg.URL is None:
        return
    skip = pytest.mark.skip(reason=SQLITE_ONLY)
    for item in items:
        if "sqlite_only" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if pg.URL is None:
        terminalreporter.write_line(
            "PostgreSQL skipped: set ESSAIM_TEST_POSTGRES_URL to run the suite on it too"
        )
    else:
        terminalreporter.write_line("backend: PostgreSQL (ESSAIM_TEST_POSTGRES_URL)")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if pg.URL is not None:
        asyncio.run(pg.drop_template())


if pg.URL is not None:

    @pytest.fixture(autouse=True)
    async def _postgres_database() -> AsyncIterator[str]:
        global _postgres_url
        async for url in pg.fresh_database():
            _postgres_url = url
            try:
                yield url
            finally:
                _postgres_url = None


class BotHarness:
    """Runs the real application against the fake server; can be stopped and restarted."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings = settings
        self.clock = clock
        self.app: Any = None

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data.services
        return services

    @property
    def state(self) -> State:
        """Read what the bot stored, through its repositories (the same on every backend)."""
        return State(self.services.db)

    async def start(self) -> BotHarness:
        self.app = build_application(self.settings, clock=self.clock)
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1)
        await self.app.start()
        return self

    async def stop(self) -> None:
        if self.app is None:
            return
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
            if self.app.post_stop:
                await self.app.post_stop(self.app)
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
        self.app = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def tick(self) -> None:
        """Run every periodic duty now, then wait until the outbox has been sent."""
        await run_sweepers(self.services)
        await self.drain()

    async def drain(self) -> None:
        await self.services.require_dispatcher().drain()


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(token=TOKEN, bot_username="essaim_test_bot", bot_first_name="Essaim")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_bot(
    tmp_path: Path, server: FakeTelegram, clock: FakeClock
) -> AsyncIterator[Callable[..., Any]]:
    harnesses: list[BotHarness] = []

    async def factory(**overrides: Any) -> BotHarness:
        harness = BotHarness(make_settings(tmp_path, server, **overrides), clock)
        harnesses.append(harness)
        return await harness.start()

    yield factory
    for harness in harnesses:
        await harness.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., Any]) -> BotHarness:
    harness: BotHarness = await make_bot()
    return harness
