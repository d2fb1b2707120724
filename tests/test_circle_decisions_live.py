"""Decisions and stage notices in a real circle, built from "Je veux participer" presses
(tests.test_circles.build_circle: Alice, the author, and five who joined)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sandbox.fakeapi.users import seen
from tests.test_circle_decisions import propose
from tests.test_circles import IDS, TITLE, build_circle
from tests.test_initiatives import FAST


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    harness = await make_bot(sending=FAST)
    for job in harness.app.job_queue.get_jobs_by_name("essaim-sweep"):
        job.schedule_removal()
    return harness


async def test_a_circle_decides_and_hears_of_its_stage_once(server, bot, clock):
    coco, people = await build_circle(server, bot)
    alice, others = people[0], people[1:]
    preview = await propose(alice, "Quand plantons-nous ?", "Mardi 18h\nJeudi 18h\nSamedi 10h")
    assert "6 membres du cercle" in seen(preview.text)
    await alice.press("Envoyer au cercle")
    await bot.drain()
    choices = ["Mardi 18h", "Mardi 18h", "Jeudi 18h", "Samedi 10h", "Samedi 10h"]
    for person, choice in zip(others, choices, strict=True):
        invite = await person.receive(contains="propose une décision")
        assert TITLE in invite.text and invite.buttons[0] == ["Mardi 18h"]
        assert (await person.press(choice, invite)).text == "C'est noté."
        await person.receive(contains="Votre choix")
    fay = others[-1]
    await fay.press("Mardi 18h", fay.last)  # Fay changes her mind once
    await fay.receive(contains="Votre choix : Mardi 18h")
    clock.advance(timedelta(days=2))
    await bot.tick()
    for person in people:
        result = await person.receive(contains="Résultat de la décision")
        text = seen(result.text)
        assert "Choix du cercle : Mardi 18h" in text and "5 réponses sur 6 personnes" in text
        assert "Samedi 10h : 1 (20 %)" in text
    # A stage change: the circle hears it once, as the circle; the author as the author.
    await coco.send("/initiatives")
    await coco.receive(contains="page 1/1")
    await coco.press("🔎 " + TITLE)
    move = next(row[0] for row in coco.last.buttons if row[0].startswith("➡️"))
    await coco.press(move)
    await bot.drain()
    for person, uid in zip(people, IDS, strict=True):
        told = [m.text for m in person.messages if "passe à l'étape" in m.text]
        assert len(told) == 1, uid
        expected = "Votre initiative" if uid == IDS[0] else f"Cercle « {TITLE} »"
        assert expected in seen(told[0]), told
