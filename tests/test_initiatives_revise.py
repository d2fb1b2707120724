"""Editing and declining, as a member on a phone lives it (issue 16, item 14)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_initiatives import propose

LONG = "Un potager partagé au pied des immeubles, ouvert à tous, avec des bacs surélevés. " * 6


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    return await make_bot(sending={"per_chat_per_second": 10})


async def test_editing_a_field_shows_its_current_text(server, bot):
    alice = await onboard(server, 1001, "Alice")
    await alice.send("/proposer")
    await alice.receive(contains="titre de votre initiative")
    await alice.send("Jardin <partagé>")
    await alice.receive(contains="Décrivez")
    await alice.send(LONG.strip())
    await alice.receive(contains="thème")
    await alice.press("Environnement")
    await alice.press("Blaye")
    await alice.press("▫️ des personnes")
    await alice.press("Valider")
    await alice.receive(contains="Aperçu")
    await alice.press("✏️ Description")
    asked = await alice.receive(contains="Décrivez")
    assert "Le texte actuel" in asked.text and LONG.strip() in asked.text
    assert "<code>" in asked.html  # in a block the phone copies with one tap
    await alice.send(LONG.strip() + " Venez !")
    await alice.receive(contains="Aperçu")
    await alice.press("✏️ Titre")
    title = await alice.receive(contains="titre")
    assert "Jardin &lt;partagé&gt;" in title.html
    await alice.send("Jardin partagé des Tilleuls")
    preview = await alice.receive(contains="Aperçu")
    assert "Jardin partagé des Tilleuls" in preview.text and "Le texte actuel" not in preview.text


async def test_declining_thanks_and_offers_to_revise_and_propose_again(server, bot):
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await propose(alice, title="Fête des voisins", description="Le 21 juin, dans la rue.")
    await coco.send("/propositions")
    queue = await coco.receive(contains="Proposition 1 sur 1")
    await coco.press("❌ Refuser", message=queue)
    await coco.receive(contains="La raison est obligatoire")
    await coco.send("Il manque le lieu exact.")
    await bot.drain()
    declined = await alice.receive(contains="n'a pas été retenue")
    assert "Merci d'avoir proposé" in declined.text and "la proposer à nouveau" in declined.text

    # A draft in progress is never replaced: it is shown first.
    await alice.send("/proposer")
    await alice.receive(contains="titre de votre initiative")
    await alice.send("Autre idée")
    await alice.receive(contains="Décrivez")
    await alice.press("✏️ Revoir et proposer à nouveau", message=declined)
    other = await alice.receive(contains="déjà une proposition en cours")
    assert "Décrivez" in other.text
    draft = await bot.state.conversations.get(1001, "proposal")
    assert draft is not None and draft.data == {"title": "Autre idée"}
    await alice.press("Annuler")

    await alice.press("✏️ Revoir et proposer à nouveau", message=declined)
    revised = await alice.receive(contains="Fête des voisins")
    assert "Le 21 juin" in revised.text
    await alice.press("✏️ Description")
    await alice.receive(contains="Le 21 juin, dans la rue.")
    await alice.send("Le 21 juin, square Victor-Hugo.")
    await alice.receive(contains="Aperçu")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci ! Votre proposition est envoyée")
    rows = await bot.state.initiatives.all()
    assert [(r.title, r.status) for r in rows] == [
        ("Fête des voisins", "declined"),
        ("Fête des voisins", "pending"),
    ]
    assert rows[1].description == "Le 21 juin, square Victor-Hugo."
