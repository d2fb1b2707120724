"""Calls for help, as coordinators and members experience them (flow 2 of PRODUCT.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.calls import parse_when, reminder_times
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members

FAST = {"sending": {"messages_per_second": 30, "per_chat_per_second": 10}}


async def start_coordinator(server: Any, bot: Any) -> Any:
    coord = await onboard(server, COORDINATOR_ID, "Camille", staff=True)
    bot.services.calls.summary_edit_seconds = 0.0
    return coord


async def draft_call(
    coord: Any,
    *,
    text: str = "Qui peut apporter des courses aux aînés isolés ?",
    place: str = "Mairie de Blaye",
    when: str = "05/03 14h30",
    needed: str = "3",
    territories: Sequence[str] = (),
    themes: Sequence[str] = (),
    ambassadors_only: bool = False,
) -> Any:
    """Drive /appel up to the preview; returns the count message (with the actions)."""
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send(text)
    await coord.receive(contains="Où ?")
    await coord.send(place)
    await coord.receive(contains="Quand ?")
    await coord.send(when)
    await coord.receive(contains="Combien")
    await coord.send(needed)
    await coord.receive(contains="Jusqu'à quand")
    await coord.press("2 h avant")
    await coord.receive(contains="Quels territoires")
    if territories:
        for name in territories:
            await coord.press("▫️ " + name)
        await coord.press("Valider")
    else:
        await coord.press("Tout le territoire")
    await coord.receive(contains="Quels thèmes")
    if themes:
        for name in themes:
            await coord.press("▫️ " + name)
        await coord.press("Valider")
    else:
        await coord.press("Tous les thèmes")
    await coord.receive(contains="À qui")
    await coord.press("Les porte-voix seulement" if ambassadors_only else "Tout le monde")
    await coord.receive(contains="Appel à l'aide")
    return await coord.receive(contains="recevront")


async def test_call_reaches_active_members_and_answers_are_tracked(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    members = list(range(2000, 2050))
    server.add_users(range(2000, 2060))
    await seed_members(bot, members)
    await seed_members(bot, [2050, 2051], status="paused")
    await seed_members(bot, [2052, 2053], territory="Libourne")
    blocked = [2000, 2001, 2002]
    for uid in blocked:
        server.user(uid).block()

    preview = await draft_call(coord, territories=["Blaye"])
    assert "<b>50</b>" in preview.html  # active, onboarded, in Blaye (paused excluded)
    await coord.press("Envoyer maintenant")
    await coord.receive(contains="en cours d'envoi")
    await bot.drain()

    reached = set(range(2003, 2050))
    assert server.stats.missing(reached) == set()
    delivered = set(server.stats.delivered_chat_ids)
    assert not delivered & {*blocked, 2050, 2051, 2052, 2053}
    assert server.stats.duplicates().keys() <= {COORDINATOR_ID}
    statuses = bot.sql(
        "SELECT status, COUNT(*) FROM deliveries WHERE kind = 'call' GROUP BY status"
    )
    assert {r[0]: r[1] for r in statuses} == {"sent": 47, "blocked": 3}
    rows = bot.sql("SELECT telegram_id FROM members WHERE status = 'blocked' ORDER BY 1")
    assert [r[0] for r in rows] == blocked
    summary = await coord.receive(contains="Envoyés : 47")
    assert "bloqué le bot : 3" in summary.text and "échecs : 0" in summary.text

    def user(uid: int) -> Any:
        return server.get_user(uid)

    call_msg = user(2003).last
    assert "Qui peut apporter des courses" in call_msg.text
    assert call_msg.buttons == [["Je viens", "Pas cette fois"], ["Relayer"]]
    assert "Merci" in (await user(2003).press("Je viens")).text
    assert "déjà noté" in (await user(2003).press("Je viens")).text  # idempotent
    await user(2004).press("Pas cette fois")
    assert "vous venez" in (await user(2004).press("Je viens")).text  # changed mind
    await user(2005).press("Je viens")  # 3 of 3: complete
    assert bot.sql("SELECT status FROM calls")[0][0] == "complete"
    waiting = await user(2006).press("Je viens")
    assert "liste d'attente" in waiting.text and waiting.show_alert
    await user(2007).press("Je viens")
    answers = dict(bot.sql("SELECT member_id, answer FROM call_answers"))
    assert answers == {2003: "yes", 2004: "yes", 2005: "yes", 2006: "waiting", 2007: "waiting"}

    await user(2004).press("Pas cette fois")  # withdraws: first on the waiting list promoted
    await bot.drain()
    promoted = await user(2006).receive(contains="place s'est libérée")
    assert "Mairie de Blaye" in promoted.text
    answers = dict(bot.sql("SELECT member_id, answer FROM call_answers"))
    assert answers[2006] == "yes" and answers[2007] == "waiting" and answers[2004] == "no"
    summary = await coord.receive(contains="pas cette fois : 1 · liste d'attente : 1")
    assert "Je viens : 3/3" in summary.text

    relay = await user(2008).press("Relayer")
    assert relay.text is None or "clos" not in relay.text
    link = await user(2008).receive(contains="t.me/essaim_test_bot?start=r-seed2008")
    assert "Transférez" in link.text

    # /appels: the volunteers with their names and usernames
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Volontaires")
    assert "Membre 2003 (@m2003)" in detail.text and "Membre 2006 (@m2006)" in detail.text
    assert "Membre 2007" in detail.text.split("Liste d'attente")[1]

    # after the deadline (event 05/03 14:30 Paris, deadline 2 h before)
    bot.clock.set(datetime(2026, 3, 5, 11, 31, tzinfo=UTC))
    closed = await user(2009).press("Je viens")
    assert "clos" in closed.text and closed.show_alert
    assert "clos" in (await user(2003).press("Pas cette fois")).text
    assert dict(bot.sql("SELECT member_id, answer FROM call_answers"))[2003] == "yes"


def test_parse_when_formats():
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 11:00 in Paris
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    assert parse_when("25/12 14h30", now, paris) == datetime(2026, 12, 25, 13, 30, tzinfo=UTC)
    assert parse_when("25/12/2026 14:30", now, paris) == datetime(2026, 12, 25, 13, 30, tzinfo=UTC)
    assert parse_when("demain 9h", now, paris) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert parse_when("01/01 10h", now, paris) == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    assert parse_when("01/03/2026 10h", now, paris) == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert parse_when("31/02 10h", now, paris) is None
    assert parse_when("bientôt", now, paris) is None
    assert parse_when("demain 25h", now, paris) is None


def test_reminders_stay_in_the_day_window_and_before_the_event():
    from datetime import time
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=paris).astimezone(UTC)

    # event at 10:00: 24 h before is fine; 2 h before (08:00) moves to 09:00 that morning
    got = reminder_times(at(5, 10), [24, 2], now, paris, time(9), time(20))
    assert got == [at(4, 10), at(5, 9)]
    # event at 08:30: 06:30 is at night and 09:00 would be after it: evening before instead
    got = reminder_times(at(5, 8, 30), [2], now, paris, time(9), time(20))
    assert got == [at(4, 20)]
    # event at 23:30: 21:30 moves back to 20:00 the same evening
    got = reminder_times(at(5, 23, 30), [2], now, paris, time(9), time(20))
    assert got == [at(5, 20)]
    # reminders already past are dropped
    assert reminder_times(at(2, 12), [24], now, paris, time(9), time(20)) == []
    _ = timedelta
