"""Signalements: a member reports a need, the coordinators follow it up, the member is told."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.inputs import utf16_len
from sandbox.fakeapi.users import seen
from storage.report_sweeps import ReportSweepRepository
from storage.reports import NewReport, ReportRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard

FAST = {"per_chat_per_second": 10}
SECOND_COORDINATOR = 901


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    return await make_bot(sending=FAST, coordinators=[COORDINATOR_ID, SECOND_COORDINATOR])


async def report(
    user: Any,
    *,
    kind: str = "Une personne seule",
    urgent: bool = False,
    territory: str = "Blaye",
    description: str = "Une dame âgée ne sort plus depuis une semaine.",
    location: tuple[float, float] | None = None,
    photo: bool = False,
) -> int:
    """Drive /signaler to the sent report, as a member would; returns its number."""
    await user.send("/signaler")
    assert "112" in (await user.receive()).text  # the emergency line comes first
    await user.receive(contains="De quoi s'agit-il")
    await user.press(kind)
    await user.press("🆘 Oui, aujourd'hui" if urgent else "Non, cela peut attendre")
    await user.press(territory)
    prompt = await user.receive(contains="Décrivez la situation")
    assert "nom complet" in prompt.text and "santé" in prompt.text  # third-party warning
    await user.send(description)
    await user.receive(contains="envoyer une position")
    if location:
        await user.send_location(*location)
    else:
        await user.press("Passer")
    await user.receive(contains="envoyer une photo")
    if photo:
        await user.send_photo()
    else:
        await user.press("Passer")
    preview = await user.receive(contains="Voici votre signalement")
    assert description in preview.text
    await user.press("📨 Envoyer")
    sent = await user.receive(contains="numéro")
    return int(sent.text.split("numéro ")[1].split(".")[0].split()[0])


async def open_from_queue(coordinator: Any, number: int, contains: str = "") -> Any:
    """/signalements, then the report's line in the queue of new ones."""
    await coordinator.send("/signalements")
    queue = await coordinator.receive(contains="Signalements · ")
    await coordinator.press(next(b for b in queue.button_data if f"n° {number} " in b), queue)
    return await coordinator.receive(contains=contains or f"n° {number}")


async def stored(bot: Any, report_id: int) -> Any:
    found = await ReportRepository(bot.services.db).get(report_id)
    assert found is not None
    return found


