"""A member's own side of calls: the copy shows their answer and how to change it, the
reminder lets them withdraw, and /mesappels lists the calls they said yes to."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot.services.call_buttons import CallAction, CallPress, CallReply
from sandbox.fakeapi.users import seen
from storage.calls import NewCall
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_calls import FAST, draft_call, start_coordinator


async def _publish(bot: Any, title: str, *, days: int, needed: int = 3) -> int:
    now = bot.clock.now()
    call = await bot.services.calls.publish(
        NewCall(
            coordinator_id=COORDINATOR_ID,
            text=title,
            photo=None,
            place="Salle des fêtes",
            event_at=now + timedelta(days=days),
            needed=needed,
            deadline_at=now + timedelta(days=days, hours=-2),
            territories=[],
            themes=[],
            ambassadors_only=False,
        )
    )
    await bot.drain()
    return call.id


async def test_the_copy_shows_the_answer_and_the_reminder_can_withdraw(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    bob = await onboard(server, 3002, "Bob")
    await draft_call(coord, needed="1")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    copy = await alice.receive(contains="Appel à l'aide")
    bob_copy = await bob.receive(contains="Appel à l'aide")
    assert "jeudi 5 mars, 14 h 30" in seen(copy.text)  # dates with their weekday

    await alice.press("Je viens")
    mine = alice.messages[-1]
    assert mine.message_id == copy.message_id  # the call itself, edited in place
    assert "Qui peut apporter des courses" in mine.text and "Vous venez" in mine.text
    assert mine.buttons == [["Je ne peux plus venir"], ["Relayer"]]
    await bob.press("Je viens")  # the call is full: Bob waits
    assert "liste d'attente" in bob._screen[bob_copy.message_id].text

    # The reminder carries "Je ne peux plus venir"; a double tap withdraws once.
    await coord.send("/appels")
    listing = await coord.receive(contains="Vos appels")
    await coord.press(listing.all_buttons[0])
    await coord.receive(contains="Volontaires")
    await coord.press("Relancer")
    await bot.drain()
    reminder = await alice.receive(contains="⏰ Rappel")
    assert reminder.buttons == [["Je ne peux plus venir"]]
    first, second = await asyncio.gather(
        alice.press("Je ne peux plus venir", reminder),
        alice.press("Je ne peux plus venir", reminder),
    )
    assert sorted([seen(first.text), seen(second.text)]) == sorted(
        [
            "C'est noté, pas cette fois. Merci d'avoir répondu !",
            "C'est déjà noté : pas cette fois.",
        ]
    )
    done = alice._screen[reminder.message_id]
    assert "vous ne venez plus" in done.text and done.buttons == []
    assert (await bot.state.call_answers())[3001] == "no"
    mine = alice._screen[copy.message_id]
    assert "pas cette fois" in mine.text and mine.buttons[0] == ["Je viens"]
    # Bob took the place: told, and his copy says so.
    await bot.drain()
    while "place s'est libérée" not in bob.last.text:
        await bob.receive()  # the notice, and the copy's edit in either order
    while "Vous venez" not in bob._screen[bob_copy.message_id].text:
        await bob.receive()


async def test_my_calls_lists_what_i_said_yes_to_soonest_first_in_pages(server, make_bot):
    bot = await make_bot(**FAST)
    await start_coordinator(server, bot)
    alice = await onboard(server, 3001, "Alice")
    await alice.send("/mesappels")
    assert "aucun appel" in (await alice.receive()).text

    long_title = "Grand nettoyage des berges " + "très " * 60 + "long"
    ids = [await _publish(bot, f"Appel {n}", days=10 - n) for n in range(6)]
    ids.append(await _publish(bot, long_title, days=1))
    for call_id in ids:
        yes = CallPress(CallAction.ANSWER, call_id=call_id, reply=CallReply.YES).pack()
        copy = next(m for m in alice.messages if yes in m.button_data.values())
        await alice.press("Je viens", copy)
    await alice.send("/mesappels")
    page = await alice.receive(contains="Vos appels")
    assert "vous venez à 7 appels" in seen(page.text) and "Page 1 sur 2" in page.text
    assert page.text.index("Grand nettoyage") < page.text.index("Appel 5")  # soonest first
    assert len(page.text) < 4096
    assert all(len(label) <= 60 for label in page.all_buttons)
    assert page.buttons[-1] == ["▶️"]
    await alice.press("▶️", page)
    second = alice._screen[page.message_id]
    assert "Page 2 sur 2" in second.text and "Appel 0" in second.text
    assert second.buttons[-1] == ["◀️"]

    # Withdraw from the list: the list and the call's copy both follow; a double tap is safe.
    withdraw = next(b for b in second.all_buttons if "Appel 0" in b)
    taps = await asyncio.gather(alice.press(withdraw, second), alice.press(withdraw, second))
    assert sum("déjà noté" in (a.text or "") for a in taps) <= 1
    after = alice._screen[page.message_id]
    assert "Appel 0" not in after.text and "vous venez à 6 appels" in seen(after.text)
    assert (await bot.state.calls.answers(ids[0]))[3001] == "no"
    copy = next(m for m in alice.messages if m.text.startswith("📣") and "Appel 0" in m.text)
    assert "pas cette fois" in copy.text
