"""Initiative circles end to end: a circle of 6 built from "Je veux participer" presses,
its members talking (text, photo, voice, location, replies) with nobody's username or id
shown, mute and unread count, leaving, removal by the author and coming back, and an alert
to the coordination."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.fakeapi.users import seen
from storage.circles import CircleRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_initiatives import FAST, propose

TITLE = "Jardin partagé"
NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Fay"]
IDS = [2001, 2002, 2003, 2004, 2005, 2006]


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    harness = await make_bot(sending=FAST)
    for job in harness.app.job_queue.get_jobs_by_name("essaim-sweep"):
        job.schedule_removal()
    return harness


async def open_initiative(user: Any, button: str) -> Any:
    await user.send("/initiatives")
    await user.receive(contains=TITLE)
    await user.press("🔎 " + TITLE)
    await user.press(button)
    return user.last


async def build_circle(server: Any, bot: Any) -> tuple[Any, list[Any]]:
    """Alice proposes, the coordinator publishes, five people join from "Je veux participer"."""
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    people = [await onboard(server, i, name) for i, name in zip(IDS, NAMES, strict=True)]
    alice = people[0]
    await propose(alice, title=TITLE)
    await coco.receive(contains="Nouvelle proposition")
    await coco.press("✅ Publier")
    await alice.receive(contains="Bonne nouvelle")
    for person in people[1:]:
        await open_initiative(person, "Je veux participer")
        offer = await person.receive(contains="rejoindre le cercle")
        assert "seulement votre nom" in seen(offer.text)
        await person.press("✅ Rejoindre le cercle", message=offer)
        assert "Vous êtes dans le cercle" in seen(person.last.text)
    return coco, people


async def circle_id(bot: Any) -> int:
    [circle] = await CircleRepository(bot.services.db).all()
    return circle.id


async def write(user: Any, text: str | None = None) -> None:
    """Open the circle from /cercles and press "Écrire au cercle"."""
    await user.send("/cercles")
    await user.receive(contains="Vos cercles")
    await user.press("💬 " + TITLE)
    await user.press("✍️ Écrire au cercle")
    await user.receive(contains="Écrivez votre message")
    if text is not None:
        await user.send(text)


def assert_anonymous(user: Any, message: Any, sender_id: int, username: str) -> None:
    """Nothing in what a member received names the sender's account."""
    raw = json.dumps(user._raw[message.message_id])
    assert "forward" not in raw
    assert str(sender_id) not in raw
    assert "@" + username not in raw and f'"{username}"' not in raw
    assert all(str(sender_id) not in data for data in message.button_data.values())


async def test_a_circle_of_six_talks_without_sharing_contacts(server, bot):
    coco, people = await build_circle(server, bot)
    alice, bob, carol, dave, eve, fay = people
    members = await CircleRepository(bot.services.db).members(await circle_id(bot))
    assert [m.member_id for m in members] == IDS
    assert [m.role for m in members] == ["author"] + ["member"] * 5

    # /cercles: the initiative, the first names, the last activity.
    await bob.send("/cercles")
    listing = await bob.receive(contains="Vos cercles")
    assert TITLE in listing.text and "Alice, Bob, Carol, Dave, Eve, Fay" in listing.text
    assert "Dernière activité" in seen(listing.text)

    # A text reaches the five others, with Bob's display name and the title only.
    await write(bob, "Rendez-vous samedi à 10 h au jardin ?")
    assert "envoyé aux 5 personnes" in seen((await bob.receive(contains="envoyé")).text)
    for other in [alice, carol, dave, eve, fay]:
        got = await other.receive(contains="Rendez-vous samedi")
        assert "Bob" in got.text and TITLE in got.text
        assert got.all_buttons == ["↩️ Répondre", "🚩 Alerter la coordination"]
        assert_anonymous(other, got, 2002, "bob")
    assert not [m for m in bob.messages if "Rendez-vous samedi" in m.text]

    # Carol replies with a photo: copied (not forwarded), with her name in the caption.
    last = carol.last
    await carol.press("↩️ Répondre", message=last)
    await carol.receive(contains="Écrivez votre message")
    await carol.send_photo(caption="Voici le coin des tomates")
    await carol.receive(contains="envoyé")
    for other in [alice, bob, dave, eve, fay]:
        got = await other.receive(contains="Voici le coin des tomates")
        assert got.photo is not None and "Carol" in got.caption
        assert_anonymous(other, got, 2003, "carol")

    # Dave sends a voice message, Eve a place.
    await write(dave)
    await dave.send_voice()
    await dave.receive(contains="envoyé")
    for other in [alice, bob, carol, eve, fay]:
        got = await other.receive(contains="🎤")
        assert got.kind == "voice" and "Dave" in got.caption
        assert_anonymous(other, got, 2004, "dave")
    await write(eve)
    await eve.send_location(44.84, -0.58)
    await eve.receive(contains="envoyé")
    await bot.drain()
    for other in [alice, bob, carol, dave, fay]:
        assert any("Eve" in m.text and "partage un lieu" in seen(m.text) for m in other.messages)
        assert other.last.location == (44.84, -0.58)
        assert other.last.all_buttons == ["↩️ Répondre", "🚩 Alerter la coordination"]

    # A sticker is not something a circle carries: clear answer, nothing sent.
    await write(fay)
    await fay.send_sticker()
    assert "Rien n'a été envoyé" in seen((await fay.receive(contains="texte, une photo")).text)
    # Coordinators do not read circles.
    assert not [m for m in coco.messages if "Rendez-vous samedi" in m.text]


