"""Several flows open at once: a draft is never lost when another flow starts (issue 14)."""

from __future__ import annotations

from typing import Any

from storage.conversations import ConversationRepository
from tests.conftest import COORDINATOR_ID
from tests.test_pairs import coordinator, paired


async def flows_of(bot: Any, member_id: int) -> dict[str, Any]:
    repo = ConversationRepository(bot.services.db)
    return {c.flow: c for c in await repo.open_flows(member_id)}


async def test_relay_in_the_middle_of_a_proposal_loses_nothing(server, bot):
    alice, tom, _pair = await paired(bot, server)
    await alice.send("/proposer")
    await alice.receive(contains="titre de votre initiative")
    await alice.send("Jardin partagé")
    await alice.receive(contains="Décrivez")

    # /binome in the middle of the draft: the typed message goes to the relay (asked last).
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message pour Tom")
    kept = await alice.receive(contains="Votre proposition en cours est gardée")
    assert "question ci-dessus" in kept.text  # where the next message goes, said plainly
    await alice.send("Bonjour Tom")
    await alice.receive(contains="Message transmis à Tom")
    offer = await alice.receive(contains="Vous aviez une proposition en cours : continuer ?")
    assert (await flows_of(bot, 101))["proposal"].data["title"] == "Jardin partagé"
    await alice.press("▶️ Continuer", message=offer)
    await alice.receive(contains="Décrivez")
    await alice.send("Un potager au pied des immeubles.")
    await alice.receive(contains="thème")

    # A relay reply started, then cancelled: the draft is offered back, then survives a restart.
    await bot.drain()
    incoming = await tom.receive(contains="Bonjour Tom")
    await tom.press("↩️ Répondre", message=incoming)
    await tom.send("Bonjour Alice")
    await bot.drain()
    reply = await alice.receive(contains="Bonjour Alice")
    await alice.press("↩️ Répondre", message=reply)
    await alice.receive(contains="Écrivez votre message pour Tom")
    await alice.press("Annuler")
    await alice.receive(contains="Vous aviez une proposition en cours")

    await bot.restart()
    draft = (await flows_of(bot, 101))["proposal"]
    assert draft.step == "theme"
    assert draft.data["title"] == "Jardin partagé"
    assert draft.data["description"] == "Un potager au pied des immeubles."
    await alice.send("/proposer")
    await alice.receive(contains="Reprenons votre proposition")
    await alice.press("Environnement")
    await alice.receive(contains="Où se passera")


async def test_call_draft_in_the_middle_of_a_proposal_and_after_a_restart(server, bot):
    coord = await coordinator(bot, server)
    await coord.send("/proposer")
    await coord.receive(contains="titre de votre initiative")
    await coord.send("Fête de quartier")
    await coord.receive(contains="Décrivez")

    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send("Qui peut aider samedi ?")  # goes to the call: its question came last
    await coord.receive(contains="Où ?")
    flows = await flows_of(bot, COORDINATOR_ID)
    assert flows["call"].data["text"] == "Qui peut aider samedi ?"
    assert flows["proposal"].data == {"title": "Fête de quartier"}

    # After a restart, either flow resumes: typed text still goes to the call.
    await bot.restart()
    await coord.send("Salle des fêtes")
    await coord.receive(contains="Quand ?")
    await coord.press("Annuler")
    await coord.receive(contains="Vous aviez une proposition en cours")
    await coord.send("Un repas partagé dans la rue.")  # the proposal is the one left
    await coord.receive(contains="thème")
    assert "call" not in await flows_of(bot, COORDINATOR_ID)
    draft = (await flows_of(bot, COORDINATOR_ID))["proposal"]
    assert draft.data["title"] == "Fête de quartier"
    assert draft.data["description"] == "Un repas partagé dans la rue."


async def test_finishing_a_flow_with_nothing_else_open_offers_nothing(server, bot):
    alice, _tom, _pair = await paired(bot, server)
    await alice.send("/binome")
    await alice.receive(contains="Écrivez votre message")
    await alice.send("Coucou")
    await alice.receive(contains="Message transmis")
    await alice.send("encore ?")
    await alice.receive(contains="je ne sais pas répondre aux messages libres")
    assert not any("Vous aviez" in m.content for m in alice.messages)


async def test_appel_resumes_a_call_draft_instead_of_replacing_it(server, bot):
    coord = await coordinator(bot, server)
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")
    await coord.send("Qui peut aider samedi ?")
    await coord.receive(contains="Où ?")
    await coord.send("Salle des fêtes")
    await coord.receive(contains="Quand ?")
    await bot.restart()
    await coord.send("/appel")
    resumed = await coord.receive(contains="Reprenons votre appel en préparation")
    assert "Quand" in resumed.text and "Annuler" in resumed.all_buttons
    draft = (await flows_of(bot, COORDINATOR_ID))["call"]
    assert draft.step == "when" and draft.data["place"] == "Salle des fêtes"
    await coord.press("Annuler")
    await coord.send("/appel")
    await coord.receive(contains="Nouvel appel")


def test_every_resumable_flow_has_its_sentences():
    from bot.app import feature_modules
    from bot.texts import LANGUAGES, Texts

    texts = Texts.load()
    flows = {flow for module in feature_modules() for flow in getattr(module, "RESUMES", {})}
    assert {"proposal", "call", "onboarding", "pair_relay"} <= flows
    missing = [
        (lang, key)
        for flow in sorted(flows)
        for key in (f"flows.offer.{flow}", f"flows.kept.{flow}")
        for lang in LANGUAGES
        if key not in texts.catalogues[lang]
    ]
    assert missing == []


async def test_a_report_turned_into_a_call_keeps_a_call_draft_in_progress(server, bot):
    from tests.helpers import onboard
    from tests.test_reports import open_from_queue, report

    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 1001, "Alice")
    await coco.send("/appel")
    await coco.receive(contains="Nouvel appel")
    await coco.send("Qui peut tenir le stand dimanche ?")
    await coco.receive(contains="Où ?")
    number = await report(alice, kind="Un besoin", description="Porter des courses au 3e.")
    await open_from_queue(coco, number, "Porter des courses")
    await coco.press("📣 En faire un appel à l'aide")
    await coco.receive(contains="Reprenons votre appel en préparation")
    draft = (await flows_of(bot, COORDINATOR_ID))["call"]
    assert draft.data["text"] == "Qui peut tenir le stand dimanche ?" and draft.step == "place"
