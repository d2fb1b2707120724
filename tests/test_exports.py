"""/export opens well in a spreadsheet of the coordinator's language (issue 16, item 22)."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_calls import FAST, draft_call
from tests.test_initiatives_life import seed_initiatives
from tests.test_pairs import person


async def _exported(coord: Any, count: int, delimiter: str) -> dict[str, list[dict[str, str]]]:
    files = {}
    while len(files) < count:
        sent = await coord.receive(contains=".csv")
        name, body = sent.document
        assert body.startswith(b"\xef\xbb\xbf")  # the BOM: accents read right in Excel
        text = body.decode("utf-8-sig")
        files[name] = list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
    return files


async def _community(server: Any, bot: Any, coord: Any) -> None:
    """A call answered, an initiative with needs, a pair from that initiative."""
    bot.services.calls.summary_edit_seconds = 0.0
    await person(bot, server, 5020, "Gaby", gardener=True)
    await person(bot, server, 5030, "Tim", capacity=2)
    [initiative] = await seed_initiatives(bot, 5020, [("Repair café", "Blaye", "Solidarité")])
    await bot.services.pairs.confirm_match(5020, 5030, by=COORDINATOR_ID, initiative_id=initiative)
    await draft_call(coord, needed="2")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await server.user(5020).press("Je viens")
    await bot.drain()


async def test_a_french_export_reads_like_a_french_spreadsheet(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    await _community(server, bot, coord)
    await coord.send("/export")
    files = await _exported(coord, len(bot.services.stats.exports), ";")

    coline = next(r for r in files["membres.csv"] if r["telegram_id"] == str(COORDINATOR_ID))
    assert coline["langue"] == "français" and coline["coordinateur"] == "oui"
    assert coline["porte_voix"] == "non" and coline["statut"] == "reçoit les messages"
    # 10:00 UTC on 2 March is 11:00 in Paris; no seconds, no microseconds, no "T" or "Z".
    assert coline["arrivee"] == "2026-03-02 11:00"

    [call] = files["appels.csv"]
    assert call["statut"] == "ouvert" and call["porte_voix_seulement"] == "non"
    assert call["envoye"] == "2026-03-02 11:00"
    assert call["territoires"] == "" and "[" not in call["themes"]
    [yes] = files["reponses_appels.csv"]
    assert (yes["nom"], yes["reponse"]) == ("Gaby", "je viens")

    [initiative] = files["initiatives.csv"]
    assert initiative["besoins"] == "des personnes"
    assert (initiative["statut"], initiative["etape"]) == ("publiée", "émergence")
    assert initiative["nom_auteur"] == "Gaby"

    [pair] = files["binomes.csv"]
    assert (pair["jardinier_citoyen"], pair["nom_jardinier_citoyen"]) == ("5020", "Gaby")
    assert (pair["jardinier_technicien"], pair["nom_jardinier_technicien"]) == ("5030", "Tim")
    assert pair["titre_initiative"] == "Repair café"
    assert (pair["statut"], pair["sante"]) == ("en cours", "pas encore de réponse")
    assert pair["cree"] == "2026-03-02 11:00"


async def test_an_english_export_uses_commas_and_english_words(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    await coord.send("/langue en")
    await coord.receive()
    await person(bot, server, 5030, "Tim", capacity=2)
    await coord.send("/export")
    files = await _exported(coord, len(bot.services.stats.exports), ",")
    members = {r["telegram_id"]: r for r in files["membres.csv"]}
    assert members[str(COORDINATOR_ID)]["langue"] == "English"
    assert members["5030"]["technicien"] == "yes"
    assert members["5030"]["statut"] == "receives messages"


def test_consultation_cells_show_the_questions_and_chosen_options_in_words():
    from zoneinfo import ZoneInfo

    from bot.services.export_format import CellFormat
    from bot.texts import Texts
    from storage.consultations import Question

    questions = [Question(text="Quand ?", options=["Matin", "Soir"], multiple=True)]
    cells = CellFormat(Texts.load("fr"), "fr", ZoneInfo("Europe/Paris"), {7: questions})
    stored = '[{"text": "Quand ?", "options": ["Matin", "Soir"], "multiple": true}]'
    assert cells.cell("questions", stored, {}) == "1. Quand ? (Matin / Soir)"
    row = {"consultation": 7, "question": 1}
    assert cells.cell("choices", "[0, 1]", row) == "Matin / Soir"
    assert cells.cell("choices", [1], {"consultation": 8, "question": 1}) == "2"
    assert cells.cell("time", "2026-07-01T08:30:00.123456Z", {}) == "2026-07-01 10:30"
    assert cells.cell("needs", '["place", "money"]', {}) == "un lieu, un financement"
