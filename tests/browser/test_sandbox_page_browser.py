"""The sandbox page itself (issue 16, items 24 to 27): its clock runs in real time, invite
links open a phone, role labels follow the members, the layout at phone and laptop widths,
and emoji drawn in colour. Screenshots at phone width go to tests/artifacts/."""

from __future__ import annotations

from typing import Any

from sandbox.demo import CITIZEN_ID
from sandbox.launcher import Sandbox
from tests.browser.test_sandbox_browser import Shots, advance, phone

PHONE_VIEWPORT = {"width": 390, "height": 844}


async def test_bot_clock_runs_in_real_time_and_buttons_jump(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    await page.set_viewport_size(PHONE_VIEWPORT)
    shots = Shots(page, request.node.name)
    before = sandbox.clock.now()
    shown = await page.locator("#clock").inner_text()
    # Nobody clicks: the clock shown moves by itself, as the bot's does.
    await page.wait_for_function(
        "(old) => document.querySelector('#clock').textContent !== old", arg=shown, timeout=5000
    )
    assert sandbox.clock.now() > before
    assert sandbox.services.clock.now() > before  # the bot reads this running clock
    await advance(page, "hour")
    jumped = (sandbox.clock.now() - before).total_seconds()
    assert 3600 < jumped < 3600 + 60
    assert "temps réel" in await page.locator(".panel").inner_text()
    await shots("clock-running")


async def test_emoji_render_in_colour(page: Any) -> None:
    # With no emoji font Chromium draws an empty box: black or grey strokes, no colour.
    coloured = await page.evaluate(
        """() => {
            const canvas = document.createElement('canvas');
            canvas.width = 64; canvas.height = 64;
            const g = canvas.getContext('2d');
            g.font = '48px sans-serif';
            g.textBaseline = 'top';
            g.fillStyle = '#000';
            g.fillText('🎉', 4, 4);
            const px = g.getImageData(0, 0, 64, 64).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4) {
                const [r, gr, b, a] = [px[i], px[i + 1], px[i + 2], px[i + 3]];
                if (a > 128 && Math.max(r, gr, b) - Math.min(r, gr, b) > 60) n += 1;
            }
            return n;
        }"""
    )
    assert coloured > 50, "no colour emoji font: apt-get install fonts-noto-color-emoji"
    await page.set_viewport_size(PHONE_VIEWPORT)
    await phone(page, CITIZEN_ID).locator(".input").fill("🎉 🌱 📍 ✅")
    await phone(page, CITIZEN_ID).locator(".input").press("Enter")
    await phone(page, CITIZEN_ID).locator(".msg.user", has_text="🌱").wait_for()
    await phone(page, CITIZEN_ID).scroll_into_view_if_needed()
    await page.screenshot(
        path=str(Shots(page, "test_emoji_render_in_colour").folder / "emoji.png")
    )
