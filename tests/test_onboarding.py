"""Onboarding, consent, roles and invites, as members experience them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sandbox.fakeapi.users import seen
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard


async def test_full_onboarding_stores_every_answer(server, bot):
    alice = server.user(1001, "Alice", username="alice_b", language_code="fr")
    await alice.send("/start")
    notice = await alice.receive()
    assert "SMICVAL" in notice.text and "dpo@example.org" in notice.text
    assert await bot.state.members.all() == []

    await alice.press("J'accepte")
    ask_name = await alice.receive(contains="prénom ou pseudo")
    assert "Garder « Alice »" in map(seen, ask_name.buttons[0])
    await alice.send("Alice B.")
    await alice.receive(contains="Où habitez-vous")
    await alice.press("Libourne")
    await alice.press("▫️ Culture")
    await alice.press("▫️ Solidarité")
    themes = alice.last
    assert any("✅ Culture" in row for row in themes.buttons)
    await alice.press("Valider")
    await alice.press("Oui")  # ambassador
    await alice.press("Non")  # citizen gardener
    done = await alice.receive(contains="🎉")
    assert "Alice B." in done.text and "t.me/essaim_test_bot?start=r-" in done.text

    row = await bot.state.member(1001)
    assert row.display_name == "Alice B."
    assert row.territory == "Libourne"
    assert row.is_ambassador is True and row.is_citizen_gardener is False
    assert row.onboarded_at is not None and row.consent_at is not None
    assert row.themes == ["Culture", "Solidarité"]
    assert await bot.state.conversations.all() == []


async def test_refusal_stores_only_the_id(server, bot):
    bob = server.user(1002, "Bob", username="bobby")
    await bob.send("/start")
    await bob.receive()
    await bob.press("Non merci")
    refused = await bob.receive(contains="je n'enregistre rien")
    assert "/start" in refused.text
    assert await bot.state.members.all() == []
    # What is stored is the subject here: the table's rows, whole, through the backend.
    refusals = await bot.state.privacy.rows("consent_refusals")
    assert refusals[0]["telegram_id"] == 1002
    assert set(refusals[0]) == {"telegram_id", "refused_at"}
    # Nothing about Bob beyond his id anywhere in the database.
    dump = "\n".join(str(tuple(r.values())) for r in await bot.state.privacy.rows("audit_log"))
    assert "Bob" not in dump and "bobby" not in dump


async def test_nothing_is_asked_before_consent(server, bot):
    carol = server.user(1003, "Carol")
    await carol.send("/start")
    await carol.receive()
    await carol.send("Carol")
    answer = await carol.receive()
    assert "/start" in answer.text
    assert await bot.state.members.all() == []


async def test_restart_in_the_middle_resumes(server, bot):
    dan = server.user(1004, "Dan")
    await dan.send("/start")
    await dan.receive()
    await dan.press("J'accepte")
    await dan.receive(contains="prénom")
    await dan.send("Daniel")
    await dan.receive(contains="Où habitez-vous")
    await bot.restart()
    await dan.press("Blaye")  # the button from before the restart still works
    await dan.receive(contains="thèmes")
    await bot.restart()
    await dan.send("/start")
    await dan.receive(contains="Reprenons")
    themes = await dan.receive(contains="thèmes")
    assert any("Solidarité" in b for row in themes.buttons for b in row)
    row = await bot.state.member(1004)
    assert (row.display_name, row.territory) == ("Daniel", "Blaye")


async def test_bad_inputs_get_clear_answers_and_change_nothing(server, bot):
    eve = server.user(1005, "Eve")
    await eve.send("/start")
    await eve.receive()
    await eve.press("J'accepte")
    await eve.receive(contains="prénom")

    await eve.send("x" * 65)
    too_long = await eve.receive(contains="entre 1 et 64")
    assert "x" * 65 in too_long.text  # the text is shown back so it can be shortened
    await eve.send_sticker()
    assert "pas une photo" in (await eve.receive()).text
    await eve.send_photo(caption="moi")
    assert "pas une photo" in (await eve.receive()).text
    await eve.send_voice()
    assert "pas une photo" in (await eve.receive()).text
    assert (await bot.state.members.all())[0].display_name == "Eve"

    await eve.send("<b>Eve</b> & co")
    territory = await eve.receive(contains="Où habitez-vous")
    await eve.send("Blaye")  # typed instead of pressing a button
    assert "utilisez les boutons" in (await eve.receive()).text
    assert (await bot.state.members.all())[0].territory is None
    await eve.press("Autre / hors territoire", message=territory)
    await eve.press("Valider")  # no theme ticked yet
    await eve.receive(contains="au moins une option")
    await eve.press("▫️ Culture")
    await eve.press("Valider")
    await eve.press("Non")
    await eve.press("Non")
    done = await eve.receive(contains="🎉")
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in done.html  # member input is escaped
    assert (await bot.state.members.all())[0].territory == "autre"


async def test_forged_and_stale_buttons_change_nothing(server, bot):
    fred = await onboard(server, 1006, "Fred")
    before = await bot.state.members.all()
    for data in (
        "ob:1:terr:1",
        "ob:1:terr:99",
        "ob:1:tog:themes:0",
        "ob:9:yes",
        "zz",
        "ob:1:yn:x:1",
    ):
        answer = await fred.press_data(data, message_id=fred.last.message_id)
        assert "plus valable" in answer.text
    assert await bot.state.members.all() == before


async def test_referral_is_counted_and_shown(server, bot):
    amb = await onboard(server, 1010, "Amina", ambassador=True)
    code = (await bot.state.member(1010)).referral_code
    await onboard(server, 1011, "Jules", start_arg=f"r-{code}")
    await onboard(server, 1012, "Léa", start_arg=f"r-{code}")
    await onboard(server, 1013, "Noé", start_arg="r-nosuchcode")
    await amb.send("/profil")
    profile = await amb.receive(contains="Votre profil")
    assert "Personnes venues grâce à vous : <b>2</b>" in seen(profile.html)


async def test_pause_and_resume_are_recorded(server, bot):
    gil = await onboard(server, 1020, "Gil")
    await gil.send("/pause")
    assert "/reprendre" in (await gil.receive()).text
    assert (await bot.state.member(1020)).status == "paused"
    await gil.send("/reprendre")
    await gil.receive(contains="Bon retour parmi nous")
    assert (await bot.state.member(1020)).status == "active"


async def test_english_speaker_and_language_switch(server, bot):
    await onboard(server, 1030, "Hana", language="en")
    hana = server.user(1030, "Hana")
    await hana.send("/profil")
    profile = await hana.receive(contains="Your profile")
    assert "Language: English" in profile.text
    await hana.send("/langue fr")
    await hana.receive(contains="je vous parlerai en français")
    await hana.send("/aide")
    assert "Ce que vous pouvez faire" in (await hana.receive()).text


async def _coordinator(server):
    return await onboard(server, COORDINATOR_ID, "Coline", staff=True)


async def _invite_link(coord, role: str) -> str:
    await coord.send(f"/inviter {role}")
    created = await coord.receive(contains="t.me/")
    return created.text.split("start=")[1].split()[0]


async def test_technician_invite_is_single_use(server, bot):
    coord = await _coordinator(server)
    arg = await _invite_link(coord, "technicien")
    tech = server.user(2001, "Théo")
    await tech.send(f"/start {arg}")
    await tech.receive()
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
    await tech.press("▫️ Cenon")
    await tech.press("Valider")
    await tech.receive(contains="1 à 50")
    await tech.send("beaucoup")
    assert "entre 1 et 50" in (await tech.receive()).text
    await tech.send("0")
    assert "entre 1 et 50" in (await tech.receive()).text
    for not_a_plain_number in ("²", "١٢", "4" * 25, "+4", " "):  # int() takes most of these
        await tech.send(not_a_plain_number)
        assert "entre 1 et 50" in (await tech.receive()).text
    await tech.send("4")
    await tech.receive(contains="🎉")
    profile = await bot.state.members.technician(2001)
    assert profile is not None
    assert (profile.service, profile.capacity) == ("Service déchets", 4)
    assert profile.territories == ["Blaye", "Cenon"]
    assert "binome" in [c[0] for c in tech.commands]

    other = server.user(2002, "Ugo")
    await other.send(f"/start {arg}")
    await other.receive()
    await other.press("J'accepte")
    await other.receive(contains="déjà servi")
    assert (await bot.state.member(2002)).is_technician is False


async def test_expired_and_forged_invites_are_refused(server, bot, clock):
    coord = await _coordinator(server)
    arg = await _invite_link(coord, "coordinateur")
    clock.advance(timedelta(days=8))
    late = server.user(2010, "Vera")
    await late.send(f"/start {arg}")
    await late.receive()
    await late.press("J'accepte")
    await late.receive(contains="expiré")
    forged = server.user(2011, "Wes")
    await forged.send("/start t-AAAAAAAAAAAA")
    await forged.receive()
    await forged.press("J'accepte")
    await forged.receive(contains="pas valable")
    rows = [m for m in await bot.state.members.all() if m.telegram_id > 2009]
    assert all((m.is_coordinator, m.is_technician) == (False, False) for m in rows)


async def test_two_people_racing_for_one_invite(server, bot):
    coord = await _coordinator(server)
    arg = await _invite_link(coord, "technicien")
    racers = [server.user(3000 + i, f"R{i}") for i in range(6)]
    for racer in racers:
        await racer.send(f"/start {arg}")
        await racer.receive()
    await asyncio.gather(*(racer.press("J'accepte") for racer in racers))
    outcomes = [await racer.receive(contains="nvitation") for racer in racers]
    winners = [o for o in outcomes if "acceptée" in o.text]
    assert len(winners) == 1
    assert sum(m.is_technician for m in await bot.state.members.all()) == 1
    assert sum(i.used_by is not None for i in await bot.state.invites.all()) == 1


async def test_only_coordinators_can_invite(server, bot):
    ivy = await onboard(server, 1040, "Ivy")
    await ivy.send("/inviter technicien")
    assert "réservée à l'équipe de coordination" in (await ivy.receive()).text
    assert await bot.state.invites.all() == []


async def test_profile_changes_an_answer(server, bot):
    jo = await onboard(server, 1050, "Jo", themes=("Culture",))
    await jo.send("/profil")
    await jo.receive(contains="Votre profil")
    await jo.press("Modifier les thèmes")
    await jo.press("▫️ Environnement")
    await jo.press("Valider")
    updated = await jo.receive(contains="Votre profil")
    assert "Culture, Environnement" in updated.text
    await jo.press("Porte-voix : oui / non")
    assert "Porte-voix : oui" in seen((await jo.receive(contains="Porte-voix")).text)
    assert (await bot.state.member(1050)).themes == ["Culture", "Environnement"]


async def test_coordinator_menu_is_set_for_their_chat(server, bot):
    coord = await _coordinator(server)
    assert "appel" in [c[0] for c in coord.commands]
    citizen = await onboard(server, 1060, "Kim")
    names = [c[0] for c in citizen.commands]
    assert "proposer" in names and "appel" not in names
