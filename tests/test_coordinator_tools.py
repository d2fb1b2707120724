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
