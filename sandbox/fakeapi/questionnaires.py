"""A storm of people answering a questionnaire, generated inside the server's process.

Unlike `control.storm` (the same button pressed again and again), each person goes through
steps: they press the first step's button, wait until the bot shows the next step's buttons
(the next question), press one, and so on. `concurrency` people are in the middle of it at
any moment, as in a crowd that all received the same consultation.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.fakeapi.users import FakeUser

JSON = dict[str, Any]


async def _press_when_shown(user: FakeUser, text: str, timeout: float) -> tuple[float, float]:
    """Wait for the button, press it; returns (seconds to the callback answer, seconds to
    the next screen: a new message or an edit)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        user.clear_inbox()
        started = time.perf_counter()
        try:
            await user.press(text, timeout=timeout)
            break
        except AssertionError:
            if loop.time() >= deadline:
                raise
            # Not on screen yet: wait for the bot's next message or edit.
            await user.receive(timeout=max(0.01, deadline - loop.time()))
    answered = time.perf_counter() - started
    await user.receive(timeout=max(0.01, deadline - loop.time()))
    return answered, time.perf_counter() - started


async def answer_storm(
    users: list[FakeUser], steps: list[list[str]], concurrency: int, timeout: float = 120.0
) -> JSON:
    """Every user goes through `steps`; at step k, user u presses
    steps[k][u.id % len(steps[k])]. Returns the presses answered, the failures, the time from
    the first press to the last next screen, and the latencies (sorted, in seconds)."""
    queue = iter(users)
    answers: list[float] = []
    screens: list[float] = []
    failed: list[int] = []

    async def person() -> None:
        for user in queue:
            try:
                for choices in steps:
                    answered, shown = await _press_when_shown(
                        user, choices[user.id % len(choices)], timeout
                    )
                    answers.append(answered)
                    screens.append(shown)
            except AssertionError:
                failed.append(user.id)
            user.events.clear()  # a long storm would otherwise keep every press in memory

    started = time.perf_counter()
    await asyncio.gather(*(person() for _ in range(concurrency)))
    return {
        "answered": len(answers),
        "failed_users": failed,
        "seconds": time.perf_counter() - started,
        "answer_latencies": sorted(answers),
        "screen_latencies": sorted(screens),
    }
