"""Calls for help, as coordinators and members experience them (flow 2 of PRODUCT.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.call_drafts import parse_when
from bot.services.calls import reminder_times
from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members

# Rate is not the subject here: paid-broadcast pacing (1000/s) keeps the tests quick.
FAST = {
    "sending": {
        "allow_paid_broadcast": True,
        "paid_messages_per_second": 1000,
        "per_chat_per_second": 10,
    }
}


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
    if ambassadors_only:
        await coord.press("▫️ Les porte-voix")
        await coord.press("Valider")
    else:
        await coord.press("Tout le monde")
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
    statuses = Counter(d.status for d in await bot.state.deliveries_of("call"))
    assert statuses == {"sent": 47, "blocked": 3}
    members = await bot.state.members.all()
    assert [m.telegram_id for m in members if m.status == "blocked"] == blocked
    summary = await coord.receive(contains="Envoyés : 47")
    assert "bloqué le bot : 3" in seen(summary.text) and "échecs : 0" in seen(summary.text)

    def user(uid: int) -> Any:
        return server.get_user(uid)

    call_msg = user(2003).last
    assert "Qui peut apporter des courses" in call_msg.text
    assert call_msg.buttons == [["Je viens", "Pas cette fois"], ["Relayer"]]
    assert "Merci" in (await user(2003).press("Je viens")).text
    # The copy now shows the answer; the same press again (a double tap) changes nothing.
    yes_data = call_msg.button_data["Je viens"]
    again = await user(2003).press_data(yes_data, message_id=call_msg.message_id)
    assert "déjà noté" in again.text  # idempotent
    await user(2004).press("Pas cette fois")
    assert "vous venez" in (await user(2004).press("Je viens")).text  # changed mind
    await user(2005).press("Je viens")  # 3 of 3: complete
    assert (await bot.state.only_call()).status == "complete"
    waiting = await user(2006).press("Je viens")
    assert "liste d'attente" in waiting.text and waiting.show_alert
    await user(2007).press("Je viens")
    answers = await bot.state.call_answers()
    assert answers == {2003: "yes", 2004: "yes", 2005: "yes", 2006: "waiting", 2007: "waiting"}

    await user(2004).press("Je ne peux plus venir")  # withdraws: the first waiting is promoted
    await bot.drain()
    promoted = await user(2006).receive(contains="place s'est libérée")
    assert "Mairie de Blaye" in promoted.text
    answers = await bot.state.call_answers()
    assert answers[2006] == "yes" and answers[2007] == "waiting" and answers[2004] == "no"
    summary = await coord.receive(contains="pas cette fois : 1 · liste d'attente : 1")
    assert "Je viens : 3/3" in seen(summary.text)

    relay = await user(2008).press("Relayer")
    assert relay.text is None or "clos" not in relay.text
    link = await user(2008).receive(contains="t.me/essaim_test_bot?start=r-seed2008")
    assert "Transférez" in link.text
    await onboard(server, 2100, "Zoé", start_arg="r-seed2008")  # joins through the link
    assert (await bot.state.member(2100)).referred_by == 2008

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
    assert "clos" in (await user(2003).press("Je ne peux plus venir")).text
    assert (await bot.state.call_answers())[2003] == "yes"


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


async def test_cancel_tells_volunteers_and_forged_coordinator_presses_are_refused(
    server, make_bot
):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    bob = await onboard(server, 3002, "Bob")
    carol = await onboard(server, 3003, "Carol")
    await draft_call(coord, needed="1")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    for person in (alice, bob, carol):
        await person.receive(contains="Appel à l'aide")
    await alice.press("Je viens")
    await bob.press("Je viens")  # waiting list
    await carol.press("Pas cette fois")

    # a citizen forging coordinator buttons changes nothing
    for action in ("cl", "ca", "cy", "rm", "v"):
        refused = await carol.press_data(f"call:1:{action}:1")
        assert refused.show_alert and "réservée à l'équipe de coordination" in refused.text
    refused = await carol.press_data("call:1:go")
    assert "réservée" in refused.text
    assert (await bot.state.only_call()).status == "complete"
    # a forged answer to a call the member never received is stale
    await seed_members(bot, [3004])
    server.add_users([3004])
    outsider = server.user(3004)
    stale = await outsider.press_data("call:1:a:1:y", message_id=1)
    assert "plus valable" in stale.text
    assert len(await bot.state.call_answers()) == 3

    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    await coord.press(listing.all_buttons[0])
    await coord.receive(contains="Volontaires")
    reminded = await coord.press("Relancer")
    assert "1 volontaire" in reminded.text
    await bot.drain()
    await alice.receive(contains="⏰ Rappel")
    assert not [m for m in bob.messages if "Rappel" in m.content]  # waiting list: no reminder
    await coord.press("Annuler l'appel")  # asks first: nothing changes yet
    confirm = await coord.receive(contains="On ne peut pas revenir en arrière")
    assert "2 personnes viennent ou attendent une place" in confirm.text
    assert (await bot.state.only_call()).status == "complete"
    assert confirm.all_buttons == ["Oui, annuler l'appel", "Retour"]
    done = await coord.press("Oui, annuler l'appel")
    assert "Je préviens les volontaires" in done.text
    await coord.receive(contains="État : annulé")
    await bot.drain()
    assert "annulé" in (await alice.receive(contains="❌")).text
    assert "annulé" in (await bob.receive(contains="❌")).text  # waiting list told too
    notices = sorted(d.chat_id for d in await bot.state.deliveries_of("call_notice"))
    assert notices == [3001, 3002]  # not Carol, who said no
    late = await carol.press("Je viens")
    assert "annulé" in late.text
    assert (await bot.state.audit_actions("call."))[-1] == "call.cancelled"


async def test_scheduled_call_fires_after_restart_when_its_time_comes(server, make_bot, clock):
    # one message in flight at a time, so the server sees the outbox's order
    bot = await make_bot(sending={**FAST["sending"], "max_in_flight": 1})
    coord = await start_coordinator(server, bot)
    server.add_users(range(4000, 4010))
    await seed_members(bot, range(4000, 4005), ambassador=True)
    await seed_members(bot, range(4005, 4010))
    await draft_call(coord, needed="2")
    await coord.press("Programmer")
    await coord.receive(contains="Quand faut-il l'envoyer")
    await coord.send("01/03/2026 9h")  # in the past
    assert "déjà passé" in (await coord.receive()).text
    await coord.send("06/03 9h")  # after the deadline
    assert "avant la date limite" in (await coord.receive()).text
    await coord.send("demain 9h")
    await coord.receive(contains="programmé pour mardi 3 mars, 9 h")
    assert (await bot.state.only_call()).status == "scheduled"

    await bot.restart()
    bot.services.calls.summary_edit_seconds = 0.0
    await bot.tick()
    assert server.stats.missing(range(4000, 4010)) == set(range(4000, 4010))
    clock.advance(timedelta(hours=21, minutes=59))  # 08:59 Paris: not yet
    await bot.tick()
    assert (await bot.state.only_call()).status == "scheduled"
    clock.advance(timedelta(minutes=1))
    await bot.tick()
    assert server.stats.missing(range(4000, 4010)) == set()
    order = [c for c in server.stats.delivered_chat_ids if 4000 <= c < 4010]
    assert set(order[:5]) == set(range(4000, 4005))  # ambassadors first
    await coord.receive(contains="Envoyés : 10")
    await bot.tick()
    assert (await bot.state.only_call()).status == "open"
    assert len(await bot.state.deliveries_of("call")) == 10


async def test_volunteers_get_reminders_in_the_day_window(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    bob = await onboard(server, 3002, "Bob")
    # event 05/03 08:30 Paris: 24 h before is 04/03 08:30, before the day window, so 09:00
    # that morning; 2 h before is 06:30 and 09:00 would be after the event: 20:00 the eve
    await draft_call(coord, when="05/03 8h30")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await alice.receive(contains="Appel à l'aide")
    await bob.receive(contains="Appel à l'aide")
    await alice.press("Je viens")
    await bob.press("Pas cette fois")
    due = [d for d, _ in await bot.state.calls.reminders((await bot.state.only_call()).id)]
    assert due == [datetime(2026, 3, 4, 8, 0, tzinfo=UTC), datetime(2026, 3, 4, 19, 0, tzinfo=UTC)]
    clock.set(datetime(2026, 3, 4, 7, 59, tzinfo=UTC))
    await bot.tick()
    assert not [m for m in alice.messages if "Rappel" in m.content]
    clock.set(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
    await bot.tick()
    await alice.receive(contains="⏰ Rappel")
    clock.set(datetime(2026, 3, 4, 19, 0, tzinfo=UTC))
    await bot.tick()
    await alice.receive(contains="⏰ Rappel")
    await bot.tick()
    assert len([m for m in alice.messages if "Rappel" in m.content]) == 2
    assert not [m for m in bob.messages if "Rappel" in m.content]


async def test_draft_survives_restart_and_bad_inputs_get_clear_answers(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    await alice.send("/appel")
    assert "réservée" in (await alice.receive()).text
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send_sticker()
    assert "autocollant" in (await coord.receive()).text
    await coord.send("x" * 1001)
    too_long = await coord.receive(contains="entre 1 et 1000")
    assert "x" * 1001 in too_long.text
    await coord.send_photo(caption="<b>Collecte</b> de <i>vêtements</i> & jouets")
    await coord.receive(contains="Où ?")
    await bot.restart()
    bot.services.calls.summary_edit_seconds = 0.0
    await coord.send("Local Croix-Rouge")
    await coord.receive(contains="Quand ?")
    await coord.send("bientôt")
    assert "pas compris" in (await coord.receive()).text
    await coord.send("01/03/2026 10h")
    assert "déjà passé" in (await coord.receive()).text
    await coord.send("demain 18h")
    await coord.receive(contains="Combien")
    await coord.send("501")
    assert "entre 1 et 500" in (await coord.receive()).text
    await coord.send("2")
    await coord.receive(contains="Jusqu'à quand")
    await coord.send("04/03 10h")
    assert "avant l'événement" in (await coord.receive()).text
    await coord.send("Valider")
    assert "pas compris" in (await coord.receive()).text
    await coord.press("La veille")
    await coord.receive(contains="Quels territoires")
    await coord.send("Blaye")
    assert "utilisez les boutons" in (await coord.receive()).text
    await coord.press("Valider")
    await coord.receive(contains="au moins une option")
    await coord.press("▫️ Blaye")
    await coord.press("Valider")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    preview = await coord.receive(contains="Collecte")
    assert preview.photo is not None
    assert "&lt;b&gt;Collecte&lt;/b&gt;" in preview.html  # member input is escaped
    await coord.receive(contains="recevront")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    got = await alice.receive(contains="Collecte")
    assert got.photo == preview.photo and got.buttons[0] == ["Je viens", "Pas cette fois"]
    call = (await bot.state.calls.all())[0]
    assert (call.deadline_at, call.event_at) == (
        datetime(2026, 3, 2, 17, 0, tzinfo=UTC),
        datetime(2026, 3, 3, 17, 0, tzinfo=UTC),
    )
    assert await bot.state.conversations.all() == []


async def test_a_call_is_queued_entirely_or_not_at_all(server, make_bot):
    bot = await make_bot(**FAST)
    await seed_members(bot, range(7000, 7100))
    service = bot.services.calls
    from tests.test_calls_delivery import new_call

    async def broken(*_: Any) -> None:
        raise RuntimeError("disk full")

    service.repo.add_reminders = broken  # fails after the deliveries were written
    try:
        await service.publish(new_call())
    except RuntimeError:
        pass
    else:
        raise AssertionError("publish should have failed")
    assert await bot.state.calls.all() == []
    assert await bot.state.deliveries_of() == []
    del service.repo.add_reminders
    call = await service.publish(new_call())
    assert call.recipients == 100
    await bot.drain()
    assert len(await bot.state.deliveries_of("call")) == 100


async def test_summary_edits_are_throttled(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users(range(8000, 8060))
    await seed_members(bot, range(8000, 8060))
    bot.services.calls.summary_edit_seconds = 3600.0
    await draft_call(coord)
    await coord.press("Envoyer maintenant")  # edits the preview once
    before = sum(e.kind == "edited" for e in coord.events)
    await bot.drain()
    assert server.stats.missing(range(8000, 8060)) == set()
    for uid in range(8000, 8010):
        await server.get_user(uid).press("Je viens")
    # dozens of results and answers, but one summary edit at most inside the interval
    # (each member's own copy is edited once, to show their answer)
    assert sum(e.kind == "edited" for e in coord.events) - before <= 1


async def test_a_stale_draft_asks_for_a_new_deadline(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    await onboard(server, 3001, "Alice")
    await draft_call(coord)
    clock.set(datetime(2026, 3, 5, 12, 45, tzinfo=UTC))  # 13:45 Paris: deadline (12:30) passed
    await coord.press("Envoyer maintenant")
    ask = await coord.receive(contains="déjà passée")
    assert "Jusqu'à quand" in ask.text
    assert await bot.state.calls.all() == []
    await coord.send("05/03 14h")  # still before the event (14:30)
    await coord.receive(contains="Quels territoires")


async def test_closing_a_call_stops_answers(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    bob = await onboard(server, 3002, "Bob")
    dora = await onboard(server, 3003, "Dora", language="en")
    await draft_call(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await alice.receive(contains="Appel à l'aide")
    english = await dora.receive(contains="Call for help")  # in the member's language
    assert english.buttons == [["I'm coming", "Not this time"], ["Relay"]]
    assert "Thanks" in (await dora.press("Not this time")).text
    await alice.press("Je viens")
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    assert "✋ 1/3" in listing.text
    await coord.press(listing.all_buttons[0])
    await coord.receive(contains="Volontaires")
    closed = await coord.press("Clore")
    assert "plus personne" in closed.text
    screen = await coord.receive(contains="Liste d'attente")  # the detail screen, edited
    assert "État : clos" in seen(screen.text)
    assert "Clore" not in screen.all_buttons and "Retour" in screen.all_buttons
    assert "Relancer" in screen.all_buttons  # the event still takes place
    await bot.drain()
    told = await alice.receive(contains="est clos")
    assert "On compte toujours sur vous" in told.text and "Mairie de Blaye" in told.text
    assert "clos" in (await bob.press("Je viens")).text
    assert "clos" in (await alice.press("Je ne peux plus venir")).text
    assert await bot.state.call_answers() == {3001: "yes", 3003: "no"}
    again = await coord.press_data("call:1:cl:1", message_id=screen.message_id)
    assert "plus valable" in again.text  # already closed: stale, nothing changes
    await coord.press("Retour")
    back = await coord.receive(contains="Vos appels")
    assert "clos" in back.text


async def test_the_deadline_closes_the_call_and_tells_the_waiting_list(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    bob = await onboard(server, 3002, "Bob")
    await draft_call(coord, needed="1")  # event 05/03 14:30 Paris, deadline 2 h before
    await coord.press("Envoyer maintenant")
    await bot.drain()
    await alice.press("Je viens")
    await bob.press("Je viens")  # waiting list
    await bot.tick()
    assert (await bot.state.only_call()).status == "complete"  # deadline not reached

    clock.set(datetime(2026, 3, 5, 11, 31, tzinfo=UTC))  # 12:31 Paris: past the deadline
    await bot.tick()
    await bot.drain()
    assert (await bot.state.only_call()).status == "closed"
    told = await bob.receive(contains="est clos")
    assert "pas besoin de vous" in told.text
    assert not [m for m in alice.messages if "est clos" in m.content]  # she still comes
    await bot.tick()  # a second sweep tells nobody twice
    await bot.drain()
    notices = await bot.state.deliveries_of("call_notice")
    assert [d.chat_id for d in notices] == [3002]
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    assert "clos" in listing.text

    # Closed for answers, but the event is still ahead: it can still be called off.
    await coord.press(listing.all_buttons[0])
    detail = await coord.receive(contains="Volontaires")
    assert "Annuler l'appel" in detail.all_buttons
    await coord.press("Annuler l'appel")
    await coord.receive(contains="1 personne vient ou attend une place")
    await coord.press("Oui, annuler l'appel")
    await bot.drain()
    assert "annulé" in (await alice.receive(contains="❌")).text
    assert (await bot.state.only_call()).status == "cancelled"
