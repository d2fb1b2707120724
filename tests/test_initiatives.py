"""Citizen initiatives: proposing, moderating, and what the author is told (flow 3)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard

# Onboarding sends a burst of screens to each person; at Telegram's real pace of one message
# a second per chat, a notice queued right after would wait for that burst to cool down.
FAST = {"per_chat_per_second": 10}


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    return await make_bot(sending=FAST)


async def propose(
    user: Any,
    title: str = "Jardin partagé",
    description: str = "Un potager au pied des immeubles.",
    theme: str = "Environnement",
    territory: str = "Blaye",
    needs: tuple[str, ...] = ("des personnes",),
) -> None:
    """Drive /proposer to the sent proposal, as a member would."""
    await user.send("/proposer")
    await user.receive(contains="titre de votre initiative")
    await user.send(title)
    await user.receive(contains="Décrivez")
    await user.send(description)
    await user.receive(contains="thème")
    await user.press(theme)
    await user.press(territory)
    for need in needs:
        await user.press("▫️ " + need)
    await user.press("Valider")
    await user.press("📨 Envoyer")
    await user.receive(contains="Merci ! Votre proposition est envoyée")


async def test_full_proposal_with_limits_and_wrong_inputs(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")

    await alice.send("/proposer")
    await alice.receive(contains="au plus 80 caractères")
    await alice.send("T" * 81)
    refused = await alice.receive(contains="entre 1 et 80")
    assert "<code>" + "T" * 81 + "</code>" in refused.html  # shown back to shorten it
    [draft] = [c for c in await bot.state.conversations.all() if c.member_id == 1001]
    assert draft.flow == "proposal" and draft.step == "title"
    assert "T" * 81 in json.dumps(draft.data)  # kept in the draft as well
    await alice.send_photo(caption="mon projet")
    assert "pas une photo" in (await alice.receive()).text
    await alice.send_sticker()
    assert "pas une photo" in (await alice.receive()).text
    await alice.send("<b>Jardin</b> & potager")
    await alice.receive(contains="au plus 600 caractères")
    await alice.send("D" * 601)
    long_text = await alice.receive(contains="entre 1 et 600")
    assert "D" * 601 in long_text.text
    await alice.send_voice()
    assert "pas une photo" in (await alice.receive()).text
    await alice.send("Un potager au pied des immeubles, ouvert à tous.")
    await alice.receive(contains="Quel est son thème")
    await alice.send("Culture")  # typed instead of pressing a button
    assert "utilisez les boutons" in (await alice.receive()).text
    await alice.press("Culture")
    await alice.receive(contains="Où se passera")
    await alice.press("Autre / hors territoire")
    await alice.receive(contains="De quoi avez-vous besoin")
    await alice.press("Valider")  # nothing ticked
    await alice.receive(contains="au moins un besoin")
    await alice.press("▫️ un lieu")
    await alice.press("▫️ du matériel")
    await alice.press("✅ du matériel")  # unticked again
    await alice.press("▫️ un savoir-faire")
    await alice.press("Valider")
    preview = await alice.receive(contains="Aperçu")
    assert "&lt;b&gt;Jardin&lt;/b&gt; &amp; potager" in preview.html  # escaped, not bold
    assert "un lieu, un savoir-faire" in preview.text
    assert "Autre / hors territoire" in preview.text
    assert await bot.state.initiatives.all() == []

    await alice.press("✏️ Titre")
    await alice.receive(contains="titre de votre initiative")
    await alice.send("Potager solidaire")
    again = await alice.receive(contains="Aperçu")  # back to the preview, not the next step
    assert "Potager solidaire" in again.text
    await alice.press("✏️ Thème")
    await alice.press("Environnement")
    await alice.receive(contains="Aperçu")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci ! Votre proposition est envoyée")

    row = (await bot.state.initiatives.all())[0]
    assert row.title == "Potager solidaire" and row.theme == "Environnement"
    assert row.territory == "autre" and row.needs == ["place", "knowhow"]
    assert row.status == "pending" and row.author_id == 1001
    assert [c for c in await bot.state.conversations.all() if c.member_id == 1001] == []

    notice = await coco.receive(contains="Nouvelle proposition")
    assert "Potager solidaire" in notice.text
    assert ["✅ Publier"] in notice.buttons

    await alice.send("/mesinitiatives")
    mine = await alice.receive(contains="Vos propositions")
    assert "Potager solidaire" in mine.text and "en attente de relecture" in mine.text


async def test_draft_survives_a_restart(server, bot):
    alice = await onboard(server, 1001, "Alice")
    await alice.send("/proposer")
    await alice.receive(contains="titre")
    await alice.send("Repair café")
    await alice.receive(contains="Décrivez")
    await bot.restart()
    await alice.send("Réparer ensemble au lieu de jeter.")
    await alice.receive(contains="Quel est son thème")
    await bot.restart()
    await alice.press("Solidarité")  # a button from before the restart still works
    await alice.receive(contains="Où se passera")
    await bot.restart()
    await alice.send("/proposer")
    await alice.receive(contains="Reprenons")
    territory = await alice.receive(contains="Où se passera")
    await alice.press("Cenon", message=territory)
    await alice.press("▫️ des personnes")
    await alice.press("Valider")
    preview = await alice.receive(contains="Aperçu")
    assert "Repair café" in preview.text and "Réparer ensemble" in preview.text
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci")
    row = (await bot.state.initiatives.all())[0]
    assert (row.title, row.theme, row.territory) == ("Repair café", "Solidarité", "Cenon")


async def test_at_most_three_pending_proposals(server, bot):
    alice = await onboard(server, 1001, "Alice")
    for number in range(3):
        await propose(alice, title=f"Idée {number}")
    await alice.send("/proposer")
    refused = await alice.receive(contains="déjà 3 propositions")
    assert "/mesinitiatives" in refused.text
    assert len(await bot.state.initiatives.all()) == 3
    assert [c for c in await bot.state.conversations.all() if c.member_id == 1001] == []


async def test_limit_is_checked_again_at_submit(server, bot):
    alice = await onboard(server, 1001, "Alice")
    for number in range(2):
        await propose(alice, title=f"Idée {number}")
    # Two drafts cannot be open at once, so the third slot is taken behind her back.
    await alice.send("/proposer")
    await alice.receive(contains="titre")
    await alice.send("Troisième")
    await alice.receive(contains="Décrivez")
    await bot.state.initiatives.create(
        author_id=1001,
        title="x",
        description="y",
        theme="Culture",
        territory="Blaye",
        needs=[],
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await alice.send("Texte")
    await alice.receive(contains="thème")
    await alice.press("Culture")
    await alice.press("Blaye")
    await alice.press("▫️ un lieu")
    await alice.press("Valider")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="déjà 3 propositions")
    assert len(await bot.state.initiatives.all()) == 3


async def test_publish_changes_and_decline_tell_the_author(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await propose(alice, title="Jardin partagé")
    await coco.receive(contains="Nouvelle proposition")
    await coco.press("✅ Publier")
    await coco.receive(contains="est publiée")
    told = await alice.receive(contains="Bonne nouvelle")
    assert "Jardin partagé" in told.text
    row = (await bot.state.initiatives.all())[0]
    assert (row.status, row.stage, row.moderator_id) == ("published", "emergence", COORDINATOR_ID)

    await propose(alice, title="Fête des voisins")
    await coco.send("/propositions")
    queue = await coco.receive(contains="Proposition 1 sur 1")
    assert "Fête des voisins" in queue.text
    await coco.press("✏️ Demander des changements", message=queue)
    await coco.receive(contains="Quels changements")
    await coco.send("   ")
    await coco.receive(contains="entre 1 et 600")
    await coco.send_sticker()
    await coco.receive(contains="pas une photo")
    await coco.send("Précisez la date et le lieu, s'il vous plaît.")
    await coco.receive(contains="C'est envoyé")
    changes = await alice.receive(contains="demande des changements")
    assert "Précisez la date" in changes.text
    assert ["✏️ Modifier et renvoyer"] in changes.buttons

    await alice.send("/mesinitiatives")
    mine = await alice.receive(contains="Vos propositions")
    assert "modifications demandées" in mine.text and "Précisez la date" in mine.text
    await alice.press("✏️ Modifier et renvoyer", message=changes)
    await alice.receive(contains="Aperçu")
    await alice.press("✏️ Description")
    await alice.send("Le 21 juin, square Victor-Hugo.")
    await alice.receive(contains="Aperçu")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci")
    rows = await bot.state.initiatives.all()
    assert [r.status for r in rows] == ["published", "pending"]
    assert rows[1].description == "Le 21 juin, square Victor-Hugo."

    await coco.send("/propositions")
    queue = await coco.receive(contains="Proposition 1 sur 1")
    await coco.press("❌ Refuser", message=queue)
    await coco.receive(contains="La raison est obligatoire")
    await coco.send("R" * 601)
    kept = await coco.receive(contains="entre 1 et 600")
    assert "R" * 601 in kept.text
    await coco.send("Une fête privée ne relève pas de notre appel.")
    await coco.receive(contains="est refusée")
    declined = await alice.receive(contains="n'a pas été retenue")
    assert "Une fête privée" in declined.text
    declined_row = await bot.state.initiatives.get(rows[1].id)
    assert declined_row is not None and declined_row.status == "declined"
    actions = await bot.state.audit_actions()
    assert actions[-3:] == ["initiative.published", "initiative.changes", "initiative.declined"]
    await alice.send("/mesinitiatives")
    mine = await alice.receive(contains="Vos propositions")
    assert "refusée" in mine.text and "Raison : Une fête privée" in seen(mine.text)


async def test_two_coordinators_race_first_one_wins(server, make_bot):
    bot = await make_bot(coordinators=[900, 901], sending=FAST)
    first = await onboard(server, 900, "Coco", staff=True)
    second = await onboard(server, 901, "Camille", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await propose(alice)
    notice_a = await first.receive(contains="Nouvelle proposition")
    notice_b = await second.receive(contains="Nouvelle proposition")
    answers = await asyncio.gather(
        first.press("✅ Publier", message=notice_a),
        second.press("✅ Publier", message=notice_b),
    )
    already = [a for a in answers if a.text and "déjà été traitée" in a.text]
    assert len(already) == 1 and already[0].show_alert
    assert (await bot.state.only_initiative()).status == "published"
    audit = await bot.state.audit_actions("initiative.published")
    assert audit == ["initiative.published"]
    await bot.drain()
    told = [m for m in alice.messages if "Bonne nouvelle" in m.text]
    assert len(told) == 1

    # One asks for changes while the other declines: the first reason sent wins.
    await propose(alice, title="Deuxième")
    await first.send("/propositions")
    queue_a = await first.receive(contains="Deuxième")
    await second.send("/propositions")
    queue_b = await second.receive(contains="Deuxième")
    await first.press("✏️ Demander des changements", message=queue_a)
    await first.receive(contains="Quels changements")
    await second.press("❌ Refuser", message=queue_b)
    await second.receive(contains="La raison est obligatoire")
    await asyncio.gather(first.send("Ajoutez une date."), second.send("Hors sujet."))
    replies = [await first.receive(), await second.receive()]
    assert sum("déjà été traitée" in r.text for r in replies) == 1
    [row] = [i for i in await bot.state.initiatives.all() if i.title == "Deuxième"]
    assert (row.status, row.moderation_message) in (
        ("changes", "Ajoutez une date."),
        ("declined", "Hors sujet."),
    )
    decisions = await bot.state.audit_actions("initiative.")
    assert sum(a in ("initiative.changes", "initiative.declined") for a in decisions) == 1
    assert await bot.state.conversations.all() == []


async def test_forged_moderation_button_is_refused(server, bot):
    await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    mallory = await onboard(server, 1002, "Mallory")
    await propose(alice)
    initiative_id = (await bot.state.only_initiative()).id
    for action in ("pub", "chg", "dec"):
        answer = await mallory.press_data(f"ini:1:{action}:{initiative_id}")
        assert answer.show_alert and "réservée à l'équipe de coordination" in answer.text
    answer = await mallory.press_data(f"ini:1:stg:{initiative_id}:consolidation")
    assert answer.show_alert
    await mallory.send("/propositions")
    assert "réservée à l'équipe de coordination" in (await mallory.receive()).text
    assert (await bot.state.only_initiative()).status == "pending"
    assert await bot.state.audit_entries("initiative.") == []
    assert [c for c in await bot.state.conversations.all() if c.member_id == 1002] == []


async def test_author_hears_in_their_language_and_coordinator_can_cancel(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    emma = await onboard(server, 1004, "Emma", language="en")
    await emma.send("/proposer")
    await emma.receive(contains="title of your initiative")
    await emma.send("Book swap")
    await emma.receive(contains="Describe")
    await emma.send("A shelf of books to swap at the town hall.")
    await emma.receive(contains="theme")
    await emma.press("Culture")
    await emma.press("Libourne")
    await emma.press("▫️ a place")
    await emma.press("Confirm")
    await emma.press("📨 Send")
    await emma.receive(contains="Thank you!")

    notice = await coco.receive(contains="Book swap")
    await coco.press("❌ Refuser", message=notice)
    await coco.receive(contains="La raison est obligatoire")
    await coco.press("Annuler")
    assert "annulé" in coco.last.text
    assert (await bot.state.only_initiative()).status == "pending"
    assert await bot.state.conversations.all() == []

    await coco.press("❌ Refuser", message=notice)
    await coco.receive(contains="La raison est obligatoire")
    await bot.restart()  # the coordinator's half-written decision survives a restart
    await coco.send("Already run by the library.")
    await coco.receive(contains="est refusée")
    told = await emma.receive(contains="was not accepted")
    assert "Already run by the library." in told.text
    await emma.send("/mesinitiatives")
    mine = await emma.receive(contains="Your proposals")
    assert "declined" in mine.text and "Reason: Already run by the library." in mine.text
    audit = await bot.state.audit_entries("ini")
    assert [(e.actor_id, e.subject) for e in audit] == [(COORDINATOR_ID, "1")]
    assert "Already run by the library." in json.dumps(audit[0].details, ensure_ascii=False)
