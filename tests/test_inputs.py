"""Bad input on every step (issue 15): lengths as Telegram counts them, invisible or spoofing
text, inputs nobody expected, /oublier mid-onboarding, a double tap on a check-in."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.inputs import Problem, check, clean, echo, parse_int, utf16_cut, utf16_len, visible
from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.test_calls import draft_call, start_coordinator
from tests.test_initiatives import propose
from tests.test_pairs import _next_checkin, coordinator, paired, sent_kinds

EMOJI = "😀" * 5000  # 5,000 code points, 10,000 UTF-16 units
OOPS = "Oups"


def test_lengths_are_utf16_units():
    assert utf16_len("abc") == 3 and utf16_len("é") == 1 and utf16_len("😀") == 2
    assert utf16_len(EMOJI) == 10_000
    assert utf16_cut("a😀b", 2) == "a"  # never half an emoji
    assert utf16_cut("a😀b", 3) == "a😀"
    assert utf16_len(echo(EMOJI)) <= 3000
    assert check("😀" * 41, 80).problem is Problem.TOO_LONG  # 41 code points, 82 units
    assert check("😀" * 40, 80).ok


def test_normalisation():
    assert clean("  Cafe\u0301  ") == "Café"  # NFC, trimmed
    assert clean("\u202eevilname\u202c") == "evilname"  # override controls go
    assert clean("\u2067Ali\u2069") == "Ali"  # isolates too
    assert clean("\u200bAlice\u200b") == "Alice"
    for blank in ("", "   ", "\u200b\u200c\u200d", "\u2060\ufeff", "\u3164", "\u2800", "\u202e"):
        assert check(blank, 64).problem is Problem.EMPTY, repr(blank)
    for name in ("محمد", "שרה", "👩\u200d🌾", "❤️", "Zoé"):
        assert visible(name) and check(name, 64).ok and check(name, 64).value == name
    assert parse_int("12", 1, 50) == 12
    for wrong in ("²", "٣", "1" * 25, "-3", "0", "51", "", "3.5"):
        assert parse_int(wrong, 1, 50) is None, wrong


async def _at_name_step(server: Any, uid: int, name: str = "Alice") -> Any:
    user = server.user(uid, name, username=name.lower())
    await user.send("/start")
    await user.receive()
    await user.press("J'accepte")
    await user.receive(contains="prénom ou pseudo")
    return user


def _no_oops(*users: Any) -> None:
    for user in users:
        assert not any(OOPS in m.content for m in user.messages), user.transcript()


async def test_five_thousand_emoji_on_every_text_step(server, bot):
    alice = await _at_name_step(server, 1001)
    await alice.send(EMOJI)
    refused = await alice.receive(contains="entre 1 et 64")
    assert "😀" * 100 in refused.text  # shown back to shorten, cut to fit in one message

    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send(EMOJI)
    await coord.receive(contains="entre 1 et 1000")
    await coord.send("Qui peut aider ?")
    await coord.receive(contains="Où ?")
    await coord.send(EMOJI)
    await coord.receive(contains="entre 1 et 200")
    await coord.press("Annuler")

    await coord.send("/proposer")
    await coord.receive(contains="titre de votre initiative")
    await coord.send(EMOJI)
    await coord.receive(contains="entre 1 et 80")
    await coord.send("Titre")
    await coord.receive(contains="Décrivez")
    await coord.send(EMOJI)
    await coord.receive(contains="entre 1 et 600")

    await coord.send("/profil")
    await coord.receive(contains="Camille")
    _no_oops(alice, coord)


async def test_five_thousand_emoji_in_a_relay_a_note_and_a_moderation_message(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message")
    await alice.send(EMOJI)
    too_long = await alice.receive(contains="trop long")
    assert "10000" in too_long.text  # counted as Telegram counts
    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("Ça avance", message=ask)
    await alice.send(EMOJI)
    await alice.receive(contains="trop longue")
    await propose(alice)
    await bot.drain()
    await coord.send("/propositions")
    queue = await coord.receive(contains="Proposition 1 sur 1")
    await coord.press("✏️ Demander des changements", message=queue)
    await coord.receive(contains="Quels changements")
    await coord.send(EMOJI)
    await coord.receive(contains="entre 1 et 600")
    _no_oops(alice, coord)


async def test_invisible_and_spoofing_names_are_refused_or_cleaned(server, bot):
    alice = await _at_name_step(server, 1001)
    for invisible in ("\u200b\u200b", "\u3164", "\u202e\u202c", "\u2800 \u200d"):
        await alice.send(invisible)
        await alice.receive(contains="entre 1 et 64 caractères visibles")
    assert (await bot.state.member(1001)).display_name == "Alice"
    await alice.send("\u202eecilA\u202c ")
    await alice.receive(contains="Où habitez-vous")
    assert (await bot.state.member(1001)).display_name == "ecilA"

    sara = await _at_name_step(server, 1002, "Sara")
    await sara.send("שרה")
    await sara.receive(contains="Où habitez-vous")
    assert (await bot.state.member(1002)).display_name == "שרה"


async def test_a_blank_relay_is_not_sent(server, bot):
    alice, _tom, _pair = await paired(bot, server)
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message")
    for blank in ("   ", "\u200b", "\u202e"):
        await alice.send(blank)
        await alice.receive(contains="seulement des espaces ou des caractères invisibles")
    await alice.send("Bonjour")
    await alice.receive(contains="Message transmis")
    assert await sent_kinds(bot, "pair.relay") == 1


async def test_every_input_at_the_call_preview_gets_an_answer(server, bot):
    coord = await start_coordinator(server, bot)
    await draft_call(coord)
    await coord.send("Envoie !")
    again = await coord.receive(contains="utilisez les boutons")
    assert "📨" in " ".join(again.all_buttons) or again.buttons
    await coord.send_sticker()
    await coord.receive(contains="utilisez les boutons")
    await coord.send_photo(caption="une photo")
    await coord.receive(contains="utilisez les boutons")
    await coord.send("3")  # at a number step: nothing changes either
    await coord.receive(contains="utilisez les boutons")


async def test_other_inputs_on_text_steps_get_an_answer(server, bot):
    alice = await _at_name_step(server, 1001)
    await alice.send_photo(caption="moi")
    await alice.receive(contains="J'attends une réponse écrite")
    await alice.send_sticker()
    await alice.receive(contains="J'attends une réponse écrite")
    await alice.send_voice()
    await alice.receive(contains="J'attends une réponse écrite")
    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send_sticker()
    await coord.receive(contains="J'attends le texte de l'appel")
    await coord.send("Qui peut aider ?")
    await coord.receive(contains="Où ?")
    await coord.send_photo()
    await coord.receive(contains="J'attends une réponse écrite")
    _no_oops(alice, coord)


async def test_forget_in_the_middle_of_onboarding(server, bot):
    alice = await _at_name_step(server, 1001)
    await alice.send("Alice B.")
    await alice.receive(contains="Où habitez-vous")
    await alice.send("/oublier")
    confirm = await alice.receive(contains="effacer")
    await alice.press(confirm.buttons[0][0], message=confirm)
    await alice.receive(contains="effacé")
    assert await bot.state.member_ids() == []
    assert await bot.state.conversations.all() == []
    stranger = server.user(1003, "Zed")
    await stranger.send("/oublier")
    await stranger.receive(contains="aucune donnée")


async def test_double_tap_on_a_checkin_answer_stores_one_and_escalates_once(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    first, second = await asyncio.gather(
        alice.press("C'est bloqué", message=ask), alice.press("C'est bloqué", message=ask)
    )
    assert not first.show_alert and not second.show_alert
    answers = await bot.state.checkin_answers()
    assert [(a.member_id, a.answer) for a in answers] == [(101, "blocked")]
    await bot.drain()
    await coord.receive(contains="bloqué")
    assert await sent_kinds(bot, "pair.escalation") == 1
    # The service itself, raced: still one answer, no second escalation.
    checkin_id = answers[0].checkin_id
    pairs = bot.services.pairs
    await asyncio.gather(*(pairs.answer(201, checkin_id, "blocked") for _ in range(5)))
    answers = await bot.state.checkin_answers()
    assert sorted((a.member_id, a.answer) for a in answers) == [(101, "blocked"), (201, "blocked")]
    assert await sent_kinds(bot, "pair.escalation") == 2
    # Changing one's answer is still possible: the answer changes, it is not added.
    await alice.press_data(ask.button_data["Ça avance"], message_id=ask.message_id)
    answers = await bot.state.checkin_answers()
    assert sorted((a.member_id, a.answer) for a in answers) == [
        (101, "progress"),
        (201, "blocked"),
    ]


async def test_a_pair_without_any_answer_is_not_shown_on_track(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    assert (await bot.state.pair(pair_id)).health == "waiting"
    await coord.send("/binomes")
    overview = await coord.receive(contains="Binômes actifs")
    seen_text = seen(overview.text)
    assert "🟢 en route : 0" in seen_text and "sans réponse encore : 1" in seen_text
    assert any(row[0].startswith("🕓 Alice") for row in overview.buttons)
    await coord.press(next(r[0] for r in overview.buttons if "Alice" in r[0]), message=overview)
    card = await coord.receive(contains="Binôme Alice ↔ Tom")
    assert "pas encore de réponse" in card.text and "en route" not in card.text
    assert (await bot.services.stats.community()).pairs == {"waiting": 1}
    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("Ça avance", message=ask)
    assert (await bot.state.pair(pair_id)).health == "on_track"
    assert (await bot.services.stats.community()).pairs == {"on_track": 1}


async def _every_kind_gets_an_answer(user: Any, expected: str | None = None) -> None:
    """A sticker, a voice note, a location, a document and a photo: each gets one answer and
    changes nothing (the caller checks the step after)."""
    for send in (
        lambda: user.send_sticker(),
        lambda: user.send_voice(),
        lambda: user.send_location(44.84, -0.58),
        lambda: user.send_document(b"x", "note.txt", caption="une pièce jointe"),
        lambda: user.send_photo(),
    ):
        await send()
        answer = await user.receive()
        assert OOPS not in answer.content
        if expected:
            assert expected in answer.content, answer.content


async def test_every_step_answers_every_kind_of_message(server, bot):
    alice = await _at_name_step(server, 1001)
    await _every_kind_gets_an_answer(alice, "J'attends une réponse écrite")
    await alice.send("Alice")
    await alice.receive(contains="Où habitez-vous")
    await _every_kind_gets_an_answer(alice)
    await alice.send("Blaye")  # typed where a button is expected
    assert "boutons" in (await alice.receive()).content
    await alice.press("Blaye")
    await alice.receive(contains="thèmes")
    await _every_kind_gets_an_answer(alice)
    assert (await bot.state.member(1001)).territory == "Blaye"

    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send_sticker()
    await coord.receive(contains="J'attends le texte")
    await coord.send("Qui peut aider ?")
    await coord.receive(contains="Où ?")
    await _every_kind_gets_an_answer(coord)
    await coord.send("Mairie")
    await coord.receive(contains="Quand ?")
    await _every_kind_gets_an_answer(coord)
    await coord.send("demain 14h")
    await coord.receive(contains="Combien")
    await _every_kind_gets_an_answer(coord)
    await coord.send("3")
    await coord.receive(contains="Jusqu'à quand")
    await _every_kind_gets_an_answer(coord)
    [draft] = [c for c in await bot.state.conversations.all() if c.flow == "call"]
    assert draft.step == "deadline" and draft.data["needed"] == 3
    assert draft.data["place"] == "Mairie" and draft.data["text"] == "Qui peut aider ?"
    await coord.press("Annuler")

    await coord.send("/proposer")
    await coord.receive(contains="titre de votre initiative")
    await _every_kind_gets_an_answer(coord, "pas une photo")
    await coord.send("Titre")
    await coord.receive(contains="Décrivez")
    await _every_kind_gets_an_answer(coord, "pas une photo")
    await coord.send("Description")
    await coord.receive(contains="thème")
    await _every_kind_gets_an_answer(coord)
    proposal = await bot.state.conversations.get(COORDINATOR_ID, "proposal")
    assert proposal is not None and proposal.step == "theme"
    assert proposal.data == {"title": "Titre", "description": "Description"}
    _no_oops(alice, coord)
