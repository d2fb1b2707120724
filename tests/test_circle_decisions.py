"""Deciding in small groups (issue 21): a circle member puts a decision to their circle,
members answer with one tap, change their mind, and everyone sees the result at closing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.inputs import utf16_len
from bot.services.circle_decision_buttons import DecisionAction, DecisionPress
from storage.consultations import ConsultationRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard, seed_members

CIRCLE_ID = 1
CIRCLE = "Jardin partagé des Aubiers"
LONG = "🌻 Samedi 10h au jardin, avec les outils & les graines <bio>"
"""An option too long for a button (60 UTF-16 units: the emoji counts two)."""


class Circles:
    """The circles decisions are put to, as `CircleDirectory` sees them."""

    def __init__(self, members: dict[int, list[int]]) -> None:
        self.members = members
        self.muted: set[int] = set()

    async def circles_of(self, member_id: int) -> list[tuple[int, str]]:
        names = {CIRCLE_ID: CIRCLE}
        return [
            (cid, names.get(cid, f"Cercle {cid}"))
            for cid, ids in self.members.items()
            if member_id in ids
        ]

    async def listeners(self, circle_id: int) -> list[int]:
        return [m for m in self.members.get(circle_id, []) if m not in self.muted]


async def propose(author: Any, question: str, options: str, closes: str = "demain 20h") -> Any:
    await author.send("/decider")
    await author.receive(contains="Écrivez la question")
    await author.send(question)
    await author.receive(contains="une par ligne")
    await author.send(options)
    await author.receive(contains="Jusqu'à quand")
    await author.send(closes)
    return await author.receive(contains="Voici ce que recevront")


async def test_a_decision_answered_changed_and_closed_by_the_clock(server, make_bot, clock):
    bot = await make_bot()
    author = await onboard(server, 7000, "Alice")
    sam = await onboard(server, 7005, "Sam", language="en")
    others = [7001, 7002, 7003, 7004]
    server.add_users(others)
    await seed_members(bot, others)
    circle = [7000, *others, 7005]
    circles = Circles({CIRCLE_ID: list(circle)})
    bot.services.circle_decisions.attach(circles)
    assert utf16_len(LONG) == 60
    preview = await propose(
        author, "Quand faisons-nous la plantation ?", f"Mardi 18h\nJeudi 18h\n{LONG}"
    )
    assert "6 membres du cercle" in preview.text and "3. 🌻 Samedi" in preview.text
    sent = await asyncio.gather(
        author.press("Envoyer au cercle"), author.press("Envoyer au cercle")
    )
    assert sum("plus valable" in (a.text or "") for a in sent) == 1  # a double tap sends once
    await author.receive(contains="Décision envoyée à 6 membres")
    await bot.drain()
    [decision] = await ConsultationRepository(bot.services.db).all()
    assert decision.owner_kind == "circle" and decision.owner_id == CIRCLE_ID

    def member(uid: int) -> Any:
        return server.get_user(uid)

    invite = member(7001).last
    assert "<b>Alice</b> propose une décision" in invite.html and CIRCLE in invite.text
    assert invite.buttons == [["1"], ["2"], ["3"]]  # an option too long: numbers on buttons
    assert "&lt;bio&gt;" in invite.html  # the proposer's text is escaped
    english = sam.last
    assert "puts a decision to the circle" in english.text
    # One tap each; 7002 taps twice at once; 7004 changes their mind once.
    picks = {7001: "1", 7002: "1", 7003: "2", 7004: "3"}
    for uid, option in picks.items():
        answer = await member(uid).press(option, member(uid).last)
        assert answer.text == "C'est noté."
        await member(uid).receive(contains="Votre choix")
    again = await asyncio.gather(
        member(7002).press("✅ 1", member(7002).last), member(7002).press("✅ 1")
    )
    assert [a.text for a in again] == ["C'était déjà votre choix."] * 2
    changed = await member(7004).press("1", member(7004).last)
    assert changed.text == "C'est noté."
    mine = await member(7004).receive(contains="Votre choix : Mardi 18h")
    assert mine.buttons == [["✅ 1"], ["2"], ["3"]]
    await sam.press("3", english)
    await sam.receive(contains="Your choice:")
    # Someone outside the circle, or a forged option, changes nothing.
    outsider = await onboard(server, 7999, "Olga")
    forged = DecisionPress(DecisionAction.PICK, decision_id=decision.id, option=1).pack()
    assert "plus valable" in ((await outsider.press_data(forged)).text or "")
    wrong = DecisionPress(DecisionAction.PICK, decision_id=decision.id, option=9).pack()
    assert "plus valable" in ((await member(7003).press_data(wrong)).text or "")
    circles.members[CIRCLE_ID].remove(7003)  # 7003 leaves the circle: no more say in it
    gone = await member(7003).press("1", member(7003).last)
    assert "plus valable" in (gone.text or "")
    circles.members[CIRCLE_ID].append(7003)
    results = await bot.services.consultations.engine.results(decision)
    assert results.questions[0].counts == [3, 1, 1] and results.respondents == 5
    # Coordinators do not read circles: no coordinator screen or close for a decision.
    assert await bot.services.consultation_admin.get(decision.id, COORDINATOR_ID) is None
    assert await bot.services.consultation_results.close(decision.id, COORDINATOR_ID) is None
    # Closed by the clock: everyone it reached sees the result, once.
    clock.advance(timedelta(days=2))
    await bot.tick()
    await bot.tick()
    for uid in circle:
        got = [m for m in member(uid).messages if "Mardi 18h" in m.text and "3 (60" in m.text]
        assert len(got) == 1, uid
    result = await author.receive(contains="Résultat de la décision")
    text = result.text.replace("\xa0", " ")  # French spacing before ":" is non-breaking
    assert "Choix du cercle : Mardi 18h" in text and "5 réponses sur 6 personnes" in text
    assert "Jeudi 18h : 1 (20 %)" in text and "<b>Mardi 18h" in result.html
    english_result = await sam.receive(contains="Result of the circle's decision")
    assert "The circle chose: Mardi 18h" in english_result.text
    copy = next(m for m in member(7003).messages if "propose une décision" in m.text)
    late = await member(7003).press("1", copy)
    assert "close" in (late.text or "") and late.show_alert
    after = await bot.services.consultations.engine.results(decision)
    assert after.questions[0].counts == [3, 1, 1]


async def test_a_decision_draft_checks_what_is_typed(server, make_bot):
    bot = await make_bot()
    author = await onboard(server, 7100, "Alice")
    lonely = await onboard(server, 7101, "Bob")
    bot.services.circle_decisions.attach(Circles({CIRCLE_ID: [7100, 7102], 2: [7100]}))
    await lonely.send("/decider")
    await lonely.receive(contains="aucun cercle")
    await author.send("/decider")
    await author.receive(contains="À quel cercle")
    await author.press(CIRCLE, author.last)
    await author.receive(contains="Écrivez la question")
    await author.send("x" * 301)
    await author.receive(contains="300 caractères au plus")
    await author.send("On se retrouve quand ?")
    await author.receive(contains="une par ligne")
    await author.send("Mardi")
    await author.receive(contains="entre 2 et 6")
    await author.send("\n".join(f"Jour {n}" for n in range(7)))
    await author.receive(contains="entre 2 et 6")
    await author.send("Mardi\nmardi 18h " + "é" * 60)
    await author.receive(contains="trop longue")
    await author.send("Mardi\nMardi")
    await author.receive(contains="pareilles")
    await author.send("Mardi\nJeudi")
    await author.receive(contains="Jusqu'à quand")
    await author.send("hier")
    await author.receive(contains="Je n'ai pas compris cette date")
    # A restart in the middle keeps the draft.
    await bot.restart()
    bot.services.circle_decisions.attach(Circles({CIRCLE_ID: [7100, 7102]}))
    await author.send("/decider")
    await author.receive(contains="Reprenons votre décision")
    await author.receive(contains="Jusqu'à quand")
    await author.send("demain 20h")
    await author.receive(contains="Voici ce que recevront 2 membres")
    await author.press("Annuler", author.last)
    await author.receive(contains="annulé")
    assert await ConsultationRepository(bot.services.db).all() == []


async def test_a_stage_change_is_told_to_the_circle_once(server, make_bot):
    from tests.test_initiatives import FAST as INITIATIVE_FAST
    from tests.test_initiatives_life import press_on, seed_initiatives

    bot = await make_bot(sending=INITIATIVE_FAST)
    coco = await onboard(server, COORDINATOR_ID, "Coco", staff=True)
    alice = await onboard(server, 7201, "Alice")
    bob, erin, frank = [
        await onboard(server, uid, name)
        for uid, name in ((7202, "Bob"), (7203, "Erin"), (7204, "Frank"))
    ]
    dan = await onboard(server, 7205, "Dan", language="en")  # the technician: not a participant
    [initiative_id] = await seed_initiatives(bot, 7201, [("Repair café", "Blaye", "Culture")])
    for person in (bob, erin, frank):
        await press_on(person, "Repair café", "Je veux participer")

    async def circle_people(asked: int) -> tuple[list[int], list[int]]:
        assert asked == initiative_id
        return [7201, 7202, 7205], [7203]  # Frank did not join; Erin muted the circle

    bot.services.initiatives.circle_people = circle_people
    await coco.send("/initiatives")
    await coco.receive(contains="Repair café")
    await coco.press("🔎 Repair café")
    [move] = [row[0] for row in coco.last.buttons if row[0].startswith("➡️")][:1]
    await coco.press(move)
    await bot.drain()

    def told(user: Any) -> list[str]:
        return [m.text for m in user.messages if "étape" in m.text or "stage" in m.text]

    assert len(told(alice)) == 1 and "Votre initiative" in told(alice)[0]
    assert len(told(bob)) == 1 and "Cercle « Repair café »" in told(bob)[0].replace("\xa0", " ")
    assert len(told(dan)) == 1 and "Circle “Repair café”" in told(dan)[0]
    assert told(erin) == []  # muted: the circle tells her nothing, and nothing else does
    assert len(told(frank)) == 1 and "vous participez" in told(frank)[0]
