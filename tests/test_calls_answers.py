"""Members' answers under load: simultaneous presses are decided in batches, and the rules
(capacity, waiting list, withdrawals, double taps) hold exactly as for presses one by one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.services.batching import Batcher
from bot.services.call_buttons import CallAction, CallPress, CallReply
from tests.helpers import seed_members
from tests.test_calls import FAST, draft_call, start_coordinator


async def _sent_call(server: Any, bot: Any, members: list[int], needed: int) -> None:
    coord = await start_coordinator(server, bot)
    server.add_users(members)
    await seed_members(bot, members)
    await draft_call(coord, needed=str(needed))
    await coord.press("Envoyer maintenant")
    await bot.drain()


async def test_a_storm_of_presses_fills_the_call_exactly_and_queues_the_rest(server, make_bot):
    bot = await make_bot(**FAST)
    members = list(range(3000, 3040))
    await _sent_call(server, bot, members, needed=5)
    before = bot.services.calls.answers.batches

    answers = await asyncio.gather(*(server.user(m).press("Je viens") for m in members))

    told_yes = {m for m, a in zip(members, answers, strict=True) if "vous venez" in a.text}
    told_waiting = {m for m, a in zip(members, answers, strict=True) if "attente" in a.text}
    stored = await bot.state.call_answers()
    assert len(told_yes) == 5 and len(told_waiting) == 35
    assert {m for m, a in stored.items() if a == "yes"} == told_yes
    assert {m for m, a in stored.items() if a == "waiting"} == told_waiting
    assert (await bot.state.only_call()).status == "complete"
    # 40 presses at once were decided in fewer transactions than presses.
    assert 1 <= bot.services.calls.answers.batches - before < len(members)

    # Withdrawals and double taps, all at once: two volunteers leave, one taps twice.
    leaving = sorted(told_yes)[:2]
    staying = sorted(told_yes)[2]
    # Each copy now shows its answer: "Je viens" again comes from a keyboard not yet edited.
    copy = server.user(staying).last
    yes = CallPress(CallAction.ANSWER, call_id=1, reply=CallReply.YES).pack()
    await asyncio.gather(
        *(server.user(m).press("Je ne peux plus venir") for m in leaving),
        server.user(staying).press_data(yes, copy.message_id),
        server.user(staying).press_data(yes, copy.message_id),
    )
    await bot.drain()
    stored = await bot.state.call_answers()
    yes = {m for m, a in stored.items() if a == "yes"}
    assert len(yes) == 5 and staying in yes and not yes & set(leaving)
    # The first two on the waiting list (same press time on the test clock: by member id)
    # took the places and were told.
    first_waiting = sorted(told_waiting)[:2]
    assert set(first_waiting) <= yes
    for m in first_waiting:
        await server.user(m).receive(contains="place s'est libérée")
    assert sum(a == "waiting" for a in stored.values()) == 33
    assert (await bot.state.only_call()).status == "complete"


async def test_a_failing_press_fails_alone_and_the_others_are_decided():
    seen: list[list[int]] = []

    async def handle(batch: list[int]) -> list[str]:
        seen.append(batch)
        await asyncio.sleep(0)
        if 13 in batch:
            raise ValueError("unlucky")
        return [f"ok {n}" for n in batch]

    batcher: Batcher[int, str] = Batcher(handle)
    results = await asyncio.gather(
        *(batcher.submit(n) for n in range(10, 16)), return_exceptions=True
    )

    assert [r for r in results if not isinstance(r, Exception)] == [
        "ok 10",
        "ok 11",
        "ok 12",
        "ok 14",
        "ok 15",
    ]
    assert isinstance(results[3], ValueError)
    assert seen[0] == list(range(10, 16))  # one batch first, then each alone
    assert [13] in seen


async def test_a_caller_who_gives_up_does_not_stop_the_batch():
    release = asyncio.Event()

    async def handle(batch: list[int]) -> list[int]:
        await release.wait()
        return [n * 2 for n in batch]

    batcher: Batcher[int, int] = Batcher(handle)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    impatient = asyncio.create_task(batcher.submit(2))
    patient = asyncio.create_task(batcher.submit(3))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await first == 2 and await patient == 6
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_database_failure_fails_the_batch_at_once_without_retrying_each_press():
    from storage.db import DatabaseError

    calls: list[list[int]] = []

    async def handle(batch: list[int]) -> list[int]:
        calls.append(batch)
        await asyncio.sleep(0)
        raise DatabaseError("database is locked")  # what every backend raises

    batcher: Batcher[int, int] = Batcher(handle, systemic=(DatabaseError,))
    results = await asyncio.gather(*(batcher.submit(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(r, DatabaseError) for r in results)
    assert calls == [[0, 1, 2, 3, 4]]  # one attempt, not five more one by one
