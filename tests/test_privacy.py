"""RGPD: a member sees everything stored about them, erases it, and inactive data expires."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta
from typing import Any

from bot.logs import setup_logging
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard

ALICE = 7_770_001
BRUNO = 7_770_002


def scan_database(bot: Any, member_id: int, needles: list[str]) -> list[str]:
    """Every place in every table where the member's id or one of the strings still appears."""
    found = []
    with sqlite3.connect(bot.settings.database.path) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for column, value in zip(columns, row, strict=True):
                    if value == member_id or (
                        isinstance(value, str)
                        and (str(member_id) in value or any(n in value for n in needles))
                    ):
                        found.append(f"{table}.{column}={value!r}")
    return found


async def test_my_data_contains_mine_and_nothing_of_others(server, bot):
    alice = await onboard(server, ALICE, "Alicia", ambassador=True, themes=("Culture",))
    await onboard(server, BRUNO, "Brunissime")
    await alice.send("/mesdonnees")
    sent = await alice.receive(contains="tout ce que nous gardons")
    assert sent.document is not None
    name, body = sent.document
    assert name.endswith(".json")
    data = json.loads(body.decode("utf-8"))
    assert data["profile"]["display_name"] == "Alicia"
    assert data["profile"]["themes"] == ["Culture"]
    assert data["profile"]["is_ambassador"] is True
    assert "Brunissime" not in body.decode("utf-8") and str(BRUNO) not in body.decode("utf-8")


async def test_forget_asks_first_then_leaves_no_trace(server, bot):
    alice = await onboard(server, ALICE, "Alicia", ambassador=True)
    await onboard(server, BRUNO, "Brunissime")
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer vos données")
    await alice.press("Annuler", message=confirm)
    await alice.receive(contains="Rien n'a été effacé")
    assert bot.sql("SELECT COUNT(*) FROM members WHERE telegram_id = ?", (ALICE,))[0][0] == 1

    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    assert scan_database(bot, ALICE, ["Alicia", "alicia"]) == []
    assert bot.sql("SELECT display_name FROM members")[0][0] == "Brunissime"

    await alice.send("/start")  # she may come back as a new member
    assert "Acceptez-vous" in (await alice.receive()).text


async def test_someone_else_cannot_press_my_erase_button(server, bot):
    alice = await onboard(server, ALICE, "Alicia")
    bruno = await onboard(server, BRUNO, "Brunissime")
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer vos données")
    data = confirm.button_data["Oui, tout effacer"]
    answer = await bruno.press_data(data, message_id=bruno.last.message_id)
    assert "plus valable" in answer.text
    assert bot.sql("SELECT COUNT(*) FROM members")[0][0] == 2


async def test_retention_warns_then_purges_inactive_members(server, bot, clock):
    await onboard(server, ALICE, "Alicia")
    bruno = await onboard(server, BRUNO, "Brunissime")
    clock.advance(timedelta(days=23 * 31))
    await bruno.send("/aide")  # Bruno is still around; Alicia is not
    await bruno.receive()
    await bot.tick()
    alice = server.user(ALICE)
    warning = await alice.receive(contains="seront effacées dans 30 jours")
    assert warning.text
    assert bot.sql("SELECT COUNT(*) FROM members")[0][0] == 2

    clock.advance(timedelta(days=40))
    await bot.tick()
    ids = [r[0] for r in bot.sql("SELECT telegram_id FROM members")]
    assert ids == [BRUNO]
    assert scan_database(bot, ALICE, ["Alicia"]) == []


async def test_a_warned_member_who_comes_back_is_kept(server, bot, clock):
    alice = await onboard(server, ALICE, "Alicia")
    clock.advance(timedelta(days=23 * 31))
    await bot.tick()
    await alice.receive(contains="seront effacées")
    await alice.send("/profil")
    await alice.receive(contains="Votre profil")
    clock.advance(timedelta(days=40))
    await bot.tick()
    assert bot.sql("SELECT COUNT(*) FROM members")[0][0] == 1


async def test_logs_hold_no_personal_data(server, bot, caplog):
    root = logging.getLogger()
    saved = list(root.handlers)
    setup_logging("DEBUG")  # the production configuration, at its most talkative
    root.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    secret_name, secret_user = "Zéphyrine", "zephyrine_secret"
    user = server.user(ALICE, secret_name, username=secret_user)
    await user.send("/start")
    await user.receive()
    await user.press("J'accepte")
    await user.receive(contains="prénom")
    await user.send("Zéphyrine Texte-Libre")
    await user.receive()
    coordinator = await onboard(server, COORDINATOR_ID, "Coordinatrice-Unique", staff=True)
    await coordinator.send("/inviter technicien")
    await coordinator.receive()
    await user.send("/oublier")
    await user.receive()
    # The fake Telegram server is not part of the bot: its own records are not the bot's logs.
    logged = "\n".join(
        r.getMessage() + (r.exc_text or "")
        for r in caplog.records
        if not r.name.startswith("sandbox")
    )
    root.handlers[:] = saved
    assert f"member {ALICE} consented" in logged  # the bot did log what happened, by id
    for secret in (secret_name, secret_user, "Texte-Libre", "Coordinatrice-Unique"):
        assert secret not in logged
