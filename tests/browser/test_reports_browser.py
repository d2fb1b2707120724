"""Signalements in the sandbox page, at phone width: a member reports, a coordinator follows.

Screenshots of every step go to tests/artifacts/<test name>/ (git-ignored).
"""

from __future__ import annotations

from typing import Any

from sandbox.demo import AMBASSADOR_ID, COORDINATOR_ID
from sandbox.launcher import Sandbox
from tests.browser.test_sandbox_browser import (
    Shots,
    bot_says,
    label,
    phone,
    pytestmark,
    tap,
    type_in,
)

__all__ = ["pytestmark"]  # the browser marker, and the skip when Chromium is missing


async def test_urgent_report_reaches_the_coordinator_who_takes_it(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    shots = Shots(page, request.node.name)

    async def snap(step: str, user_id: int) -> None:
        """The phone alone, as its owner sees it."""
        path = await shots(step)
        await phone(page, user_id).screenshot(path=str(path))

    await type_in(page, AMBASSADOR_ID, "/signaler")
    await bot_says(page, AMBASSADOR_ID, "112")
    await tap(page, AMBASSADOR_ID, label("reports.kind.isolated"))
    await tap(page, AMBASSADOR_ID, label("reports.button.urgent"))
    await tap(page, AMBASSADOR_ID, sandbox.bot_settings.territories[0])
    await bot_says(page, AMBASSADOR_ID, "nom complet")
    await snap("description-asked", AMBASSADOR_ID)
    await type_in(page, AMBASSADOR_ID, "Un monsieur seul au 3e ne répond plus depuis lundi.")
    await bot_says(page, AMBASSADOR_ID, "envoyer une position")
    await phone(page, AMBASSADOR_ID).locator(".locate").click()  # the page's 📍 button
    await bot_says(page, AMBASSADOR_ID, "envoyer une photo")
    await tap(page, AMBASSADOR_ID, label("reports.button.skip"))
    preview = await bot_says(page, AMBASSADOR_ID, "ne répond plus")
    assert "Position\u00a0: oui" in await preview.inner_text()
    await snap("preview", AMBASSADOR_ID)
    await tap(page, AMBASSADOR_ID, label("reports.button.send"))
    sent = await bot_says(page, AMBASSADOR_ID, "numéro")
    assert "/messignalements" in await sent.inner_text()
    await snap("sent", AMBASSADOR_ID)

    notice = await bot_says(page, COORDINATOR_ID, "Signalement urgent")
    assert "ne répond plus" not in await notice.inner_text()  # details stay inside the bot
    await snap("coordinator-notice", COORDINATOR_ID)
    await tap(page, COORDINATOR_ID, label("reports.button.open"))
    await bot_says(page, COORDINATOR_ID, "ne répond plus")
    await snap("coordinator-detail", COORDINATOR_ID)
    await tap(page, COORDINATOR_ID, label("reports.button.take"))
    told = await bot_says(page, AMBASSADOR_ID, "pris en charge")
    assert "Hélène" in await told.inner_text()
    await snap("member-told", AMBASSADOR_ID)
