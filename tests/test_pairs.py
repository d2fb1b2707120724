"""Gardener pairs (flow 4): matching, notices, relay, check-ins, escalation, coordinator tools."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.services.pairs import ConfirmOutcome
from sandbox.fakeapi.users import seen
from storage.members import MemberRepository
from storage.pairs import Pair
from tests.conftest import COORDINATOR_ID
from tests.test_initiatives_life import seed_initiatives

BLAYE = "Blaye"
PARIS = ZoneInfo("Europe/Paris")


async def person(
    bot: Any,
    server: Any,
    uid: int,
    name: str,
    *,
    territory: str = BLAYE,
    themes: tuple[str, ...] = ("Solidarité",),
    gardener: bool = False,
    capacity: int | None = None,
    language: str = "fr",
) -> Any:
    """An onboarded member (a citizen gardener, or a technician when capacity is given)."""
    user = server.user(uid, name, username=f"{name.lower()}_secret", language_code=language)
    services = bot.services
    repo = MemberRepository(services.db)
    now = services.clock.now()
    async with services.db.transaction():
        await repo.create(
            telegram_id=uid,
            display_name=name,
            username=f"{name.lower()}_secret",
            language=language,
            referral_code=f"ref{uid}",
            referred_by=None,
            now=now,
        )
        await repo.update(
            uid,
            territory=territory,
            onboarded_at=now,
            is_citizen_gardener=gardener,
            is_technician=capacity is not None,
        )
        await repo.set_themes(uid, themes)
        if capacity is not None:
            await repo.save_technician(uid, "Espaces verts", capacity, [territory])
    return user


async def coordinator(bot: Any, server: Any, uid: int = COORDINATOR_ID) -> Any:
    return await person(bot, server, uid, "Coline" if uid == COORDINATOR_ID else f"Coord{uid}")


async def paired(bot: Any, server: Any) -> tuple[Any, Any, int]:
    alice = await person(bot, server, 101, "Alice", gardener=True)
    tom = await person(bot, server, 201, "Tom", capacity=3)
    done = await bot.services.pairs.confirm_match(101, 201, by=COORDINATOR_ID)
    assert done.outcome is ConfirmOutcome.CREATED
    await bot.drain()
    await alice.receive(contains="Votre binôme est formé")
    await tom.receive(contains="Votre binôme est formé")
    return alice, tom, done.pair_id


async def sent_kinds(bot: Any, kind: str) -> int:
    return len(await bot.state.deliveries_of(kind))


async def pair_row(bot: Any, pair_id: int) -> Pair:
    pair: Pair = await bot.state.pair(pair_id)
    return pair


# --- matching ------------------------------------------------------------------------------


async def test_proposals_confirm_and_notify_both(server, bot):
    coord = await coordinator(bot, server)
    await person(bot, server, 101, "Alice", gardener=True)
    await person(bot, server, 102, "Bruno", gardener=True)
    await person(bot, server, 103, "Zoé", territory="Cenon", themes=("Culture",), gardener=True)
    await person(bot, server, 104, "Paul")  # not a citizen gardener: never proposed
    alice = server.get_user(101)
    bruno = server.get_user(102)
    tom = await person(bot, server, 201, "Tom", capacity=2, themes=("Solidarité", "Culture"))

    await coord.send("/binomes")
    overview = await coord.receive(contains="Binômes actifs")
    assert "Binômes actifs : 0" in seen(overview.text)
    proposals = await coord.receive(contains="Propositions")
    assert "Alice ↔ Tom" in proposals.text and "Bruno ↔ Tom" in proposals.text
    assert "Paul" not in proposals.text
    unmatched = await coord.receive(contains="Sans binôme")
    assert "Zoé" in unmatched.text and "personne dans l'équipe technique" in unmatched.text

    answer = await coord.press("✅ 1", message=proposals)
    assert "confirmé" in answer.text
    assert "✅ Alice ↔ Tom — confirmé" in (await coord.receive(contains="Propositions")).text
    await coord.press("Passer 2", message=proposals)
    edited = await coord.receive(contains="Propositions")
    assert "Bruno ↔ Tom — passé" in edited.text
    assert edited.buttons == []

    rows = await bot.state.pairs.all()
    assert [(r.citizen_id, r.technician_id, r.status) for r in rows] == [(101, 201, "active")]
    await bot.drain()
    to_alice = await alice.receive(contains="Votre binôme est formé")
    assert "Tom" in to_alice.text and "technicien" in to_alice.text
    assert "Espaces verts" in to_alice.text and "Solidarité" in to_alice.text
    to_tom = await tom.receive(contains="Votre binôme est formé")
    assert "Alice" in to_tom.text and "citoyen" in to_tom.text and BLAYE in to_tom.text
    assert "/binome" in to_tom.text
    assert not bruno.messages  # skipped: nothing sent

    # Bruno was skipped, not forgotten: the next run proposes him again.
    await coord.send("/binomes")
    await coord.receive(contains="Binômes actifs : 1")
    again = await coord.receive(contains="Propositions")
    assert "Bruno ↔ Tom" in again.text and "Alice" not in again.text
    await coord.press("✅ Tout confirmer (1)", message=again)
    assert [p.status for p in await bot.state.pairs.all()].count("active") == 2


async def test_only_coordinators_match(server, bot):
    await coordinator(bot, server)
    alice = await person(bot, server, 101, "Alice", gardener=True)
    await person(bot, server, 201, "Tom", capacity=2)
    await alice.send("/binomes")
    denied = await alice.receive()
    assert "réservée à l'équipe de coordination" in denied.text
    assert await bot.state.proposals() == []
    coord = server.get_user(COORDINATOR_ID)
    await coord.send("/binomes")
    proposals = await coord.receive(contains="Propositions")
    forged = proposals.button_data["✅ 1"]
    answer = await alice.press_data(forged)
    assert answer.show_alert
    assert await bot.state.pairs.all() == []


async def test_concurrent_confirmations_never_exceed_capacity(server, bot):
    await person(bot, server, 201, "Tom", capacity=3)
    for uid in range(101, 111):
        await person(bot, server, uid, f"C{uid}", gardener=True)
    pairs = bot.services.pairs
    results = await asyncio.gather(*(pairs.confirm_match(uid, 201) for uid in range(101, 111)))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(ConfirmOutcome.CREATED) == 3
    assert outcomes.count(ConfirmOutcome.FULL) == 7
    assert [p.technician_id for p in await bot.state.pairs.all()].count(201) == 3


async def test_two_coordinators_pressing_at_once_make_one_pair(server, make_bot):
    bot = await make_bot(coordinators=[COORDINATOR_ID, 901])
    first = await coordinator(bot, server)
    second = await coordinator(bot, server, 901)
    await person(bot, server, 101, "Alice", gardener=True)
    await person(bot, server, 201, "Tom", capacity=1)
    await person(bot, server, 202, "Tim", capacity=1)
    views = []
    for coord in (first, second):
        await coord.send("/binomes")
        views.append(await coord.receive(contains="Propositions"))
    answers = await asyncio.gather(
        first.press("✅ 1", message=views[0]), second.press("✅ 1", message=views[1])
    )
    texts = sorted(a.text for a in answers)
    assert any("Binôme confirmé" in t for t in texts)
    assert any("déjà un binôme" in t for t in texts)
    assert [p.status for p in await bot.state.pairs.all()].count("active") == 1


async def test_auto_confirm_pairs_on_tick(server, make_bot):
    bot = await make_bot(pairs={"auto_confirm": True})
    alice = await person(bot, server, 101, "Alice", gardener=True)
    tom = await person(bot, server, 201, "Tom", capacity=1)
    await person(bot, server, 102, "Bruno", gardener=True)
    await bot.tick()
    first = (await bot.state.pairs.all())[0]
    assert (first.citizen_id, first.technician_id) == (101, 201)
    await alice.receive(contains="Votre binôme est formé")
    await tom.receive(contains="Alice")
    await bot.tick()  # Bruno stays unmatched (Tom is full): nothing more, no error
    assert len(await bot.state.pairs.all()) == 1
    sam = await person(bot, server, 202, "Sam", capacity=1)
    await bot.tick()  # a new technician: the matcher runs again
    [bruno_pair] = [p for p in await bot.state.pairs.all() if p.citizen_id == 102]
    assert bruno_pair.technician_id == 202
    await sam.receive(contains="Bruno")


# --- relay ---------------------------------------------------------------------------------


async def test_relay_both_ways_without_usernames(server, bot):
    alice, tom, _pair_id = await paired(bot, server)
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message pour Tom")
    await alice.send_sticker()
    await alice.receive(contains="texte ou une photo")
    await alice.send("x" * 3001)
    too_long = await alice.receive(contains="trop long")
    assert "3001" in too_long.text and "3000" in too_long.text
    await alice.send("Bonjour Tom, on se voit jeudi ?")
    await alice.receive(contains="Message transmis à Tom")
    await bot.drain()
    incoming = await tom.receive(contains="Bonjour Tom")
    assert "Alice" in incoming.text and "citoyen" in incoming.text
    await tom.press("↩️ Répondre", message=incoming)
    await tom.receive(contains="Écrivez votre message pour Alice")
    await tom.send_photo(caption="Voici le jardin partagé")
    await tom.receive(contains="Message transmis à Alice")
    await bot.drain()
    photo = await alice.receive(contains="Voici le jardin")
    assert photo.photo is not None and "Tom" in photo.caption
    # Outside /binome, a message goes nowhere.
    await alice.send("encore ?")
    await alice.receive(contains="je ne sais pas répondre aux messages libres")
    for viewer, other in ((alice, "tom_secret"), (tom, "alice_secret")):
        for message in viewer.messages:
            assert other not in (message.content or "") and other not in (message.html or "")
    assert await sent_kinds(bot, "pair.relay") == 2


async def test_technician_with_two_pairs_chooses(server, bot):
    alice, tom, _ = await paired(bot, server)
    bruno = await person(bot, server, 102, "Bruno", gardener=True)
    await bot.services.pairs.confirm_match(102, 201)
    await bot.drain()
    await tom.send("/binome")
    choose = await tom.receive(contains="À quel binôme")
    assert any("Bruno" in row[0] for row in choose.buttons)
    label = next(row[0] for row in choose.buttons if "Bruno" in row[0])
    await tom.press(label)
    await tom.receive(contains="pour Bruno")
    await tom.send("Salut Bruno")
    await tom.receive(contains="transmis")
    await bot.drain()
    await bruno.receive(contains="Salut Bruno")
    assert not any("Salut Bruno" in m.content for m in alice.messages)


# --- check-ins -----------------------------------------------------------------------------


async def test_checkin_due_at_night_waits_for_the_morning(server, bot, clock):
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # 03:00 in Paris (CET)
    alice, tom, pair_id = await paired(bot, server)
    clock.set(datetime(2026, 3, 16, 2, 0, tzinfo=UTC))  # due: 03:00 local
    await bot.tick()
    clock.set(datetime(2026, 3, 16, 7, 59, tzinfo=UTC))  # 08:59 local
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 0
    clock.set(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))  # 09:00 local
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 2
    ask = await alice.receive(contains="Point binôme avec Tom")
    assert ask.buttons[0] == ["Ça avance"]
    await tom.receive(contains="Point binôme avec Alice")
    await bot.tick()  # nothing is sent twice
    assert await sent_kinds(bot, "pair.checkin") == 2
    assert (await pair_row(bot, pair_id)).next_due_at == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )  # 10:00 CEST, inside


async def test_checkin_window_across_dst_in_march(server, bot, clock):
    clock.set(datetime(2026, 3, 15, 2, 0, tzinfo=UTC))  # 03:00 CET
    await paired(bot, server)
    # Due 2026-03-29 02:00 UTC = 04:00 CEST, the night clocks go forward.
    clock.set(datetime(2026, 3, 29, 6, 59, tzinfo=UTC))  # 08:59 CEST
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 0
    clock.set(datetime(2026, 3, 29, 7, 0, tzinfo=UTC))  # 09:00 CEST
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 2


async def test_checkin_window_across_dst_in_october(server, bot, clock):
    clock.set(datetime(2026, 10, 11, 1, 30, tzinfo=UTC))  # 03:30 CEST
    await paired(bot, server)
    # Due 2026-10-25 01:30 UTC = 02:30 CET, the night clocks go back.
    clock.set(datetime(2026, 10, 25, 7, 0, tzinfo=UTC))  # 08:00 CET (09:00 in summer time)
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 0
    clock.set(datetime(2026, 10, 25, 8, 0, tzinfo=UTC))  # 09:00 CET
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 2


async def _next_checkin(bot: Any, clock: Any, alice: Any, tom: Any, pair_id: int) -> Any:
    due = (await pair_row(bot, pair_id)).next_due_at
    assert due is not None
    clock.set(due)
    await bot.tick()
    await tom.receive(contains="Point binôme")
    return await alice.receive(contains="Point binôme")


async def test_each_answer_note_and_escalation(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    ask = first_ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("Ça avance", message=ask)
    thanks = await alice.receive(contains="Merci")
    assert "ça avance" in thanks.text and "300 caractères" in thanks.text
    await alice.send("n" * 301)
    refused = await alice.receive(contains="trop longue")
    assert "301" in refused.text and "300" in refused.text and "n" * 301 in refused.text
    await alice.send_photo()
    await alice.receive(contains="J'attends une réponse écrite")
    await alice.send("Tout roule, on plante samedi")
    await alice.receive(contains="Note enregistrée")
    tom_ask = tom.messages[-1]
    await tom.press("On s'est parlé", message=tom_ask)
    await tom.press("Passer")
    await tom.receive(contains="C'est noté")
    answers = await bot.state.checkin_answers()
    assert [(a.member_id, a.answer, a.note) for a in answers] == [
        (101, "progress", "Tout roule, on plante samedi"),
        (201, "met", None),
    ]
    assert (await pair_row(bot, pair_id)).health == "on_track"
    await bot.drain()
    assert await sent_kinds(bot, "pair.escalation") == 0

    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("Besoin d'un coup de main", message=ask)
    await bot.drain()
    help_notice = await coord.receive(contains="besoin d'un coup de main")
    assert "Alice ↔ Tom" in help_notice.text
    assert (await pair_row(bot, pair_id)).health == "needs_help"
    await tom.press("C'est bloqué", message=tom.messages[-1])
    await tom.send("Le terrain est fermé")
    await tom.receive(contains="Note enregistrée")
    await bot.drain()
    blocked = await coord.receive(contains="bloqué")
    assert "Tom" in blocked.text
    note = await coord.receive(contains="Le terrain est fermé")
    assert "Tom" in note.text
    assert (await pair_row(bot, pair_id)).health == "blocked"

    # The old check-in's buttons no longer count; a stranger's forged press changes nothing.
    old_data = first_ask.button_data["C'est bloqué"]
    stale = await alice.press_data(old_data, message_id=first_ask.message_id)
    assert stale.show_alert
    stranger = await person(bot, server, 999, "Eve", gardener=True)
    checkin_id = max(c.id for c in await bot.state.checkins())
    await stranger.send("/binome")
    await stranger.receive(contains="pas de binôme")
    forged = await stranger.press_data(f"pair:1:a:{checkin_id}:b")
    assert forged.show_alert
    assert len(await bot.state.checkin_answers()) == 4

    # The coordinator sees the history and health.
    await coord.press("Voir le binôme", message=note)
    card = await coord.receive(contains="Binôme Alice ↔ Tom")
    assert "bloqué" in card.text and "Tout roule, on plante samedi" in card.text
    assert "On s'est parlé" in card.text and "Le terrain est fermé" in card.text


async def test_two_silent_checkins_escalate_once(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    for _ in range(2):
        await _next_checkin(bot, clock, alice, tom, pair_id)
    assert await sent_kinds(bot, "pair.escalation") == 0
    await _next_checkin(bot, clock, alice, tom, pair_id)  # the second went unanswered too
    silent = await coord.receive(contains="aucune réponse")
    assert "Alice ↔ Tom" in silent.text
    assert (await pair_row(bot, pair_id)).health == "silent"
    await _next_checkin(bot, clock, alice, tom, pair_id)
    assert await sent_kinds(bot, "pair.escalation") == 1
    ask = alice.messages[-1]
    await alice.press("Ça avance", message=ask)
    assert (await pair_row(bot, pair_id)).health == "on_track"
    assert (await pair_row(bot, pair_id)).silent_rounds == 0


async def test_restart_between_checkins_loses_nothing(server, bot, clock):
    alice, tom, pair_id = await paired(bot, server)
    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("C'est bloqué", message=ask)
    await bot.restart()
    await alice.send("Note écrite après le redémarrage")  # the note prompt survived
    await alice.receive(contains="Note enregistrée")
    # The bot is down over the whole next window: at 21:00 the check-in waits for the morning.
    day = (await pair_row(bot, pair_id)).next_due_at
    await bot.stop()
    assert day is not None
    clock.set(day.replace(hour=20, minute=0))  # 22:00 in Paris (summer time by then)
    await bot.start()
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 2
    morning = datetime.combine(day.date() + timedelta(days=1), time(9), tzinfo=PARIS)
    assert (await pair_row(bot, pair_id)).next_due_at == morning
    clock.set(morning - timedelta(minutes=1))
    await bot.tick()
    assert await sent_kinds(bot, "pair.checkin") == 2
    clock.set(morning)
    await bot.tick()
    await alice.receive(contains="Point binôme")
    assert await sent_kinds(bot, "pair.checkin") == 4


# --- coordinator tools ---------------------------------------------------------------------


async def test_nudge_interval_repair_and_end(server, bot):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    await coord.send("/binomes")
    overview = await coord.receive(contains="Binômes actifs : 1")
    # No check-in answered yet: not "en route" (issue 16, item 7).
    await coord.press("🕓 Alice ↔ Tom", message=overview)
    card = await coord.receive(contains="Binôme Alice ↔ Tom")
    assert "Pas encore de point" in card.text

    nudged = await coord.press("🔔 Relancer", message=card)
    assert "Relance envoyée" in nudged.text
    await bot.drain()
    reminder = await alice.receive(contains="Petit rappel")
    assert "Tom" in reminder.text and reminder.buttons[0] == ["Ça avance"]
    await tom.receive(contains="Petit rappel")

    await coord.press("⏱ Fréquence", message=card)
    await coord.press("7 j")
    assert (await pair_row(bot, pair_id)).interval_days == 7
    assert "tous les 7 jours" in (await coord.receive(contains="Binôme Alice")).text

    # A member forging a coordinator action is refused and nothing changes.
    forged = await alice.press_data(f"pair:1:enok:{pair_id}")
    assert forged.show_alert
    assert (await pair_row(bot, pair_id)).status == "active"

    await coord.press("🔁 Reformer")
    await coord.press("Valider")
    await coord.receive(contains="repasse dans les propositions")
    row = await pair_row(bot, pair_id)
    assert row.status == "ended" and row.end_reason == "repair"
    await bot.drain()
    await alice.receive(contains="une autre personne de l'équipe technique")
    await tom.receive(contains="votre place est libérée")
    # Alice is back in matching and Tom's place is free again.
    await coord.send("/binomes")
    proposals = await coord.receive(contains="Propositions")
    assert "Alice ↔ Tom" in proposals.text
    await coord.press("✅ 1", message=proposals)
    new_id = next(p.id for p in await bot.state.pairs.all() if p.status == "active")
    await bot.drain()
    await alice.receive(contains="Votre binôme est formé")

    card_press = await coord.press_data(f"pair:1:c:{new_id}")
    assert not card_press.show_alert
    card = await coord.receive(contains="Binôme Alice ↔ Tom")
    await coord.press("⏹ Terminer", message=card)
    await coord.press("Valider")
    assert (await pair_row(bot, new_id)).end_reason == "ended"
    await bot.drain()
    await alice.receive(contains="prend fin. Merci")
    await tom.receive(contains="prend fin. Merci")
    # Pressing the old confirmation again changes nothing.
    again = await coord.press_data(f"pair:1:enok:{new_id}")
    assert again.show_alert


async def test_a_pair_made_for_an_initiative_opens_with_its_title(server, bot):
    """Issue 16, item 1: the card formatted the initiative line without its title (KeyError,
    "Oups"), so the coordinator lost the tools of exactly those pairs."""
    coord = await coordinator(bot, server)
    await person(bot, server, 101, "Alice", gardener=True)
    await person(bot, server, 201, "Tom", capacity=3)
    [initiative_id] = await seed_initiatives(bot, 101, [("Jardin <partagé>", BLAYE, "Culture")])
    done = await bot.services.pairs.confirm_match(
        101, 201, by=COORDINATOR_ID, initiative_id=initiative_id
    )
    assert done.outcome is ConfirmOutcome.CREATED
    await coord.send("/binomes")
    overview = await coord.receive(contains="Binômes actifs : 1")
    await coord.press("🕓 Alice ↔ Tom", message=overview)  # no answer yet
    card = await coord.receive(contains="Binôme Alice ↔ Tom")
    assert "Initiative\xa0: <b>Jardin &lt;partagé&gt;</b>" in card.html  # escaped
    assert "🔔 Relancer" in [b for row in card.buttons for b in row]


async def test_technician_who_leaves_frees_their_pairs(server, bot):
    await coordinator(bot, server)
    alice, _tom, _pair_id = await paired(bot, server)
    bruno = await person(bot, server, 102, "Bruno", gardener=True)
    await bot.services.pairs.confirm_match(102, 201)
    await bot.drain()
    # The dispatcher marks members who blocked the bot; emulate it.
    repo = MemberRepository(bot.services.db)
    await repo.set_status(201, "blocked")
    await bot.tick()
    pairs = await bot.state.pairs.all()
    assert [p for p in pairs if p.status == "active"] == []
    assert {p.end_reason for p in pairs} == {"left"}
    await alice.receive(contains="Tom n'est plus disponible")
    await bruno.receive(contains="Tom n'est plus disponible")
    citizens = await bot.services.pairs.repo.unpaired_citizens()
    assert {c.member_id for c in citizens} == {101, 102}

    # The privacy feature calls release_member before erasing a citizen.
    sam = await person(bot, server, 202, "Sam", capacity=1)
    await bot.services.pairs.confirm_match(101, 202)
    await bot.drain()
    assert await bot.services.pairs.release_member(101) == 1
    await bot.drain()
    await sam.receive(contains="Alice a quitté le dispositif")
    assert await bot.services.pairs.release_member(101) == 0


async def test_each_gardener_reads_in_their_own_language(server, bot, clock):
    alice = await person(bot, server, 101, "Alice", gardener=True)
    jane = await person(bot, server, 201, "Jane", capacity=1, language="en")
    await bot.services.pairs.confirm_match(101, 201)
    await bot.drain()
    to_jane = await jane.receive(contains="Your pair is formed")
    assert "Alice" in to_jane.text and "citizen gardener" in to_jane.text
    await alice.receive(contains="Votre binôme est formé")
    await jane.send("/binome")
    await jane.receive(contains="Write your message for Alice")
    await jane.send("Hello <b>Alice</b>")
    await jane.receive(contains="passed on to Alice")
    await bot.drain()
    incoming = await alice.receive(contains="Hello")
    assert "jardinier technicien ou jardinière technicienne" in incoming.text
    assert "<b>Alice</b>" in incoming.text  # shown as typed, never as markup
    # A pair that ends while someone is typing: the message is not passed on.
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message")
    await bot.services.pairs.release_member(201)
    await alice.send("Tu es là ?")
    await alice.receive(contains="plus actif")
    await bot.drain()
    assert not any("Tu es là" in m.content for m in jane.messages)


async def test_one_sweep_serves_more_due_pairs_than_a_batch(server, make_bot, clock, monkeypatch):
    monkeypatch.setattr("bot.services.pair_checkins.SWEEP_BATCH", 10)  # where it is read
    bot = await make_bot(sending={"per_chat_per_second": 10})
    services = bot.services
    repo = MemberRepository(services.db)
    now = clock.now()
    server.add_users([*range(1000, 1025), *range(5000, 5005)])
    async with services.db.transaction():
        for uid in range(1000, 1025):
            await repo.create(
                telegram_id=uid,
                display_name=f"C{uid}",
                username=None,
                language="fr",
                referral_code=f"c{uid}",
                referred_by=None,
                now=now,
            )
            await repo.update(uid, territory=BLAYE, onboarded_at=now, is_citizen_gardener=True)
            await repo.set_themes(uid, ["Solidarité"])
        for uid in range(5000, 5005):
            await repo.create(
                telegram_id=uid,
                display_name=f"T{uid}",
                username=None,
                language="fr",
                referral_code=f"t{uid}",
                referred_by=None,
                now=now,
            )
            await repo.update(uid, territory=BLAYE, onboarded_at=now, is_technician=True)
            await repo.set_themes(uid, ["Solidarité"])
            await repo.save_technician(uid, "Voirie", 50, [BLAYE])
    for uid in range(1000, 1025):
        done = await services.pairs.confirm_match(uid, 5000 + (uid - 1000) // 5)
        assert done.outcome is ConfirmOutcome.CREATED
    clock.advance(timedelta(days=14))
    await services.pairs.send_due_checkins()
    assert len(await bot.state.checkins()) == 25
    pairs = await bot.state.pairs.all()
    assert [p for p in pairs if p.next_due_at is not None and p.next_due_at <= clock.now()] == []
    await bot.drain()
    assert await sent_kinds(bot, "pair.checkin") == 50
