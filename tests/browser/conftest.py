"""Fixtures of the browser tests: the sandbox (bot, fake Telegram and page server) on free
loopback ports, Debian's Chromium through Playwright, and a page open on the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from sandbox.launcher import Sandbox
from tests.browser.test_sandbox_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    # A visitor clicks much faster than a person types, and Telegram's pace of one message a
    # second per chat would hold a notice behind that burst for many seconds (the e2e tests
    # speed it up for the same reason): pacing is not the subject of these tests.
    settings = Settings(
        database={"path": str(tmp_path / "essaim.sqlite3")},
        sending={"per_chat_per_second": 10},
    )
    running = Sandbox(settings, port=0, api_port=0)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any, sandbox: Sandbox) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1600, "height": 950}, locale="fr-FR")
    tab = await context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    await tab.goto(sandbox.url)
    await tab.wait_for_selector("body[data-ready='1']")
    yield tab
    await context.close()
