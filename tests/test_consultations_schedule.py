"""Consultations sent later (at their time on the injected clock) and questionnaires too long
for one message (the preview in pages), through the real Application."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.inputs import TEXT_LIMIT, utf16_len
from bot.services.consultation_buttons import ConsultAction, ConsultPress
from storage.audience import RecipientRepository
from storage.consultations import ConsultationRepository
from tests.helpers import seed_members
from tests.test_calls import FAST
from tests.test_consultations import draft_consultation, start_coordinator


async def test_a_scheduled_consultation_goes_at_its_time(server, make_bot, clock):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    ids = [6300, 6301, 6302]
    server.add_users(ids)
    await seed_members(bot, ids)
    await draft_consultation(coord)  # closes 10/03 18:00 (Paris); now is 02/03 11:00
    await coord.press("Programmer")
    await coord.receive(contains="Quand faut-il l'envoyer")
    await coord.send("n'importe quand")
    await coord.receive(contains="Je n'ai pas compris cette date")
    await coord.send("11/03 9h")  # after the closing
    await coord.receive(contains="avant la clôture")
    # A double send of the date schedules once.
    await asyncio.gather(coord.send("05/03 9h"), coord.send("05/03 9h"))
    await coord.receive(contains="programmée pour jeudi 5 mars, 9 h")
    repo = ConsultationRepository(bot.services.db)
    [consultation] = await repo.all()
    assert consultation.status == "scheduled"
    # Before its time: nobody receives anything, and its buttons do not work yet.
    clock.set(datetime(2026, 3, 5, 7, 59, tzinfo=UTC))  # 08:59 in Paris
    await bot.tick()
    member = server.get_user(6300)
    assert member.messages == []
    start = ConsultPress(ConsultAction.START, consultation_id=consultation.id).pack()
    forged = await member.press_data(start, message_id=1)
    assert "plus valable" in (forged.text or "")
    assert (await repo.get(consultation.id)).status == "scheduled"  # type: ignore[union-attr]
    # At its time, on the next tick: everyone receives it once, the coordinator a summary.
    clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    await bot.tick()
    await bot.tick()
    for uid in ids:
        invites = [m for m in server.get_user(uid).messages if "3 questions" in m.text]
        assert len(invites) == 1 and invites[0].buttons == [["Répondre"]]
    sent = await repo.get(consultation.id)
    assert sent is not None and sent.status == "open" and sent.recipients == 3
    assert sent.sent_at == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    counts = await RecipientRepository(bot.services.db).counts("consultation", consultation.id)
    assert counts == {"sent": 3}
    await coord.receive(contains="reçue : 3")
    await member.press("Répondre")
    q1 = await member.receive(contains="question 1 / 3")
    await member.press("Samedi", q1)
    await member.receive(contains="question 2 / 3")
    await coord.receive(contains="Ont répondu : 1")


async def test_a_scheduled_consultation_whose_time_passed_the_closing_is_not_sent(
    server, make_bot, clock
):
    """The bot was down from before the sending time until after the closing: nothing goes
    (an invitation to a closed consultation would only disappoint)."""
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    server.add_users([6310])
    await seed_members(bot, [6310])
    await draft_consultation(coord)
    await coord.press("Programmer")
    await coord.receive(contains="Quand faut-il l'envoyer")
    await coord.send("09/03 9h")
    await coord.receive(contains="programmée")
    clock.set(datetime(2026, 3, 10, 17, 30, tzinfo=UTC))  # past the closing (18:00 Paris)
    await bot.tick()
    assert server.get_user(6310).messages == []


LONG_OPTION = "🌳 Un atelier <de> quartier & des voisins, le samedi matin"
"""60 UTF-16 units (the emoji counts two), with characters that HTML must escape."""


async def test_a_long_questionnaire_is_previewed_in_pages_that_fit(server, make_bot, clock):
    assert utf16_len(LONG_OPTION) <= 60
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    await coord.send("/consulter")
    await coord.receive(contains="Nouvelle consultation")
    await coord.send("Le quartier que nous voulons " + "é" * 50)
    await coord.receive(contains="introduction")
    await coord.send("Dites-nous tout. " * 35)  # close to the 600 limit
    questions = []
    for number in range(1, 6):
        await coord.receive(contains=f"Question {number}")
        text = f"Q{number} " + "Que souhaitez-vous pour la place du marché ? " * 6
        questions.append(text.strip())
        await coord.send(text)
        await coord.receive(contains="une par ligne")
        await coord.send("\n".join(f"{LONG_OPTION[:-2]}{i}" for i in range(10)))
        await coord.receive(contains="plusieurs")
        await coord.press("Plusieurs réponses")
        await coord.press("Oui")
        if number < 5:  # the fifth question is the last one allowed
            await coord.press("➕ Ajouter une question")
    await coord.receive(contains="anonymes")
    await coord.press("Non")
    await coord.receive(contains="Jusqu'à quand")
    await coord.send("10/03 18h")
    await coord.receive(contains="Quels territoires")
    await coord.press("Tout le territoire")
    await coord.press("Tous les thèmes")
    await coord.press("Tout le monde")
    pages: list[Any] = [await coord.receive(contains="Le quartier que nous voulons")]
    while True:
        message = await coord.receive()
        if "Voici la consultation" in message.text:
            break
        pages.append(message)
    assert len(pages) >= 2  # more than one message can hold
    for page in pages:
        assert utf16_len(page.html) <= TEXT_LIMIT
    whole = "\n".join(page.text for page in pages)
    # Every question comes once, in order, each whole on one page, with its ten options.
    positions = [whole.index(f"Q{n} ") for n in range(1, 6)]
    assert positions == sorted(positions)
    for text in questions:
        assert sum(text in page.text for page in pages) == 1
    assert whole.count(LONG_OPTION[:-2]) == 50
    assert all(html.escape("<de>") in page.html for page in pages)  # input is escaped
    # The preview's buttons still work once it is in pages: the consultation is sent.
    await coord.press("Envoyer maintenant")
    await bot.drain()
    [consultation] = await ConsultationRepository(bot.services.db).all()
    assert len(consultation.questions) == 5 and consultation.status == "open"
    assert consultation.closes_at - clock.now() > timedelta(days=7)
