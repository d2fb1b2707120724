"""What coordinators need to do their work (issue 16, item 21): who proposed, what was revised,
pairing by hand when the matcher finds nobody, /inviter with buttons, finding one's id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_initiatives import FAST, propose


async def test_the_moderation_notice_says_who_proposed_and_what_was_revised(
    server: Any, make_bot: Any, clock: Any
) -> None:
    bot = await make_bot(sending=FAST)
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice <3")
    await propose(alice, title="Fête des voisins")
    notice = await coco.receive(contains="Nouvelle proposition")
    assert "Proposée par Alice <3" in seen(notice.text)
    assert "modifiée" not in notice.text
    await coco.press("✏️ Demander des changements", message=notice)
    await coco.receive(contains="Quels changements")
    await coco.send("Précisez la date, s'il vous plaît.")
    await coco.receive(contains="C'est envoyé")
    changes = await alice.receive(contains="demande des changements")
    await alice.press("✏️ Modifier et renvoyer", message=changes)
    await alice.receive(contains="Aperçu")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci")
    clock.advance(timedelta(minutes=10))
    await bot.tick()
    revised = await coco.receive(contains="Proposition modifiée")
    assert "Fête des voisins" in revised.text and "Proposée par Alice" in seen(revised.text)
    assert "✅ Publier" in revised.all_buttons
    await coco.send("/propositions")
    queue = seen((await coco.receive(contains="Proposition 1 sur 1")).text)
    assert "Proposée par Alice <3" in queue and "Proposition modifiée" in queue

    # A digest of several proposals names each author too.
    bruno = await onboard(server, 1002, "Bruno")
    await propose(bruno, title="Vélo-école")
    await coco.receive(contains="Vélo-école")  # the first one goes at once
    await propose(bruno, title="Repair café")
    await propose(alice, title="Troc de graines")
    await bot.tick()
    clock.advance(timedelta(minutes=5))
    await bot.tick()
    digest = seen((await coco.receive(contains="nouvelles propositions")).text)
    assert "Repair café — par Bruno" in digest and "Troc de graines — par Alice <3" in digest


async def test_a_citizen_without_a_possible_pair_can_be_paired_by_hand(
    server: Any, make_bot: Any
) -> None:
    from tests.test_pairs import person

    bot = await make_bot(sending=FAST)
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    gaby = await person(bot, server, 5020, "Gaby", gardener=True, themes=("Culture",))
    # Ten technicians, none sharing Gaby's theme: the matcher finds nobody.
    for n in range(10):
        await person(bot, server, 5100 + n, f"Tech{n}", capacity=2, territory="Cenon")
    full = await person(bot, server, 5200, "Zélie", capacity=1, gardener=False)
    await person(bot, server, 5021, "Hugo", gardener=True, themes=("Solidarité",))
    await bot.services.pairs.confirm_match(5021, 5200, by=COORDINATOR_ID)
    await full.receive(contains="Hugo")
    await coco.send("/binomes")
    unmatched = await coco.receive(contains="Sans binôme possible")
    assert "Gaby : personne dans l'équipe technique ne partage" in seen(unmatched.text)
    assert unmatched.all_buttons == ["🤝 Choisir pour Gaby"]

    await coco.press("🤝 Choisir pour Gaby", message=unmatched)
    first = coco.last
    assert "Un binôme pour Gaby" in first.text and "Page 1 sur 2" in first.text
    assert first.all_buttons[0] == "Tech0 (0/2) · Cenon"
    assert len(first.all_buttons) == 8 + 1  # a page of technicians, then "next"
    await coco.press("Suivant ▶", message=first)
    second = coco.last
    assert "Page 2 sur 2" in second.text
    # The full technician comes last, marked, and cannot take Gaby.
    assert "⛔ Zélie (complet, 1/1) · Blaye" in second.all_buttons
    refused = await coco.press("⛔ Zélie (complet, 1/1) · Blaye", message=second)
    assert refused is not None and "plus de place" in refused.text
    assert await bot.state.pairs.active_citizen_pair(5020) is None

    await coco.press("Tech9 (0/2) · Cenon", message=second)
    assert "Binôme confirmé : Gaby ↔ Tech9" in seen(coco.last.text)
    pair = await bot.state.pairs.active_citizen_pair(5020)
    assert pair is not None and pair.technician_id == 5109
    await gaby.receive(contains="Tech9")
    # A late tap on the old list (a double tap, a second coordinator) makes no second pair.
    late = second.button_data["Tech8 (0/2) · Cenon"]
    again = await coco.press_data(late, second.message_id)
    assert again is not None and "déjà un binôme" in again.text
    assert (await bot.state.pairs.active_citizen_pair(5020)).technician_id == 5109
    # Someone who is not a coordinator cannot use the button.
    forged = await gaby.press_data(late)
    assert forged is not None and "équipe de coordination" in forged.text


async def test_inviter_without_a_word_offers_one_button_per_team(
    server: Any, make_bot: Any
) -> None:
    bot = await make_bot(sending=FAST)
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    await coco.send("/inviter")
    question = await coco.receive(contains="Qui voulez-vous inviter")
    assert question.all_buttons == [
        "🛠 Une personne de l'équipe technique",
        "🧭 Une personne de l'équipe de coordination",
    ]
    await coco.press("🛠 Une personne de l'équipe technique", message=question)
    link = coco.last
    assert "équipe technique" in link.text and "start=t-" in link.text and not link.buttons
    arg = link.text.split("start=")[1].split()[0]
    theo = server.user(2001, "Théo")
    await theo.send(f"/start {arg}")
    await theo.receive()
    await theo.press("J'accepte")
    await theo.receive(contains="Invitation acceptée")
    await coco.send("/inviter")
    await coco.receive(contains="Qui voulez-vous inviter")
    await coco.press("🧭 Une personne de l'équipe de coordination")
    assert "start=c-" in coco.last.text
    # The buttons are checked on the server: a member who is not a coordinator gets nothing.
    yann = await onboard(server, 5002, "Yann")
    forged = await yann.press_data(question.button_data["🛠 Une personne de l'équipe technique"])
    assert forged is not None
    assert not any("start=" in m.content for m in yann.messages)
    assert len(await bot.state.invites.all()) == 2


async def test_anyone_can_ask_the_bot_for_their_telegram_id(server: Any, make_bot: Any) -> None:
    bot = await make_bot(sending=FAST)
    newcomer = server.user(4242, "Nina")
    await newcomer.send("/monid")
    told = await newcomer.receive(contains="Votre identifiant Telegram")
    assert "4242" in told.text and "coordinators" in told.text
    assert await bot.state.members.get(4242) is None  # nothing stored, not even consent
    english = server.user(4343, "Ned", language_code="en")
    await english.send("/myid")
    assert "Your Telegram id: 4343" in (await english.receive()).text
