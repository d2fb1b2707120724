"""The sandbox page in a real headless Chromium: a visitor clicks through the phones.

Uses Playwright for Python with Debian's Chromium (/usr/bin/chromium, installed by
.ci/browser); `playwright install` is never needed. Locally the tests skip with a reason when
Chromium or Playwright is missing; under CI (the CI variable set) they fail instead, so a
missing browser can never turn the suite silently green. Screenshots of every step go to
tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot.texts import Texts, plain
from sandbox.demo import AMBASSADOR_ID, CITIZEN_ID, COORDINATOR_ID, TECHNICIAN_ID
from sandbox.launcher import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOCALES = Path(__file__).resolve().parents[2] / "bot" / "locales"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run .ci/browser: apt-get install -y chromium)"
    return None


_REASON = _missing()
pytestmark = [pytest.mark.browser]
if _REASON is not None:
    if os.environ.get("CI"):
        # A collection error fails the CI run: a missing browser must never look green.
        raise RuntimeError(f"browser tests cannot run in CI: {_REASON}")
    pytestmark.append(pytest.mark.skip(reason=_REASON))

TEXTS = Texts.load("fr")


def label(key: str, lang: str = "fr", **params: Any) -> str:
    """A button label exactly as the bot renders it, from the catalogues."""
    return plain(TEXTS.get(lang, key, **params))


def product_label(feature: str, wanted: str) -> str:
    """A label named in PRODUCT.md, checked against the feature's French catalogue."""
    catalogue = (LOCALES / "fr" / f"{feature}.po").read_text(encoding="utf-8")
    strings = re.findall(r'^msgstr "(.*)"$', catalogue, flags=re.MULTILINE)
    for text in strings:
        if plain(text.replace('\\"', '"')) == wanted:
            return wanted
    matches = [s for s in strings if wanted.lower() in s.lower()]
    assert matches, f"no label {wanted!r} in bot/locales/fr/{feature}.po"
    return plain(matches[0].replace('\\"', '"'))


class Shots:
    """Numbered screenshots of one test under tests/artifacts/<test name>/."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def __call__(self, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


def _read(path: Any) -> bytes:
    return Path(path).read_bytes()


def phone(page: Any, user_id: int) -> Any:
    return page.locator(f'[data-phone="{user_id}"]')


async def type_in(page: Any, user_id: int, text: str) -> None:
    box = phone(page, user_id).locator(".input")
    await box.fill(text)
    await box.press("Enter")


async def tap(page: Any, user_id: int, text: str) -> None:
    """Press the newest inline button with exactly this text, and wait for the bot's answer."""
    button = phone(page, user_id).locator(
        ".keyboard .kb", has_text=re.compile(f"^{re.escape(text)}$")
    )
    await button.last.click()
    await page.wait_for_function(
        "() => !document.querySelector('.kb.pending')", timeout=TIMEOUT_MS
    )


async def bot_says(page: Any, user_id: int, text: str) -> Any:
    message = phone(page, user_id).locator(".msg.bot", has_text=text).last
    await message.wait_for()
    return message


async def test_page_shows_four_phones_and_panel(page: Any, request: Any) -> None:
    shots = Shots(page, request.node.name)
    for user_id in (CITIZEN_ID, AMBASSADOR_ID, TECHNICIAN_ID, COORDINATOR_ID):
        await phone(page, user_id).wait_for()
    assert await page.locator(".phone").count() == 4
    assert await phone(page, COORDINATOR_ID).locator(".role").inner_text() == "Coordination"
    await page.locator("[data-lang='en']").click()
    assert await phone(page, COORDINATOR_ID).locator(".role").inner_text() == "Coordinator"
    await page.locator("#add-phone").click()
    await page.locator(".phone").nth(4).wait_for()
    await shots("five-phones-english")
    await page.locator("[data-lang='fr']").click()
    await page.set_viewport_size({"width": 390, "height": 844})
    boxes = [await phone(page, uid).bounding_box() for uid in (CITIZEN_ID, AMBASSADOR_ID)]
    assert boxes[0] is not None and boxes[1] is not None
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1  # phones stack on a phone
    await shots("phone-width")