async def test_urgent_report_with_location_and_photo_reaches_every_coordinator(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    dom = await onboard(server, SECOND_COORDINATOR, "Dominique", staff=True)
    alice = await onboard(server, 1001, "Alice")

    number = await report(alice, urgent=True, location=(44.99, -0.66), photo=True)
    await bot.drain()
    for person in (coco, dom):
        notice = await person.receive(contains="Signalement urgent")
        assert f"n° {number}" in notice.text and "Blaye" in notice.text
        assert "ne sort plus" not in notice.text  # details open inside the bot only
    item = await stored(bot, number)
    assert item.urgent and item.latitude == pytest.approx(44.99) and item.photo
    assert item.status == "new"

    await coco.press("Ouvrir le signalement")
    detail = await coco.receive(contains="ne sort plus")
    assert "Alice" in detail.text and "Nouveau" in detail.text
    await coco.press("🖼 Voir la photo")
    assert (await coco.receive()).kind == "photo"
    await coco.press("📍 Voir la position")
    assert (await coco.receive()).kind == "location"


async def test_non_urgent_reports_are_gathered_in_a_digest_inside_the_day_window(
    server, bot, clock
):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    first = await report(alice)
    second = await report(alice, kind="Un besoin", territory="Cenon", description="Des courses.")
    await bot.drain()
    coco.clear_inbox()

    await bot.tick()
    digest = await coco.receive(contains="Nouveaux signalements")
    assert f"n° {first}" in digest.text and f"n° {second}" in digest.text
    assert "Des courses" not in digest.text
    # Nothing new: no second digest, even hours later.
    clock.advance(timedelta(hours=4))
    await bot.tick()
    assert not [m for m in coco.messages if "Nouveaux signalements" in m.text][1:]

    # A report sent in the night waits for the morning.
    clock.set(clock.now().replace(hour=22, minute=0))  # 23:00 in Paris in March
    third = await report(alice, description="La nuit.")
    await bot.tick()
    assert not any(f"n° {third}" in m.text for m in coco.messages)
    clock.advance(timedelta(hours=10))  # 09:00 in Paris
    await bot.tick()
    assert f"n° {third}" in (await coco.receive(contains="Nouveaux signalements")).text


async def test_follow_up_take_question_answer_resolve(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice, urgent=True)
    await bot.drain()

    await coco.press("Ouvrir le signalement")
    await coco.receive(contains="ne sort plus")
    await coco.press("🙋 Je m'en occupe")
    told = await alice.receive(contains="pris en charge")
    assert "Coco" in told.text and f"n° {number}" in told.text

    await coco.press("❓ Poser une question")
    await coco.receive(contains="Écrivez votre question")
    await coco.send("Dans quelle rue habite-t-elle ?")
    await coco.receive(contains="Question envoyée")
    question = await alice.receive(contains="Une question sur votre signalement")
    assert "Dans quelle rue" in question.text and "coco" not in question.text.replace("Coco", "")
    assert (await stored(bot, number)).status == "waiting"

    await alice.press("✍️ Répondre")
    await alice.receive(contains="Écrivez votre réponse")
    await alice.send("Rue des Lilas.")
    await alice.receive(contains="Votre réponse est transmise")
    answered = await coco.receive(contains="Réponse reçue")
    assert "Rue des Lilas" in answered.text
    assert (await stored(bot, number)).status == "taken"

    await coco.press("Ouvrir le signalement")
    await coco.receive(contains="Rue des Lilas")
    await coco.press("✅ C'est réglé")
    assert f"n° {number} est réglé" in (await alice.receive(contains="réglé")).text

    await alice.send("/messignalements")
    mine = await alice.receive(contains="Vos signalements")
    assert f"n° {number}" in mine.text and "Réglé" in mine.text


async def test_close_needs_a_reason_shown_to_the_member(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice)
    await open_from_queue(coco, number, "ne sort plus")
    await coco.press("🚫 Clore avec une raison")
    await coco.receive(contains="Pourquoi clore")
    await coco.send("   \u200b ")
    await coco.receive(contains="Votre message est vide")
    assert (await stored(bot, number)).status == "new"
    await coco.send("R" * 301)
    assert "trop long" in (await coco.receive()).text
    await coco.send("La mairie passe la voir demain.")
    await coco.receive(contains="est clos")
    told = await alice.receive(contains="est clos")
    assert "La mairie passe la voir demain." in told.text
    item = await stored(bot, number)
    assert item.status == "closed" and item.close_reason == "La mairie passe la voir demain."


async def test_turned_into_a_call_the_reporter_hears_how_many_came(server, bot, clock):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    bob = await onboard(server, 1002, "Bob")
    number = await report(alice, kind="Un besoin", description="Porter des courses au 3e.")
    await open_from_queue(coco, number, "Porter des courses")
    await coco.press("📣 En faire un appel à l'aide")
    suggestion = await coco.receive(contains="texte du signalement")
    assert "<code>Porter des courses au 3e.</code>" in suggestion.html
    await coco.receive(contains="message de l'appel")
    await coco.send("Qui peut porter des courses à Blaye ?")
    await coco.receive(contains="Où ?")
    await coco.send("Place de la mairie")
    await coco.receive(contains="Quand ?")
    await coco.send("demain 10h")
    await coco.receive(contains="Combien")
    await coco.send("2")
    await coco.receive(contains="Jusqu'à quand")
    await coco.press("2 h avant")
    territories = await coco.receive(contains="Quels territoires")
    assert "✅ Blaye" in territories.button_data  # the report's territory is already ticked
    await coco.press("Valider", territories)
    await coco.receive(contains="Quels thèmes")
    await coco.press("Tous les thèmes")
    await coco.receive(contains="À qui")
    await coco.press("Tout le monde")
    await coco.receive(contains="recevront")
    await coco.press("Envoyer maintenant")
    told = await alice.receive(contains="est devenu un appel")
    assert f"n° {number}" in told.text
    assert (await stored(bot, number)).status == "call"
    await bob.receive(contains="Qui peut porter des courses")
    await bob.press("Je viens")
    await bot.tick()
    assert not any("est terminé" in m.text for m in alice.messages)

    clock.advance(timedelta(days=2))  # past the call's deadline
    await bot.tick()
    outcome = await alice.receive(contains="appel à l'aide est terminé")
    assert "« Je viens » : 1" in seen(outcome.text)
    await bot.tick()
    assert len([m for m in alice.messages if "est terminé" in m.text]) == 1


async def test_two_coordinators_racing_first_wins_second_is_told(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    dom = await onboard(server, SECOND_COORDINATOR, "Dominique", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice, urgent=True)
    await bot.drain()
    for person in (coco, dom):
        await person.receive(contains="Signalement urgent")
        await person.press("Ouvrir le signalement")
        await person.receive(contains="ne sort plus")
    answers = await asyncio.gather(coco.press("🙋 Je m'en occupe"), dom.press("🙋 Je m'en occupe"))
    loser = [a for a in answers if a.text]
    assert len(loser) == 1 and "Déjà fait par" in loser[0].text
    item = await stored(bot, number)
    assert item.status == "taken" and item.assignee_id in (COORDINATOR_ID, SECOND_COORDINATOR)
    await bot.drain()
    assert len([m for m in alice.messages if "pris en charge" in m.text]) == 1


async def test_overdue_reports_are_raised_and_untouched_ones_remind_their_coordinator(
    server, bot, clock
):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    dom = await onboard(server, SECOND_COORDINATOR, "Dominique", staff=True)
    alice = await onboard(server, 1001, "Alice")
    waiting = await report(alice)
    taken = await report(alice, description="Un autre besoin.")
    await bot.tick()
    await open_from_queue(coco, taken)
    await coco.press("🙋 Je m'en occupe")

    clock.advance(timedelta(hours=47))
    await bot.tick()
    assert not any("sans réponse" in m.text for m in coco.messages)
    clock.advance(timedelta(hours=2))
    await bot.tick()
    for person in (coco, dom):
        raised = await person.receive(contains="sans réponse depuis 2 jours")
        assert f"n° {waiting}" in raised.text and f"n° {taken}" not in raised.text

    clock.advance(timedelta(days=6))
    await bot.tick()
    reminder = await coco.receive(contains="Rien n'a bougé")
    assert f"n° {taken}" in reminder.text
    assert not any("Rien n'a bougé" in m.text for m in dom.messages)
    await bot.tick()
    assert len([m for m in coco.messages if "Rien n'a bougé" in m.text]) == 1


async def test_retention_erases_closed_reports_and_keeps_them_counted(server, bot, clock):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    closed = await report(alice, photo=True)
    still_open = await report(alice, description="Toujours ouvert.")
    await open_from_queue(coco, closed)
    await coco.press("✅ C'est réglé")

    clock.advance(timedelta(days=182))
    await bot.tick()
    assert (await stored(bot, closed)).description is not None
    clock.advance(timedelta(days=2))
    await bot.tick()
    item = await stored(bot, closed)
    assert item.description is None and item.photo is None and item.reporter_id is None
    assert item.status == "resolved" and item.erased_at is not None  # still counted
    counts = await ReportSweepRepository(bot.services.db).counts()
    assert counts.by_status == {"new": 1, "resolved": 1}

    # A report never closed: the coordinators are warned, then it is closed and erased.
    clock.advance(timedelta(days=365 - 184 - 14 + 1))
    await bot.tick()
    warning = await coco.receive(contains="bientôt un an")
    assert f"n° {still_open}" in warning.text
    clock.advance(timedelta(days=14))
    await bot.tick()
    item = await stored(bot, still_open)
    assert item.status == "closed" and item.description is None


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await alice.send("/signaler")
    await alice.receive(contains="De quoi s'agit-il")
    await alice.send("une dame seule")
    assert "Touchez un des boutons" in (await alice.receive()).text
    await alice.press("Un besoin")
    await alice.press("Non, cela peut attendre")
    await alice.press("Blaye")
    await alice.receive(contains="Décrivez")
    await alice.send_sticker()
    assert "J'attends un texte" in (await alice.receive()).text
    await alice.send("\u202e\u200b  ")
    assert "Votre message est vide" in (await alice.receive()).text
    await alice.send("😀" * 301)  # 602 UTF-16 units: over the limit although 301 characters
    too_long = await alice.receive()
    assert "trop long" in too_long.text and "600" in too_long.text
    await alice.send_photo()
    assert "pas encore le moment" in (await alice.receive()).text
    await alice.send("Il faut \u202eporter\u202c des courses.")
    await alice.receive(contains="envoyer une position")
    await alice.send("rue des lilas")
    assert "J'attends une position" in (await alice.receive()).text
    await alice.press("Passer")
    await alice.receive(contains="envoyer une photo")
    await alice.press("Passer")
    preview = await alice.receive(contains="Voici votre signalement")
    assert "\u202e" not in preview.text and "Il faut porter des courses." in preview.text
    await alice.press("📨 Envoyer")
    await alice.receive(contains="numéro")
    # A double tap on "Envoyer" creates nothing more.
    answer = await alice.press_data(alice.last.button_data.get("📨 Envoyer", "rep:1:send"))
    assert answer.text and "plus valable" in answer.text
    assert (await ReportSweepRepository(bot.services.db).counts()).by_status == {"new": 1}

    # Forged and coordinator-only buttons change nothing.
    texts = bot.services.texts
    huge = await alice.press_data("rep:1:rp:99999999999999999999999")
    assert huge.text == texts.get("fr", "common.stale")
    refused = await alice.press_data("rep:1:tk:1")
    assert refused.text == texts.get("fr", "common.denied")
    assert (await stored(bot, 1)).status == "new"
    await coco.send("/signalements")
    await coco.receive(contains="Signalements")
    assert "plus valable" in (await coco.press_data("rep:1:q:bogus")).text


async def test_erasure_leaves_open_reports_workable_and_the_coordinator_told(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice)
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer", confirm)
    await alice.receive(contains="vos données ont été effacées")
    await bot.drain()
    await coco.receive(contains="a quitté le dispositif")
    item = await stored(bot, number)
    assert item.reporter_left and item.reporter_id is not None and item.reporter_id < 0
    assert item.status == "new" and item.description  # still workable
    detail = await open_from_queue(coco, number, "ne sort plus")
    assert "Alice" not in detail.text and "❓ Poser une question" not in detail.button_data


async def test_stats_and_export_count_reports_without_their_content(server, bot, clock):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    first = await report(alice, urgent=True)
    await report(alice, kind="Un besoin", territory="Cenon", description="Secret: Mme X.")
    await bot.drain()
    clock.advance(timedelta(hours=3))
    await coco.press("Ouvrir le signalement")
    await coco.receive(contains="ne sort plus")
    await coco.press("🙋 Je m'en occupe")
    assert (await stored(bot, first)).status == "taken"

    await coco.send("/stats")
    figures = await coco.receive(contains="Signalements")
    assert "Une personne seule : 1" in seen(figures.text) and "Un besoin : 1" in seen(figures.text)
    assert "Pris en charge : 1" in seen(figures.text) and "Nouveau : 1" in seen(figures.text)
    assert "Cenon : 1" in seen(figures.text)
    assert "première réponse : 3.0 h" in seen(figures.text)

    await coco.send("/export")
    document = await coco.receive(contains="signalements.csv")
    name, body = document.document
    assert name == "signalements.csv"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["numero", "type", "urgent"]
    # Words from the catalogues, not codes (issue 16, item 22).
    assert [r[4] for r in rows[1:]] == ["Pris en charge", "Nouveau"]
    assert [r[1:3] for r in rows[1:]] == [["Une personne seule", "oui"], ["Un besoin", "non"]]
    assert b"Secret" not in body and b"ne sort plus" not in body


@pytest.mark.sqlite_only  # about the SQLite files themselves: the WAL, freed pages, the outbox
async def test_an_erased_report_leaves_no_copy_in_the_database_files(server, bot, clock):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice, description="Madame Zébulonne ne sort plus de chez elle.")
    await bot.drain()
    await open_from_queue(coco, number)
    await coco.press("✅ C'est réglé")
    await bot.drain()
    path = Path(bot.settings.database.path)
    files = (path, Path(f"{path}-wal"))

    def copies() -> list[str]:
        return [f.name for f in files if f.exists() and "Zébulonne".encode() in f.read_bytes()]

    assert copies()  # the description is in the files while the report lives
    clock.advance(timedelta(days=185))
    await bot.tick()
    assert (await stored(bot, number)).description is None
    assert copies() == []


async def test_quiet_hours_hold_urgent_notices_until_they_end(server, bot, clock):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    dom = await onboard(server, SECOND_COORDINATOR, "Dominique", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await coco.send("/silence 25-7")
    assert "/silence 22-7" in (await coco.receive()).text  # not an hour: the help again
    await coco.send("/silence 22-7")
    await coco.receive(contains="pas d'alerte de 22")
    await alice.send("/silence 22-7")
    assert (await alice.receive()).text == bot.services.texts.get("fr", "common.denied")

    clock.set(clock.now().replace(hour=22, minute=30))  # 23:30 in Paris in March
    number = await report(alice, urgent=True)
    await bot.drain()
    assert f"n° {number}" in (await dom.receive(contains="Signalement urgent")).text
    assert not any("Signalement urgent" in m.text for m in coco.messages)
    clock.set(clock.now().replace(hour=6, minute=1) + timedelta(days=1))  # 07:01 in Paris
    await bot.tick()
    assert f"n° {number}" in (await coco.receive(contains="Signalement urgent")).text

    await coco.send("/silence off")
    await coco.receive(contains="à toute heure")


async def test_a_coordinator_erases_one_report_on_request(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    number = await report(alice, photo=True, description="Mme Durand, 3 rue des Lilas.")
    await open_from_queue(coco, number, "Mme Durand")
    await coco.press("🗑 Effacer ce signalement")
    await coco.receive(contains="On ne peut pas revenir en arrière")
    confirm = coco.last.button_data["🗑 Oui, effacer le contenu"]
    await coco.press("🗑 Oui, effacer le contenu")
    detail = await coco.receive(contains="a été effacé")
    assert "Mme Durand" not in detail.text
    item = await stored(bot, number)
    assert item.description is None and item.photo is None and item.status == "closed"
    again = await coco.press_data(confirm)  # a double tap erases nothing more
    assert again.text == "Ce signalement est déjà effacé."
    rows = await bot.state.privacy.rows("audit_log")
    assert "Mme Durand" not in str(rows)


async def test_my_data_includes_my_reports(server, bot):
    alice = await onboard(server, 1001, "Alice")
    await report(alice, description="Un voisin isolé rue Haute.")
    await alice.send("/mesdonnees")
    sent = await alice.receive(contains="tout ce que nous gardons")
    assert sent.document is not None
    assert "Un voisin isolé rue Haute." in sent.document[1].decode("utf-8")


async def test_a_digest_of_many_reports_fits_in_one_message(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    await onboard(server, 1001, "Alice")
    repo = ReportRepository(bot.services.db)
    async with bot.services.db.transaction():
        for _ in range(300):
            new = NewReport(
                reporter_id=1001, kind="other", urgent=False, territory="autre", description="x"
            )
            await repo.create(new, bot.clock.now())
    await bot.tick()
    digest = await coco.receive(contains="Nouveaux signalements")
    assert utf16_len(digest.text) <= 4096
    assert "n° 1 " in digest.text and "n° 300 " not in digest.text
    shown = digest.text.count("• ")
    assert f"… et {300 - shown} autres" in seen(digest.text)
    assert "📋 Voir les signalements" in digest.button_data
