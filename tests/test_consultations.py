"""Consultations (issue 19), as coordinators and members live them: /consulter, one-tap
answers, the live summary, closing with a message, results given back, exports."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from storage.audience import RecipientRepository
from storage.consultations import ConsultationRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members
from tests.test_calls import FAST

DRAWING = 30.0
"""Seconds to wait for the results picture: drawn in a thread after matplotlib's first
import, which takes seconds on a loaded machine."""


async def start_coordinator(server: Any, bot: Any) -> Any:
    coord = await onboard(server, COORDINATOR_ID, "Camille", staff=True)
    bot.services.consultations.summary.every = 0.0
    return coord


async def draft_consultation(coord: Any, *, anonymous: bool = False) -> Any:
    """Drive /consulter to its preview: 3 questions (single, multiple + other, single)."""
    await coord.send("/consulter")
    await coord.receive(contains="Nouvelle consultation")
    await coord.send("Nos besoins de formation")
    await coord.receive(contains="introduction")
    await coord.send("Aidez-nous à choisir les ateliers de l'année.")
    await coord.receive(contains="Question 1")
    await coord.send("Quel jour vous convient ?")
    await coord.receive(contains="une par ligne")
    await coord.send("Lundi\nMercredi\nSamedi")
    await coord.receive(contains="plusieurs")
    await coord.press("Une seule réponse")
    await coord.press("Non")
    await coord.press("➕ Ajouter une question")
    await coord.receive(contains="Question 2")
    await coord.send("Quels thèmes ?")
    await coord.receive(contains="une par ligne")
    await coord.send("Compost\nNumérique\nPremiers secours")
    await coord.receive(contains="plusieurs")
    await coord.press("Plusieurs réponses")
    await coord.press("Oui")
    await coord.press("➕ Ajouter une question")
    await coord.receive(contains="Question 3")
    await coord.send("Sous quelle forme ?")
    await coord.receive(contains="une par ligne")
    await coord.send(
        "En soirée, dans une salle du quartier près de chez moi\nEn ligne, depuis mon téléphone"
    )
    await coord.receive(contains="plusieurs")
    await coord.press("Une seule réponse")
    await coord.press("Non")
    await coord.press("C'est tout")
    await coord.receive(contains="anonymes")
    await coord.press("Oui" if anonymous else "Non")
    await coord.receive(contains="Jusqu'à quand")
    await coord.send("10/03 18h")
    await coord.receive(contains="Quels territoires")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    await coord.receive(contains="Nos besoins de formation")
    return await coord.receive(contains="Voici la consultation")


async def test_a_consultation_from_draft_to_results(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    ids = list(range(6000, 6040))
    server.add_users(ids)
    await seed_members(bot, ids[:36])
    await seed_members(bot, ids[36:38], status="paused")
    await seed_members(bot, ids[38:])
    for uid in (6000, 6001):
        server.user(uid).block()
    preview = await draft_consultation(coord)
    assert "<b>38</b>" in preview.html  # 40 minus the 2 paused
    sent = await asyncio.gather(
        coord.press("Envoyer maintenant"), coord.press("Envoyer maintenant")
    )
    assert sum("plus valable" in (a.text or "") for a in sent) == 1  # a double tap sends once
    await bot.drain()
    repo = ConsultationRepository(bot.services.db)
    [consultation] = await repo.all()
    counts = await RecipientRepository(bot.services.db).counts("consultation", consultation.id)
    assert counts == {"sent": 36, "blocked": 2}
    assert not {6036, 6037} & set(server.stats.delivered_chat_ids)

    def user(uid: int) -> Any:
        return server.get_user(uid)

    invite = user(6002).last
    assert "3 questions" in invite.text and invite.buttons == [["Répondre"]]
    # Member 6002: all three questions, with a multiple choice and another answer.
    await user(6002).press("Répondre")
    q1 = await user(6002).receive(contains="question 1 / 3")
    assert q1.buttons == [["Lundi"], ["Mercredi"], ["Samedi"]]
    await user(6002).press("Mercredi", q1)
    q2 = await user(6002).receive(contains="question 2 / 3")
    await user(6002).press("▫️ Compost", q2)
    await user(6002).press("▫️ Numérique", q2)
    await user(6002).press("✏️ Autre réponse", q2)
    await user(6002).receive(contains="Écrivez votre réponse")
    await user(6002).send("Cuisine anti-gaspi")
    q3 = await user(6002).receive(contains="question 3 / 3")
    assert "1. En soirée" in q3.text and q3.buttons == [["1"], ["2"]]  # long options numbered
    await user(6002).press("2", q3)
    await user(6002).receive(contains="Merci pour vos réponses")
    # Member 6003: a double tap on question 1, then a change of mind.
    await user(6003).press("Répondre")
    q1 = await user(6003).receive(contains="question 1 / 3")
    await asyncio.gather(user(6003).press("Lundi", q1), user(6003).press("Lundi", q1))
    q2 = await user(6003).receive(contains="question 2 / 3")
    confirm = await user(6003).press("Valider", q2)
    assert confirm is not None
    await user(6003).receive(contains="Cochez au moins une réponse")
    await user(6003).press("▫️ Premiers secours", q2)
    await user(6003).press("Valider", q2)
    q3 = await user(6003).receive(contains="question 3 / 3")
    await user(6003).press("1", q3)
    done = await user(6003).receive(contains="Merci pour vos réponses")
    await user(6003).press("Modifier mes réponses", done)
    q1 = await user(6003).receive(contains="question 1 / 3")
    assert "✅ Lundi" in q1.all_buttons
    await user(6003).press("Samedi", q1)
    # Member 6004 stops after question 1, and resumes after a restart.
    await user(6004).press("Répondre")
    q1 = await user(6004).receive(contains="question 1 / 3")
    await user(6004).press("Lundi", q1)
    await bot.restart()
    bot.services.consultations.summary.every = 0.0
    await user(6004).press("Répondre", invite_of(user(6004)))
    resumed = await user(6004).receive(contains="question 2 / 3")
    assert "Compost" in resumed.text or resumed.buttons
    # Live summary: the counts equal what was pressed.
    summary = await coord.receive(contains="Ont répondu : 3")
    text = summary.text.replace("\xa0", " ")
    assert "Q1 : 1) 1 · 2) 1 · 3) 1" in text
    assert "Q2 : 1) 1 · 2) 1 · 3) 1 · autre : 1" in text
    assert "Par territoire" not in text  # 3 people answered: too few to break down
    # /consultations: close now with a message, results to those who answered.
    await coord.send("/consultations")
    listing = await coord.receive(contains="Vos consultations")
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Ont répondu")
    await coord.press("Relancer", detail)
    await bot.drain()
    assert any("Petit rappel" in m.content for m in user(6010).messages)
    assert not any("Petit rappel" in m.content for m in user(6002).messages)
    assert "Relancer" not in (await coord.receive(contains="Ont répondu")).all_buttons
    closed = await coord.press("Clore maintenant", detail)
    assert "Consultation close" in closed.text
    await bot.drain()
    await coord.receive(contains="Qu'allez-vous faire")
    late = await user(6005).press("Répondre", invite_of(user(6005)))
    assert "close" in late.text and late.show_alert
    await coord.send("Nous ouvrons un atelier compost en avril.")
    await coord.receive(contains="Les résultats partent")
    await bot.drain()
    for uid in (6002, 6003, 6004):
        got = await user(uid).receive(contains="Résultats de la consultation", timeout=DRAWING)
        assert got.photo is not None and "atelier compost" in got.content
    assert not any("Résultats de la consultation" in m.content for m in user(6010).messages)
    photos = {m.photo for uid in (6002, 6003, 6004) for m in user(uid).messages if m.photo}
    assert len(photos) == 1  # uploaded once, the same file id for everyone
    # The coordinator got the picture first (its upload gives the file id everyone reuses).
    uploaded = await coord.receive(contains="Résultats de la consultation")
    assert uploaded.photo is not None
    # Export: who answered what (not anonymous).
    await coord.press("📄 Export", detail)
    export = await coord.receive(contains="")
    assert export.document is not None
    rows = list(csv.reader(io.StringIO(export.document[1].decode("utf-8-sig"))))
    assert rows[0][0] == "membre" and {r[0] for r in rows[1:]} == {"6002", "6003", "6004"}


def invite_of(user: Any) -> Any:
    return next(m for m in user.messages if m.buttons == [["Répondre"]])


async def test_an_anonymous_export_has_no_member_ids(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users([6100, 6101])
    await seed_members(bot, [6100, 6101])
    await draft_consultation(coord, anonymous=True)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    member = server.get_user(6100)
    assert "Anonyme" in member.last.text
    await member.press("Répondre")
    q1 = await member.receive(contains="question 1 / 3")
    await member.press("Samedi", q1)
    clock.set(datetime(2026, 3, 10, 17, 1, tzinfo=UTC))  # past the closing (18:00 Paris)
    await bot.tick()
    await coord.receive(contains="Qu'allez-vous faire")
    await coord.press("Envoyer les résultats sans message")
    await bot.drain()
    await member.receive(contains="Résultats de la consultation", timeout=DRAWING)
    await coord.send("/consultations")
    listing = await coord.receive(contains="Vos consultations")
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Ont répondu")
    await coord.press("📄 Export", detail)
    export = await coord.receive(contains="")
    content = export.document[1].decode("utf-8-sig")
    assert "6100" not in content and "membre" not in content.splitlines()[0]
    assert "Samedi" in content


async def test_my_data_holds_my_answers_and_forgetting_keeps_the_counts(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 6200, "Alice")
    await draft_consultation(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await alice.receive(contains="3 questions")
    await alice.press("Répondre")
    q1 = await alice.receive(contains="question 1 / 3")
    await alice.press("Mercredi", q1)
    q2 = await alice.receive(contains="question 2 / 3")
    await alice.press("✏️ Autre réponse", q2)
    await alice.receive(contains="Écrivez votre réponse")
    await alice.send("x" * 301)
    await alice.receive(contains="entre 1 et 300")
    await alice.send("Jardinage")
    await alice.receive(contains="question 3 / 3")
    await alice.send("/mesdonnees")
    sent = await alice.receive(contains="tout ce que nous gardons")
    body = json.loads(sent.document[1].decode("utf-8"))
    assert "Jardinage" in json.dumps(body, ensure_ascii=False)
    await alice.send("/oublier")
    await alice.receive(contains="effacer vos données")
    await alice.press("Oui, tout effacer")
    await alice.receive(contains="vos données ont été effacées")
    [consultation] = await ConsultationRepository(bot.services.db).all()
    results = await bot.services.consultations.engine.results(consultation)
    assert results.respondents == 1 and results.questions[0].counts == [0, 1, 0]
    assert results.questions[1].others == ["Jardinage"]
    assert await ConsultationRepository(bot.services.db).respondents(consultation.id) == []
    stats = await bot.services.stats.community()
    assert stats.consultations == {"sent": 1, "recipients": 1, "answered": 1}


def test_results_break_down_by_territory_only_where_five_answered():
    from bot.services.consultation_engine import tally
    from storage.consultations import AnswerRow, Consultation, Question

    now = datetime(2026, 3, 2, 10, tzinfo=UTC)
    consultation = Consultation(
        id=1,
        coordinator_id=COORDINATOR_ID,
        title="t",
        questions=[Question(text="q", options=["a", "b"])],
        closes_at=now,
        status="open",
        scheduled_at=None,
        sent_at=now,
        recipients=9,
        summary_chat_id=None,
        summary_message_id=None,
        reminded_at=None,
        closed_at=None,
        outcome=None,
        results_file_id=None,
        results_sent_at=None,
        created_at=now,
    )
    rows = [
        AnswerRow(member_id=m, question=0, choices=[m % 2], other=None, territory="Blaye")
        for m in range(5)
    ]
    rows += [
        AnswerRow(member_id=10 + m, question=0, choices=[0], other=None, territory="Cenon")
        for m in range(4)
    ]
    results = tally(consultation, rows)
    assert results.respondents == 9 and results.questions[0].counts == [7, 2]
    assert results.by_territory == {"Blaye": 5}
