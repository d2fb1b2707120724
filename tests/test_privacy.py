"""RGPD: a member sees everything stored about them, erases it, and inactive data expires."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.logs import setup_logging
from sandbox.fakeapi.users import seen
from storage.privacy_model import BY_NAME
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard

ALICE = 7_770_001
BRUNO = 7_770_002


async def scan_database(bot: Any, member_id: int, needles: list[str]) -> list[str]:
    """Every place in every table where the member's id or one of the strings still appears.

    The tables come from the schema (asked of the backend), not from the privacy model: a table
    the model forgot is scanned all the same.
    """
    found = []
    for table in await bot.services.db.table_names():
        for row in await bot.state.privacy.rows(table):
            for column, value in row.items():
                # A backend may give JSON back as Python values: search their text too.
                text = json.dumps(value, default=str) if isinstance(value, dict | list) else value
                if value == member_id or (
                    isinstance(text, str)
                    and (str(member_id) in text or any(n in text for n in needles))
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
    assert data["Votre profil"]["display_name"] == "Alicia"
    assert data["Votre profil"]["themes"] == ["Culture"]
    assert data["Votre profil"]["is_ambassador"] is True
    assert "Brunissime" not in body.decode("utf-8") and str(BRUNO) not in body.decode("utf-8")


async def test_my_data_reads_as_a_summary_then_a_file_in_my_language(server, bot):
    """Issue 16, item 22: a short text first; the file's sections are named, not tables."""
    alice = await onboard(server, ALICE, "Alicia", ambassador=True, themes=("Culture",))
    await alice.send("/mesdonnees")
    summary = seen((await alice.receive(contains="en bref")).text)
    assert "Nom : Alicia" in summary and "Thèmes : Culture" in summary
    assert "Vos thèmes : 1" in summary and "member_themes" not in summary
    sent = await alice.receive(contains="tout ce que nous gardons")
    data = json.loads(sent.document[1].decode("utf-8"))
    assert {"Date", "Organisation", "Votre profil", "Vos thèmes"} <= set(data)
    assert not any("_" in key or "." in key for key in data)
    assert data["Date"] == "2026-03-02 11:00"

    bob = await onboard(server, BRUNO, "Brunissime", language="en")
    await bob.send("/mydata")
    assert "Your themes: 1" in seen((await bob.receive(contains="in short")).text)
    sent = await bob.receive(contains="everything we keep")
    assert "Your profile" in json.loads(sent.document[1].decode("utf-8"))


async def test_every_section_given_back_is_named_in_both_languages(bot):
    from bot.texts import LANGUAGES
    from storage.privacy_model import TABLES

    sources = [f"{t.name}.{link.column}" for t in TABLES for link in t.links if link.given_back]
    sources += [t.name for t in TABLES if t.reached_by]
    privacy = bot.services.privacy
    for lang in LANGUAGES:
        names = [privacy.section_name(lang, source) for source in sources]
        assert not set(names) & set(sources), f"a section without a name in {lang}"
        assert len(set(names)) == len(names), f"two sections named alike in {lang}"


async def test_forget_asks_first_then_leaves_no_trace(server, bot):
    alice = await onboard(server, ALICE, "Alicia", ambassador=True)
    await onboard(server, BRUNO, "Brunissime")
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer vos données")
    await alice.press("Annuler", message=confirm)
    await alice.receive(contains="Rien n'a été effacé")
    assert await bot.state.members.get(ALICE) is not None

    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    assert await scan_database(bot, ALICE, ["Alicia", "alicia"]) == []
    assert [m.display_name for m in await bot.state.members.all()] == ["Brunissime"]

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
    assert len(await bot.state.members.all()) == 2


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
    assert len(await bot.state.members.all()) == 2

    clock.advance(timedelta(days=40))
    await bot.tick()
    ids = await bot.state.member_ids()
    assert ids == [BRUNO]
    assert await scan_database(bot, ALICE, ["Alicia"]) == []


async def test_a_warned_member_who_comes_back_is_kept(server, bot, clock):
    alice = await onboard(server, ALICE, "Alicia")
    clock.advance(timedelta(days=23 * 31))
    await bot.tick()
    await alice.receive(contains="seront effacées")
    await alice.send("/profil")
    await alice.receive(contains="Votre profil")
    clock.advance(timedelta(days=40))
    await bot.tick()
    assert len(await bot.state.members.all()) == 1


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