async def test_citizen_onboards_through_the_page(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    shots = Shots(page, request.node.name)
    await shots("start")
    await type_in(page, CITIZEN_ID, "/start")
    await (
        phone(page, CITIZEN_ID).locator(".kb", has_text=label("consent.button.accept")).wait_for()
    )
    notice = phone(page, CITIZEN_ID).locator(".msg.bot").first
    assert await notice.locator("b").count() >= 1  # HTML formatting rendered, not shown raw
    assert "<b>" not in await notice.inner_text()
    await shots("consent-notice")

    await tap(page, CITIZEN_ID, label("consent.button.accept"))
    await bot_says(page, CITIZEN_ID, "Camille")
    await shots("name-question")
    await type_in(page, CITIZEN_ID, "Camille")
    territory = sandbox.bot_settings.territories[0]
    await tap(page, CITIZEN_ID, territory)
    await shots("territory-chosen")
    theme = sandbox.bot_settings.themes[0]
    await tap(page, CITIZEN_ID, f"▫️ {theme}")
    await phone(page, CITIZEN_ID).locator(".kb", has_text=f"✅ {theme}").wait_for()
    await shots("theme-ticked")  # the same message was edited in place
    await tap(page, CITIZEN_ID, label("common.button.confirm"))
    await bot_says(page, CITIZEN_ID, "porte-voix")
    await tap(page, CITIZEN_ID, label("common.button.no"))
    await bot_says(page, CITIZEN_ID, "jardinier citoyen")
    await tap(page, CITIZEN_ID, label("common.button.yes"))
    await bot_says(page, CITIZEN_ID, "🎉")
    await shots("onboarded")

    member = await sandbox.services.members.get(CITIZEN_ID)
    assert member is not None and member.onboarded_at is not None
    assert member.territory == territory and member.themes == [theme]
    assert member.is_citizen_gardener and not member.is_ambassador

    await phone(page, CITIZEN_ID).locator(".menu-btn").click()
    menu = phone(page, CITIZEN_ID).locator(".menu")
    await menu.locator("button", has_text="/profil").click()
    await bot_says(page, CITIZEN_ID, territory)
    await shots("profile-from-menu")


async def test_citizen_sends_a_photo(page: Any, sandbox: Sandbox, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(PNG_1X1)
    await phone(page, CITIZEN_ID).locator(".file").set_input_files(str(image))
    picture = phone(page, CITIZEN_ID).locator(".msg.user img")
    await picture.wait_for()
    assert await picture.evaluate("img => img.complete && img.naturalWidth") == 1
    citizen = sandbox.server.get_user(CITIZEN_ID)
    assert citizen is not None
    assert any(
        event.kind == "sent" and event.message and event.message.photo for event in citizen.events
    )


async def test_clock_control_moves_time(page: Any, sandbox: Sandbox) -> None:
    before = sandbox.clock.now()
    shown = await page.locator("#clock").inner_text()
    await page.locator("[data-step='fortnight']").click()
    await page.wait_for_function(
        "(old) => document.querySelector('#clock').textContent !== old", arg=shown
    )
    assert (sandbox.clock.now() - before).days == 14


async def test_bot_photo_and_document_render_and_download(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    shots = Shots(page, request.node.name)
    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
    await sandbox.app.bot.send_photo(CITIZEN_ID, photo=jpeg, caption="<i>Affiche</i> du repas")
    await sandbox.app.bot.send_document(
        CITIZEN_ID, document=b"id;nom\n1;Camille\n", filename="membres.csv"
    )
    citizen = phone(page, CITIZEN_ID)
    await citizen.locator(".msg.bot .photo-stub").wait_for()  # fake bytes: a placeholder
    assert await citizen.locator(".msg.bot i", has_text="Affiche").count() == 1
    link = citizen.locator(".msg.bot a.doc", has_text="membres.csv")
    await link.wait_for()
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    saved = await download.path()
    assert download.suggested_filename == "membres.csv"
    assert _read(saved) == b"id;nom\n1;Camille\n"
    await shots("media")


async def test_only_telegram_html_survives_in_a_bubble(page: Any) -> None:
    html = (
        '<b>gras</b><img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'
        '<a href="javascript:window.pwned=1">lien</a><a href="https://example.org">ok</a>'
        '<span class="tg-spoiler">secret</span><div onclick="x">texte</div>'
    )
    result = await page.evaluate(
        """(html) => {
            const box = document.createElement('div');
            box.appendChild(renderHtml(html));
            return box.innerHTML;
        }""",
        html,
    )
    assert "<b>gras</b>" in result
    assert "<img" not in result and "<script" not in result and "onclick" not in result
    assert "javascript:" not in result
    assert 'href="https://example.org/"' in result
    assert 'class="spoiler"' in result and "texte" in result
    assert await page.evaluate("() => window.pwned") is None


# ------------------------------------------------------------------------------------------
# Flows of features built on other branches: they run once those modules are merged.


async def test_call_answered_by_citizen_updates_coordinator_summary(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    pytest.importorskip("handlers.calls")
    shots = Shots(page, request.node.name)
    yes = product_label("calls", "Je viens")
    await onboard_citizen(page, sandbox)
    await type_in(page, COORDINATOR_ID, "/appel")
    await bot_says(page, COORDINATOR_ID, "Nouvel appel")
    await type_in(page, COORDINATOR_ID, "Distribution de repas aux aînés, il faut des bras !")
    await bot_says(page, COORDINATOR_ID, "Où ?")
    await type_in(page, COORDINATOR_ID, "Salle des fêtes")
    await bot_says(page, COORDINATOR_ID, "Quand ?")
    await type_in(page, COORDINATOR_ID, "demain 14h")
    await bot_says(page, COORDINATOR_ID, "Combien")
    await type_in(page, COORDINATOR_ID, "3")
    await bot_says(page, COORDINATOR_ID, "Jusqu'à quand")
    await shots("call-deadline-question")
    await tap(page, COORDINATOR_ID, label("calls.button.deadline_2h"))
    await bot_says(page, COORDINATOR_ID, "Quels territoires")
    await tap(page, COORDINATOR_ID, label("audience.button.all_territories"))
    await bot_says(page, COORDINATOR_ID, "Quels thèmes")
    await tap(page, COORDINATOR_ID, label("audience.button.all_themes"))
    await bot_says(page, COORDINATOR_ID, "À qui")
    await tap(page, COORDINATOR_ID, label("audience.button.everyone"))
    preview = await bot_says(page, COORDINATOR_ID, "recevront")
    assert await preview.locator(".kb", has_text=label("calls.button.send_now")).count() == 1
    await shots("call-preview")

    await tap(page, COORDINATOR_ID, label("calls.button.send_now"))
    await bot_says(page, COORDINATOR_ID, "en cours d'envoi")
    summary = (
        phone(page, COORDINATOR_ID)
        .locator(".msg.bot", has_text="Appel n°")
        .filter(has_text="Je viens : 0/3")
    )
    await summary.last.wait_for()
    call = await bot_says(page, CITIZEN_ID, "Distribution de repas")
    assert await call.locator(".kb", has_text=yes).count() == 1
    await shots("call-on-citizen-phone")

    await tap(page, CITIZEN_ID, yes)
    await phone(page, CITIZEN_ID).locator(".toast", has_text="Merci").wait_for()
    await shots("citizen-answered")
    # The coordinator's summary message is edited in place and now counts one "Je viens".
    edited_summary = (
        phone(page, COORDINATOR_ID)
        .locator(".msg.bot", has=page.locator(".meta"))
        .filter(has_text=f"{yes} : 1/3")
    )
    await edited_summary.last.wait_for()
    summaries = phone(page, COORDINATOR_ID).locator(".msg.bot", has_text="📊")
    assert await summaries.count() == 1  # edited in place, not sent again
    await shots("summary-updated")
    answers = await sandbox.services.db.fetch_all("SELECT member_id, answer FROM call_answers")
    assert [(r["member_id"], r["answer"]) for r in answers] == [(CITIZEN_ID, "yes")]


async def test_proposal_moderated_end_to_end(page: Any, sandbox: Sandbox, request: Any) -> None:
    pytest.importorskip("handlers.initiatives")
    shots = Shots(page, request.node.name)
    publish = product_label("initiatives", "Publier")
    theme = sandbox.bot_settings.themes[1]
    territory = sandbox.bot_settings.territories[0]
    await onboard_citizen(page, sandbox)
    await type_in(page, CITIZEN_ID, "/proposer")
    await bot_says(page, CITIZEN_ID, "80")
    await type_in(page, CITIZEN_ID, "Boîte à livres place du marché")
    await bot_says(page, CITIZEN_ID, "600")
    await type_in(page, CITIZEN_ID, "Une boîte à livres en bois, entretenue par les voisins.")
    await bot_says(page, CITIZEN_ID, "Quel est son thème")
    await tap(page, CITIZEN_ID, theme)
    await bot_says(page, CITIZEN_ID, "Où se passera")
    await tap(page, CITIZEN_ID, territory)
    await bot_says(page, CITIZEN_ID, "De quoi avez-vous besoin")
    await tap(page, CITIZEN_ID, "▫️ " + label("initiatives.need.equipment"))
    await (
        phone(page, CITIZEN_ID)
        .locator(".kb", has_text="✅ " + label("initiatives.need.equipment"))
        .wait_for()
    )
    await tap(page, CITIZEN_ID, label("common.button.confirm"))
    await bot_says(page, CITIZEN_ID, "Aperçu")
    await shots("proposal-preview")
    await tap(page, CITIZEN_ID, label("initiatives.button.submit"))
    await bot_says(page, CITIZEN_ID, "Votre proposition est envoyée")

    notice = await bot_says(page, COORDINATOR_ID, "Nouvelle proposition")
    assert "Boîte à livres" in await notice.inner_text()
    await shots("moderation-notice")
    await type_in(page, COORDINATOR_ID, "/propositions")
    queue = await bot_says(page, COORDINATOR_ID, "Proposition 1 sur 1")
    assert "Boîte à livres" in await queue.inner_text()
    await shots("moderation-queue")
    await tap(page, COORDINATOR_ID, publish)
    await bot_says(page, COORDINATOR_ID, "est publiée")
    told = await bot_says(page, CITIZEN_ID, "Bonne nouvelle")
    assert "Boîte à livres place du marché" in await told.inner_text()
    await shots("author-told")
    rows = await sandbox.services.db.fetch_all(
        "SELECT status, author_id FROM initiatives WHERE title = ?",
        ("Boîte à livres place du marché",),
    )
    assert [(r["status"], r["author_id"]) for r in rows] == [("published", CITIZEN_ID)]


async def test_clock_moves_and_checkin_reaches_both_gardeners(
    page: Any, sandbox: Sandbox, request: Any
) -> None:
    pytest.importorskip("handlers.pairs")
    shots = Shots(page, request.node.name)
    progress = product_label("pairs", "Ça avance")
    await onboard_citizen(page, sandbox, gardener=True)
    # The matcher proposes pairs; the coordinator confirms Camille's with the technician.
    await type_in(page, COORDINATOR_ID, "/binomes")
    proposals = await bot_says(page, COORDINATOR_ID, "Propositions de binômes")
    lines = (await proposals.inner_text()).splitlines()
    mine = [line for line in lines if re.match(r"^\d+\. Camille ↔ Sophie", line)]
    assert mine, lines
    number = mine[0].split(".")[0]
    await shots("pair-proposals")
    await tap(page, COORDINATOR_ID, label("pairs.button.confirm_one", n=number))
    await (
        phone(page, COORDINATOR_ID)
        .locator(".msg.bot", has_text=f"{number}. ✅ Camille ↔ Sophie")
        .wait_for()
    )
    await bot_says(page, TECHNICIAN_ID, "Votre binôme est formé")
    told = await bot_says(page, CITIZEN_ID, "Votre binôme est formé")
    assert "Sophie" in await told.inner_text()
    assert "Camille" in await (await bot_says(page, TECHNICIAN_ID, "binôme")).inner_text()
    await shots("pair-formed")

    # Two weeks later the check-in is due; it waits for the day window (09:00-20:00 in
    # Paris), so the visitor moves the clock on hour by hour until it goes out.
    await advance(page, "fortnight")
    for _ in range(24):
        if await checkins_sent(sandbox):
            break
        await advance(page, "hour")
    assert await checkins_sent(sandbox) == 1
    for user_id in (CITIZEN_ID, TECHNICIAN_ID):
        checkin = await bot_says(page, user_id, "Point binôme")
        assert await checkin.locator(".kb", has_text=progress).count() == 1
    await shots("checkin-on-both-phones")
    await tap(page, CITIZEN_ID, progress)
    await bot_says(page, CITIZEN_ID, "note")
    await shots("citizen-answered")


async def advance(page: Any, step: str) -> None:
    """Press a clock button and wait until the page shows the new time."""
    shown = await page.locator("#clock").inner_text()
    await page.locator(f"[data-step='{step}']").click()
    await page.wait_for_function(
        "(old) => document.querySelector('#clock').textContent !== old", arg=shown
    )


async def checkins_sent(sandbox: Sandbox) -> int:
    row = await sandbox.services.db.fetch_one("SELECT COUNT(*) AS n FROM pair_checkins")
    return int(row["n"]) if row is not None else 0


async def onboard_citizen(page: Any, sandbox: Sandbox, *, gardener: bool = False) -> None:
    await type_in(page, CITIZEN_ID, "/start")
    await tap(page, CITIZEN_ID, label("consent.button.accept"))
    await bot_says(page, CITIZEN_ID, "Camille")
    await type_in(page, CITIZEN_ID, "Camille")
    await tap(page, CITIZEN_ID, sandbox.bot_settings.territories[0])
    await tap(page, CITIZEN_ID, f"▫️ {sandbox.bot_settings.themes[0]}")
    await tap(page, CITIZEN_ID, label("common.button.confirm"))
    await bot_says(page, CITIZEN_ID, "porte-voix")
    await tap(page, CITIZEN_ID, label("common.button.no"))
    await bot_says(page, CITIZEN_ID, "jardinier citoyen")
    await tap(page, CITIZEN_ID, label("common.button.yes" if gardener else "common.button.no"))
    await bot_says(page, CITIZEN_ID, "🎉")