async def test_mute_leave_removal_rejoin_and_alert(server, bot):
    coco, people = await build_circle(server, bot)
    alice, bob, carol, dave, eve, fay = people

    # Fay mutes: she receives nothing, then sees how many messages she missed.
    await fay.send("/cercles")
    await fay.receive(contains="Vos cercles")
    await fay.press("💬 " + TITLE)
    await fay.press("🔕 Mettre en sourdine")
    assert "Sourdine activée" in fay.last.text
    await write(alice, "Premier message")
    await alice.receive(contains="envoyé aux 4 personnes")
    await write(bob, "Deuxième message")
    await bob.receive(contains="envoyé")
    await bot.drain()
    assert not [m for m in fay.messages if "message" in m.text and "Premier" in m.text]
    await fay.send("/cercles")
    listing = await fay.receive(contains="Vos cercles")
    assert "Messages non lus : 2" in seen(listing.text)
    await fay.press("💬 " + TITLE)
    await fay.press("🔔 Enlever la sourdine")
    assert "il y a eu 2 messages" in seen(fay.last.text)

    # Eve leaves (after a confirmation); a second tap changes nothing.
    await eve.send("/cercles")
    await eve.receive(contains="Vos cercles")
    await eve.press("💬 " + TITLE)
    await eve.press("🚪 Quitter le cercle")
    confirm = eve.last
    await eve.press("Oui, quitter le cercle", message=confirm)
    assert "Vous avez quitté" in seen(eve.last.text)
    await eve.press_data(confirm.button_data["Oui, quitter le cercle"], confirm.message_id)
    repo = CircleRepository(bot.services.db)
    cid = await circle_id(bot)
    assert 2005 not in [m.member_id for m in await repo.members(cid)]

    # The author removes Dave, who is told and asks to come back; she accepts.
    await alice.send("/cercles")
    await alice.receive(contains="Vos cercles")
    await alice.press("💬 " + TITLE)
    await alice.press("➖ Retirer quelqu'un")
    pick = alice.last
    assert all(str(i) not in data for data in pick.button_data.values() for i in IDS)
    forged = await bob.press_data(pick.button_data["➖ Carol"].replace(":rm:", ":rmok:"))
    assert forged.show_alert and "tient le cercle" in seen(forged.text)  # only the author removes
    await alice.press("➖ Dave")
    await alice.press("Oui, retirer du cercle")
    assert "Dave</b> ne fait plus partie" in alice.last.html
    told = await dave.receive(contains="vous a retiré")
    await write(bob, "Sans Dave")
    await bob.receive(contains="envoyé aux 3 personnes")
    await dave.press("🙋 Demander à revenir", message=told)
    assert "demande est envoyée" in seen(dave.last.text)
    again = await dave.press_data(told.button_data["🙋 Demander à revenir"], told.message_id)
    assert "une fois" in seen(dave.last.text) or again.text is None
    request = await alice.receive(contains="demande à revenir")
    await alice.press("✅ Accepter", message=request)
    await dave.receive(contains="de nouveau dans le cercle")
    assert 2004 in [m.member_id for m in await repo.members(cid)]

    # Carol alerts the coordination about Bob's message; a coordinator removes Bob.
    got = next(m for m in carol.messages if "Sans Dave" in m.text)
    alert = await carol.press("🚩 Alerter la coordination", message=got)
    assert "coordination va lire" in alert.text
    twice = await carol.press("🚩 Alerter la coordination", message=got)
    assert "déjà alerté" in twice.text
    notice = await coco.receive(contains="Alerte sur un message")
    assert "Bob" in notice.text and "Sans Dave" in notice.text
    await coco.press("Retirer cette personne du cercle", message=notice)
    assert "retirée du cercle" in seen(coco.last.text)
    await bob.receive(contains="L'équipe de coordination vous a retiré")
    assert 2002 not in [m.member_id for m in await repo.members(cid)]
    assert "circle.remove" in await bot.state.audit_actions("circle.")