async def test_forget_across_every_feature_keeps_counts(server, bot, clock):
    from storage.calls import NewCall
    from tests.helpers import seed_members
    from tests.test_initiatives_life import seed_initiatives
    from tests.test_pairs import _next_checkin, person

    services = bot.services
    await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    alice = await person(bot, server, ALICE, "Alicia", gardener=True)
    await seed_members(bot, [BRUNO, 7_770_003])
    tom = await person(bot, server, 7_770_009, "Tom", capacity=2)
    # A published initiative of hers, a pending one, a support and a participation.
    [published, other] = await seed_initiatives(
        bot,
        BRUNO,
        [("Jardin des Tilleuls", "Blaye", "Solidarité"), ("Repair café", "Blaye", "Culture")],
    )
    [mine] = await seed_initiatives(bot, ALICE, [("Fête de quartier", "Blaye", "Culture")])
    [draft] = await seed_initiatives(
        bot, ALICE, [("Brouillon d'Alicia", "Blaye", "Culture")], publish=False
    )
    await services.initiatives.toggle_support(ALICE, published, "support")
    await services.initiatives.toggle_support(ALICE, other, "participate")
    # A call where she said yes, with Bruno waiting behind her.
    now = clock.now()
    call = await services.calls.publish(
        NewCall(
            coordinator_id=COORDINATOR_ID,
            text="Courses",
            photo=None,
            place="Blaye",
            event_at=now + timedelta(days=30),
            needed=1,
            deadline_at=now + timedelta(days=20),
            territories=[],
            themes=[],
            ambassadors_only=False,
        )
    )
    await bot.drain()
    await services.calls.answer(call.id, ALICE, True)
    await services.calls.answer(call.id, BRUNO, True)
    # A pair with a check-in she answered, with a note.
    done = await services.pairs.confirm_match(ALICE, 7_770_009, by=COORDINATOR_ID)
    await bot.drain()
    checkin = await _next_checkin(bot, clock, alice, tom, done.pair_id)
    await alice.press("C'est bloqué", message=checkin)
    await alice.receive(contains="note")
    await services.pairs.add_note(ALICE, "Alicia ne trouve pas la clé du local")
    await bot.drain()
    supporters_before = await bot.state.initiatives.all()
    stats_before = await services.stats.community()

    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    await bot.drain()

    assert await scan_database(bot, ALICE, ["Alicia", "alicia_secret", "Brouillon"]) == []
    # Her published initiative stays, without author; her draft is gone.
    rows = await bot.state.initiatives.all()
    assert [(r.id, r.author_id) for r in rows] == [
        (published, BRUNO),
        (other, BRUNO),
        (mine, None),
    ]
    assert draft not in [r.id for r in rows]
    stats_after = await services.stats.community()
    assert stats_after.calls["answered"] == stats_before.calls["answered"]
    detail = await services.initiatives.detail(BRUNO, published)
    assert detail is not None and detail.initiative.supporters == 1
    # Bruno, first on the waiting list, took her place and was told.
    assert (await bot.state.call_answers())[BRUNO] == "yes"
    # Tom is told the pair ended; the pair is gone with her.
    await tom.receive(contains="binôme")
    assert await bot.state.pairs.all() == []
    assert len(supporters_before) == 4


async def test_every_table_of_the_schema_has_a_privacy_entry(bot):
    privacy = bot.state.privacy
    assert await privacy.undeclared() == []
    # and no entry names a table the schema does not have
    assert set(BY_NAME) <= set(await bot.services.db.table_names())


async def test_a_table_without_a_privacy_entry_is_reported(bot):
    await bot.services.db.execute("CREATE TABLE sightings (member_id INTEGER NOT NULL)")
    assert await bot.state.privacy.undeclared() == ["sightings"]


async def test_forget_empties_the_audit_details_about_my_proposals(server, bot):
    from tests.test_initiatives import propose

    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, ALICE, "Alicia")
    await propose(alice, title="Fête de la rue Pasteur")
    await coco.receive(contains="Nouvelle proposition")
    await coco.send("/propositions")
    queue = await coco.receive(contains="Proposition 1 sur 1")
    await coco.press("✏️ Demander des changements", message=queue)
    await coco.receive(contains="Quels changements")
    await coco.send("Alicia, dites-nous quel samedi, rue Pasteur.")
    await coco.receive(contains="C'est envoyé")
    [entry] = await bot.state.audit_entries("initiative.changes")
    assert "quel samedi" in entry.details["message"]  # what the coordinator wrote, kept

    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    assert await scan_database(bot, ALICE, ["Alicia", "quel samedi", "Pasteur"]) == []
    # The entry stays (who decided what, and when), without what it said about her.
    [entry] = await bot.state.audit_entries("initiative.changes")
    assert (entry.actor_id, entry.details) == (COORDINATOR_ID, {})


def test_every_export_reads_tables_of_the_privacy_model():
    from storage.stats import EXPORT_TABLES, EXPORTS

    assert set(EXPORT_TABLES) == set(EXPORTS)
    assert {t for tables in EXPORT_TABLES.values() for t in tables} <= set(BY_NAME)


@pytest.mark.sqlite_only  # about the SQLite files themselves: the WAL and freed pages
async def test_forget_leaves_no_copy_in_the_database_files(server, bot):
    alice = await onboard(server, ALICE, "Quentissima")
    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    path = Path(bot.settings.database.path)
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    assert path in files
    for file in files:
        data = file.read_bytes()
        assert b"Quentissima" not in data and b"quentissima" not in data, file.name
