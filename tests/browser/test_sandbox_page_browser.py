"""The sandbox page itself (issue 16, items 24 to 27): its clock runs in real time, invite
links open a phone, role labels follow the members, the layout at phone and laptop widths,
and emoji drawn in colour. Screenshots at phone width go to tests/artifacts/."""

from __future__ import annotations

import re
from typing import Any

from sandbox.demo import AMBASSADOR_ID, CITIZEN_ID, COORDINATOR_ID, TECHNICIAN_ID
from sandbox.launcher import Sandbox
from tests.browser.test_sandbox_browser import Shots, advance, label, phone, type_in

SEEDED = (CITIZEN_ID, AMBASSADOR_ID, TECHNICIAN_ID, COORDINATOR_ID)

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


async def test_phone_width_shows_phones_first_with_a_bar_to_jump(page: Any, request: Any) -> None:
    await page.set_viewport_size(PHONE_VIEWPORT)
    shots = Shots(page, request.node.name)
    first = await phone(page, CITIZEN_ID).bounding_box()
    panel = await page.locator(".panel").bounding_box()
    assert first is not None and panel is not None
    assert first["y"] < panel["y"]  # the phones come before the side panel
    bar = page.locator("#phone-bar")
    assert await bar.is_visible()
    names = [n.strip() for n in await bar.locator("button").all_inner_texts()]
    assert names == ["Camille", "Yanis", "Sophie", "Hélène"]
    await shots("phones-first")
    await bar.locator("button", has_text="Hélène").click()
    await page.wait_for_function(
        "(id) => { const r = document.querySelector(`[data-phone='${id}']`)"
        ".getBoundingClientRect(); return r.top >= 0 && r.top < 200; }",
        arg=COORDINATOR_ID,
    )
    assert await bar.is_visible()  # the bar stays at the top while scrolling
    path = shots.folder / "jumped-to-coordinator.png"
    await page.screenshot(path=str(path))


async def test_laptop_screen_shows_the_coordinator_without_scrolling(
    page: Any, request: Any
) -> None:
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.evaluate("() => window.scrollTo(0, 0)")
    box = await phone(page, COORDINATOR_ID).bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= 800, box
    assert box["x"] + box["width"] <= 1280, box
    await page.screenshot(path=str(Shots(page, request.node.name).folder / "laptop.png"))


async def test_language_switch_changes_the_page_only(page: Any, sandbox: Sandbox) -> None:
    english = page.locator("[data-lang='en']")
    assert "page" in (await english.get_attribute("title") or "")
    await english.click()
    assert await phone(page, COORDINATOR_ID).locator(".role").inner_text() == "Coordinator"
    assert "this page" in (await english.get_attribute("title") or "")
    for user_id in SEEDED:
        user = sandbox.server.get_user(user_id)
        assert user is not None and user.language_code == "fr"
    await type_in(page, CITIZEN_ID, "/start")
    accept = label("consent.button.accept")  # the bot still speaks French to Camille
    await phone(page, CITIZEN_ID).locator(".kb", has_text=accept).wait_for()


async def test_invite_link_opens_the_invited_phone_and_its_role_follows(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    await page.set_viewport_size(PHONE_VIEWPORT)
    shots = Shots(page, request.node.name)
    ambassador = phone(page, AMBASSADOR_ID)
    assert await ambassador.locator(".role").inner_text() == "Porte-voix"
    await type_in(page, COORDINATOR_ID, "/inviter technicien")
    link = phone(page, COORDINATOR_ID).locator(".msg.bot a.start-link")
    await link.wait_for()
    href = await link.get_attribute("href") or ""
    found = re.search(r"\?start=([\w-]+)$", href)
    assert found is not None and "t.me/essaim_sandbox_bot" in href, href
    code = found.group(1)
    await link.click()
    dialog = page.locator("#invite")
    await dialog.wait_for()
    assert f"/start {code}" in await dialog.inner_text()  # says what to type, too
    assert await dialog.locator(f"[data-invite-phone='{COORDINATOR_ID}']").count() == 0
    await page.screenshot(path=str(shots.folder / "01-invite-chooser.png"))
    await dialog.locator(f"[data-invite-phone='{AMBASSADOR_ID}']").click()
    await ambassador.locator(".msg.user", has_text=f"/start {code}").wait_for()
    await ambassador.locator(".role", has_text="Technicienne ou technicien").wait_for()
    assert await dialog.is_hidden()
    member = await sandbox.services.members.get(AMBASSADOR_ID)
    assert member is not None and member.is_technician
    await ambassador.scroll_into_view_if_needed()
    await page.screenshot(path=str(shots.folder / "02-invited-phone.png"))
    # The page drawn afresh keeps the new label (read from the member, not the seed).
    await page.reload()
    await page.wait_for_selector("body[data-ready='1']")
    role = phone(page, AMBASSADOR_ID).locator(".role")
    assert await role.inner_text() == "Technicienne ou technicien"
