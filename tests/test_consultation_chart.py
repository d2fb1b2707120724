"""The results picture: its territory breakdown agrees with the text summary (only where at
least 5 answered) and stays readable with many territories and long names."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

from bot.consultation_chart import LABEL_WIDTH, fit, render_results
from bot.services.consultation_engine import tally
from bot.services.consultation_results import TERRITORY_ROWS, ChartText, territory_rows
from storage.consultations import AnswerRow, Consultation, ConsultationRepository, Question
from tests.conftest import COORDINATOR_ID
from tests.helpers import seed_members
from tests.test_calls import FAST
from tests.test_consultations import draft_consultation, start_coordinator

DRAWING = 30.0
"""Seconds to wait for the results picture: drawn in a thread after matplotlib's first
import, which takes seconds on a loaded machine."""


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _consultation(options: list[str]) -> Consultation:
    now = datetime(2026, 3, 2, 10, tzinfo=UTC)
    return Consultation(
        id=1,
        coordinator_id=COORDINATOR_ID,
        title="t",
        questions=[Question(text="Quel jour ?", options=options)],
        closes_at=now,
        status="closed",
        scheduled_at=None,
        sent_at=now,
        recipients=0,
        summary_chat_id=None,
        summary_message_id=None,
        reminded_at=None,
        closed_at=now,
        outcome=None,
        results_file_id=None,
        results_sent_at=None,
        created_at=now,
    )


def test_labels_fit_two_lines_and_long_names_stay_distinct():
    word = "Saint-Médard-en-Jalles-sur-Gironde-et-Dordogne"
    assert fit(word).replace("\n", "") == word  # a single long word is kept whole
    assert fit("Lundi") == "Lundi"
    option = "En soirée, dans une salle du quartier près de chez moi"
    assert fit(option) == "En soirée, dans une salle du\nquartier près de chez moi"
    names = [f"Commune nouvelle de Saint-Quelque-Chose-{n} sur la Dordogne" for n in range(60)]
    labels = [fit(name) for name in names]
    assert len(set(labels)) == 60
    for label in labels:
        lines = label.split("\n")
        assert len(lines) <= 2 and all(len(line) <= LABEL_WIDTH for line in lines)


def test_many_territories_share_a_last_bar_and_nobody_is_lost():
    by_territory = {f"Territoire {n:02d}": 5 + n for n in range(40)}
    rows = territory_rows(by_territory, lambda count: f"{count} autres")
    assert len(rows) == TERRITORY_ROWS
    assert rows[0] == ("Territoire 39", 44)  # the largest first
    assert rows[-1] == ("29 autres", sum(5 + n for n in range(29)))
    assert sum(n for _, n in rows) == sum(by_territory.values())
    few = {"Cenon": 5, "Blaye": 7}
    assert territory_rows(few, str) == [("Blaye", 7), ("Cenon", 5)]


def test_the_picture_stays_phone_sized_with_many_long_territory_names():
    long_names = [f"Commune nouvelle de Saint-Quelque-Chose-{n} sur l'Isle" for n in range(60)]
    rows = [
        AnswerRow(member_id=1000 * t + m, question=0, choices=[m % 2], other=None, territory=name)
        for t, name in enumerate(long_names)
        for m in range(5 + t % 3)
    ]
    results = tally(_consultation(["Lundi", "Mardi"]), rows)
    assert len(results.by_territory) == 60
    text = ChartText(
        other="Autre réponse",
        territories_title="Par territoire",
        territories=territory_rows(results.by_territory, lambda count: f"{count} autres"),
    )
    with_territories = png_size(render_results(results, text))
    without = png_size(render_results(results, ChartText(other="Autre réponse")))
    assert with_territories[0] == without[0] == 720  # phone width, whatever the names
    # One panel of at most TERRITORY_ROWS bars more, not sixty.
    assert without[1] < with_territories[1] <= without[1] + 120 * (1.2 + 0.45 * TERRITORY_ROWS)


async def test_the_picture_breaks_down_by_territory_as_the_summary_does(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    people = {
        "Blaye": range(6400, 6407),
        "Cenon": range(6410, 6415),
        "Libourne": range(6420, 6423),
    }
    for territory, ids in people.items():
        server.add_users(ids)
        await seed_members(bot, ids, territory=territory)
    drawn: list[ChartText] = []
    results_service = bot.services.consultation_results

    def drawer(results: Any, text: ChartText) -> bytes:
        drawn.append(text)
        return render_results(results, text)

    results_service.attach(results_service._uploader, drawer)
    await draft_consultation(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    for uid in [uid for ids in people.values() for uid in ids]:
        member = server.get_user(uid)
        await member.press("Répondre")
        q1 = await member.receive(contains="question 1 / 3")
        await member.press("Samedi", q1)
    summary = await coord.receive(contains="Ont répondu : 15")
    assert "Blaye 7 · Cenon 5" in summary.text and "Libourne" not in summary.text
    [consultation] = await ConsultationRepository(bot.services.db).all()
    await results_service.close(consultation.id, COORDINATOR_ID)
    await bot.drain()
    await coord.press("Envoyer les résultats sans message")
    await bot.drain()
    libourne = server.get_user(6420)
    got = await libourne.receive(contains="Résultats de la consultation", timeout=DRAWING)
    assert got.photo is not None  # Libourne's people get the picture, without their line
    assert drawn[-1].territories == [("Blaye", 7), ("Cenon", 5)]
    assert "5" in drawn[-1].territories_title
