"""Dates as people type them (issue 16, item 5), on the injected clock, in Europe/Paris."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.dates import day_without_hour, parse_when
from tests.test_calls import start_coordinator

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 2 March, 11:00 in Paris


def local(text: str, now: datetime = MONDAY) -> str | None:
    found = parse_when(text, now, PARIS)
    return found.astimezone(PARIS).strftime("%a %d/%m/%Y %H:%M") if found else None


def test_the_forms_people_type():
    assert local("samedi 10h") == "Sat 07/03/2026 10:00"
    assert local("Samedi à 10h") == "Sat 07/03/2026 10:00"
    assert local("sam. 10h30") == "Sat 07/03/2026 10:30"
    assert local("lundi 12h") == "Mon 02/03/2026 12:00"  # today, still ahead
    assert local("lundi 10h") == "Mon 09/03/2026 10:00"  # already passed today
    assert local("lundi prochain 9h") == "Mon 09/03/2026 09:00"
    assert local("ce soir") == "Mon 02/03/2026 19:00"
    assert local("ce soir 20h") == "Mon 02/03/2026 20:00"
    assert local("14h30") == "Mon 02/03/2026 14:30"
    assert local("10h") == "Tue 03/03/2026 10:00"  # passed: tomorrow
    assert local("le 12 à 14h") == "Thu 12/03/2026 14:00"
    assert local("le 1er à 9h") == "Wed 01/04/2026 09:00"
    assert local("12 décembre 10h") == "Sat 12/12/2026 10:00"
    assert local("samedi 12 décembre 10h") == "Sat 12/12/2026 10:00"
    assert local("après-demain 18h") == "Wed 04/03/2026 18:00"
    assert local("aujourd’hui 18h") == "Mon 02/03/2026 18:00"
    assert local("midi") == "Mon 02/03/2026 12:00"
    assert local("saturday 10am") == "Sat 07/03/2026 10:00"
    assert local("tomorrow 9pm") == "Tue 03/03/2026 21:00"
    assert local("25/12 14h30") == "Fri 25/12/2026 14:30"
    for wrong in ("samedi", "le 12", "bientôt", "demain 25h", "31/02 10h", "samedi 10h99"):
        assert local(wrong) is None, wrong
    assert day_without_hour("samedi", MONDAY, PARIS) and day_without_hour("le 12", MONDAY, PARIS)
    assert not day_without_hour("bientôt", MONDAY, PARIS)


def test_summer_time_and_the_end_of_the_month():
    late_march = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday; clocks change on Sunday
    assert local("dimanche 10h", late_march) == "Sun 29/03/2026 10:00"
    assert parse_when("dimanche 10h", late_march, PARIS) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert local("le 31 à 9h", datetime(2026, 4, 2, 8, 0, tzinfo=UTC)) == "Sun 31/05/2026 09:00"


async def test_the_call_draft_takes_a_weekday_and_says_which_forms_work(server, bot, clock):
    clock.set(MONDAY)
    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send("Qui peut aider ?")
    await coord.receive(contains="Où ?")
    await coord.send("Mairie")
    ask = await coord.receive(contains="Quand ?")
    assert "samedi 10h" in ask.text
    await coord.send("le 12")
    missing = await coord.receive(contains="Il manque l'heure")
    assert "raccourcir" not in missing.text  # not a length problem: the text is not echoed
    await coord.send("un de ces jours")
    forms = await coord.receive(contains="pas compris")
    assert (
        "samedi 10h" in forms.text and "ce soir 20h" in forms.text and "le 12 à 14h" in forms.text
    )
    assert "raccourcir" not in forms.text
    await coord.send("samedi 10h")
    await coord.receive(contains="Combien")
    [draft] = [c for c in await bot.state.conversations.all() if c.flow == "call"]
    assert datetime.fromisoformat(draft.data["event_at"]) == datetime(2026, 3, 7, 9, 0, tzinfo=UTC)
