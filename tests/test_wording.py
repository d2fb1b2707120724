"""What people read, through the real Application: the small text errors of issue 16 mended."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_calls import start_coordinator
from tests.test_initiatives_life import press_on, seed_initiatives
from tests.test_pairs import _next_checkin, coordinator, paired, person


async def test_a_wrong_date_or_number_is_not_offered_for_shortening(server, bot):
    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send("Qui peut aider samedi ?")
    await coord.receive(contains="Où ?")
    await coord.send("x" * 201)  # too long: shown back, to shorten it
    too_long = await coord.receive(contains="Le lieu doit faire")
    assert "pour le raccourcir" in too_long.text and "x" * 201 in too_long.text
    await coord.send("Mairie de Blaye")
    await coord.receive(contains="Quand ?")
    await coord.send("beaucoup")
    wrong_date = await coord.receive(contains="Je n'ai pas compris cette date")
    assert "raccourcir" not in wrong_date.text and "beaucoup" not in wrong_date.text
    await coord.send("05/03 14h30")
    await coord.receive(contains="Combien")
    await coord.send("plein")
    wrong_number = await coord.receive(contains="nombre entier")
    assert "raccourcir" not in wrong_number.text and "plein" not in wrong_number.text


async def test_onboarding_capacity_error_does_not_echo_the_text(server, bot):
    coord = await onboard(server, COORDINATOR_ID, "Coline", staff=True)
    await coord.send("/inviter technicien")
    arg = (await coord.receive(contains="t.me/")).text.split("start=")[1].split()[0]
    tech = server.user(2001, "Théo")
    await tech.send(f"/start {arg}")
    welcome = await tech.receive()
    assert "Ce bot est géré par" in welcome.text  # no "le bot de Essaim": nothing to elide
    await tech.press("J'accepte")
    await tech.receive(contains="Invitation acceptée")
    await tech.send("Théo")
    await tech.receive(contains="Où habitez-vous")
    await tech.press("Blaye")
    await tech.press("▫️ Environnement")
    await tech.press("Valider")
    await tech.receive(contains="quel service")
    await tech.send("Service déchets")
    await tech.receive(contains="territoires couvrez")
    await tech.press("▫️ Blaye")
    await tech.press("Valider")
    await tech.receive(contains="Combien de personnes")
    await tech.send("beaucoup")
    refused = await tech.receive(contains="nombre entier")
    assert "raccourcir" not in refused.text


async def test_a_name_ending_with_a_period_gets_one_period(server, bot):
    alice = await person(bot, server, 101, "Alice", gardener=True)
    await person(bot, server, 201, "Camille D.", capacity=3)
    await bot.services.pairs.confirm_match(101, 201, by=COORDINATOR_ID)
    await bot.drain()
    await alice.receive(contains="Votre binôme est formé")
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message")
    await alice.send("Bonjour !")
    sent = await alice.receive(contains="Message transmis")
    assert sent.text.endswith("Camille D.") and ".." not in sent.text


async def test_blocked_answer_says_the_coordination_will_get_in_touch(server, bot, clock):
    coord = await coordinator(bot, server)
    alice, tom, pair_id = await paired(bot, server)
    ask = await _next_checkin(bot, clock, alice, tom, pair_id)
    await alice.press("C'est bloqué", message=ask)
    thanks = await alice.receive(contains="Merci")
    assert "L'équipe de coordination est prévenue" in thanks.text
    assert "Elle va vous contacter bientôt" in thanks.text
    await bot.drain()
    await coord.receive(contains="Alice dit que c'est bloqué")
    # A plain "ça avance" promises nothing of the kind.
    await tom.press("Ça avance", message=tom.messages[-1])
    plain = await tom.receive(contains="Merci")
    assert "coordination" not in plain.text


async def test_a_gardener_already_is_not_told_they_become_one(server, bot):
    await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice", gardener=True)
    bruno = await onboard(server, 1002, "Bruno")
    for author, title in ((alice, "Repair café"), (bruno, "Fresque")):
        [initiative_id] = await seed_initiatives(bot, author.id, [(title, "Blaye", "Culture")])
        await bot.services.initiatives.set_stage(COORDINATOR_ID, initiative_id, "consolidation")
        await bot.drain()
        offer = await author.receive(contains="passe à l'étape")
        assert "équipe technique" in offer.text
        await author.press("Oui, je veux un binôme", message=offer)
    assert "Vous devenez" not in alice.last.text and "votre binôme" in alice.last.text
    assert "Vous devenez jardinier citoyen ou jardinière citoyenne" in bruno.last.text


async def test_language_switch_changes_a_members_menu(server, bot):
    kim = await onboard(server, 1060, "Kim")
    assert ("proposer", "Proposer une initiative") in kim.commands
    await kim.send("/langue")
    await kim.receive(contains="Dans quelle langue")
    await kim.press("English")
    await kim.receive(contains="speak English")
    assert ("proposer", "Propose an initiative") in kim.commands
    await kim.send("/langue fr")
    await kim.receive(contains="en français")
    assert ("proposer", "Proposer une initiative") in kim.commands


async def test_free_text_gets_a_warm_answer_and_buttons_for_the_role(server, bot):
    kim = await onboard(server, 1060, "Kim")
    await kim.send("bonjour, comment je fais pour aider ?")
    answer = await kim.receive(contains="Merci pour votre message")
    assert "Voici ce que vous pouvez faire" in answer.text
    assert answer.all_buttons == [
        "Les initiatives",
        "Proposer une initiative",
        "Mon profil",
        "Ce que je peux faire",
    ]
    await kim.press("Ce que je peux faire")
    assert "Ce que vous pouvez faire" in (await kim.receive(contains="/proposer")).text
    await kim.press("Proposer une initiative", message=answer)
    await kim.receive(contains="Quel est le titre")
    # A coordinator's shortcuts are theirs; a member forging one is refused.
    coord = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    await coord.send("merci !")
    await coord.receive(contains="Merci pour votre message")
    assert "Lancer un appel à l'aide" in coord.last.all_buttons
    forged = await kim.press_data("menu:1:go:appel", message_id=answer.message_id)
    assert forged.show_alert and "plus valable" in forged.text
    assert not [m for m in kim.messages if "Nouvel appel" in m.content]


async def test_supporters_digest_in_english_leaves_out_zero(server, bot):
    alice = await onboard(server, 1001, "Alice", language="en")
    bob = await onboard(server, 1002, "Bob")
    await seed_initiatives(bot, 1001, [("Repair café", "Blaye", "Culture")])
    await press_on(bob, "Repair café", "Je veux participer")
    bot.clock.advance(timedelta(hours=7))
    await bot.tick()
    digest = await alice.receive(contains="News for")
    assert "1 new person ready to take part." in digest.text
    assert "supporter" not in digest.text


async def test_french_marks_keep_a_non_breaking_space_but_typed_text_is_untouched(server, bot):
    coord = await start_coordinator(server, bot)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send("Qui peut aider samedi ?")
    where = await coord.receive(contains="Où")
    assert "Où\u00a0?" in where.text and "Où ?" not in where.text  # never "Où" / "?" apart
    await coord.send("Mairie : salle 2")
    asked = await coord.receive(contains="Quand")
    assert "Quand\u00a0?" in asked.text
    await coord.send("05/03 14h30")
    await coord.receive(contains="Combien")
    await coord.send("3")
    await coord.receive(contains="Jusqu'à quand")
    await coord.press("2 h avant")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    preview = await coord.receive(contains="Appel à l'aide")
    # What the coordinator typed keeps its ordinary spaces.
    assert "Qui peut aider samedi ?" in preview.text and "Mairie : salle 2" in preview.text
