"""The update intake: every update is stored before Telegram is told it arrived, handled once
per update_id, and what a crash left behind is handled at the next start without acting
twice. Housekeeping (the "last seen" write) never fails or delays a member's action."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock
from sandbox.fakeapi import FakeTelegram
from storage.db import open_database
from storage.inbox import InboxRepository, NewUpdate
from tests.conftest import BotHarness, make_settings
from tests.helpers import seed_members
from tests.test_calls import FAST, draft_call, start_coordinator
from tests.test_ops_run import SECRET, WebhookHarness, free_port

ALICE = 501
OUPS = "Oups"


async def inbox(bot: BotHarness) -> list[tuple[Any, ...]]:
    return [(e.update_id, e.state, e.user_id, e.payload) for e in await bot.state.inbox.entries()]


async def left_over(
    bot: BotHarness, update: dict[str, Any], state: str, attempts: int = 0
) -> None:
    """Put an update in the inbox as a kill -9 leaves it: stored, never marked handled.

    The bot is stopped: this is another connection to its database."""
    sender = next(v for k, v in update.items() if k != "update_id")["from"]["id"]
    db = await open_database(bot.settings.database.target)
    try:
        repo = InboxRepository(db)
        stored = NewUpdate(
            update_id=update["update_id"], user_id=sender, payload=json.dumps(update)
        )
        await repo.store([stored], bot.clock.now())
        if state == "applied":
            assert await repo.mark_applied(update["update_id"])
        for _ in range(attempts):
            await repo.count_attempts([update["update_id"]])
    finally:
        await db.close()


def text_update(update_id: int, user: Any, text: str) -> dict[str, Any]:
    message = {
        "message_id": 50_000 + update_id,
        "date": 0,
        "chat": user.chat_json(),
        "from": user.user_json(),
        "text": text,
    }
    return {"update_id": update_id, "message": message}


async def settle(bot: BotHarness) -> None:
    """Wait until every update in flight is handled and marked."""
    await bot.app.updater.intake.drain()


async def to_name_step(server: FakeTelegram, user_id: int, first_name: str) -> Any:
    user = server.user(user_id, first_name, username=first_name.lower(), language_code="fr")
    await user.send("/start")
    await user.receive(contains="SMICVAL")
    await user.press("J'accepte")
    await user.receive(contains="prénom ou pseudo")
    return user


async def test_updates_are_stored_handled_then_only_their_id_is_kept_for_a_while(
    server: FakeTelegram, bot: BotHarness
) -> None:
    alice = await to_name_step(server, ALICE, "Alice")
    await settle(bot)
    rows = await inbox(bot)
    assert len(rows) == 2  # /start and the press
    # Handled; what Alice sent (and who she is) is not kept, only the id, to recognise it.
    assert [(state, user, payload) for _, state, user, payload in rows] == [
        ("handled", None, None)
    ] * 2

    bot.clock.advance(timedelta(hours=47))
    await alice.send("Zoé")
    await alice.receive(contains="Où habitez-vous")
    await bot.tick()
    assert len(await inbox(bot)) == 3
    bot.clock.advance(timedelta(hours=2))
    await bot.tick()
    assert len(await inbox(bot)) == 1  # the first two, handled 49 h ago, are forgotten


async def test_an_update_left_stored_by_a_crash_is_handled_at_the_next_start(
    server: FakeTelegram, bot: BotHarness
) -> None:
    alice = await to_name_step(server, ALICE, "Alice")
    await bot.stop()
    # Killed after storing "Zoé" (so Telegram was told it arrived) but before handling it.
    await left_over(bot, text_update(990_001, alice, "Zoé"), "received")
    await bot.start()

    await alice.receive(contains="Où habitez-vous")
    await settle(bot)
    assert (await bot.state.member(ALICE)).display_name == "Zoé"
    assert (await inbox(bot))[-1][:2] == (990_001, "handled")
    assert not any(OUPS in m.text for m in alice.messages)


async def test_a_replayed_update_whose_writes_were_committed_does_not_act_twice(
    server: FakeTelegram, bot: BotHarness
) -> None:
    alice = await to_name_step(server, ALICE, "Alice")
    await alice.send("Alice")
    await alice.receive(contains="Où habitez-vous")
    await alice.press("Blaye")
    themes = await alice.receive(contains="Quels thèmes")
    await alice.press("▫️ Solidarité")
    toggle = themes.button_data["▫️ Solidarité"]  # the tap's own data
    await settle(bot)
    await bot.stop()
    # Killed after the tap's transaction committed (it marked the update applied) but before
    # the answer reached Telegram: the same tap is still unhandled in the inbox.
    press = {
        "update_id": 990_002,
        "callback_query": {
            "id": "replayed-1",
            "from": alice.user_json(),
            "chat_instance": "501",
            "data": toggle,
            "message": {
                "message_id": themes.message_id,
                "date": 0,
                "chat": alice.chat_json(),
                "text": "x",
            },
        },
    }
    await left_over(bot, press, "applied")
    await bot.start()
    await settle(bot)

    # Handled again (its answer could not stop a spinner that is long gone: no "Oups"), but
    # its toggle was rolled back: Solidarité stays chosen instead of being unticked.
    assert (await inbox(bot))[-1][:2] == (990_002, "handled")
    assert not any(OUPS in m.text for m in alice.messages)
    await alice.press("Valider")
    await alice.press("Non")
    await alice.press("Non")
    await alice.receive(contains="🎉")
    assert (await bot.state.member(ALICE)).themes == ["Solidarité"]


async def test_an_update_that_failed_three_starts_is_skipped(
    server: FakeTelegram, bot: BotHarness
) -> None:
    alice = await to_name_step(server, ALICE, "Alice")
    await bot.stop()
    await left_over(bot, text_update(990_003, alice, "Zoé"), "received", attempts=3)
    await bot.start()
    await settle(bot)
    assert (await inbox(bot))[-1][:2] == (990_003, "handled")
    assert (await bot.state.member(ALICE)).display_name == "Alice"


async def test_webhook_answers_only_once_handled_and_handles_a_redelivery_once(
    server: FakeTelegram, tmp_path: Path, clock: FakeClock
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    settings = make_settings(
        tmp_path,
        server,
        telegram={
            "mode": "webhook",
            "webhook_port": port,
            "webhook_url": url,
            "webhook_secret": SECRET,
        },
    )
    harness = WebhookHarness(settings, clock)
    await harness.start()
    try:
        alice = server.user(ALICE, "Alice", language_code="fr")
        start = text_update(700_001, alice, "/start")
        start["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=start, headers=headers) as response:
                assert response.status == 200
                # Telegram is answered once the update is handled: the notice is already sent.
                assert [m for m in alice.messages if "SMICVAL" in m.text]
            # Telegram delivers it again (our answer was lost): handled once all the same.
            async with session.post(url, json=start, headers=headers) as response:
                assert response.status == 200
        assert len([m for m in alice.messages if "SMICVAL" in m.text]) == 1
        assert await inbox(harness) == [(700_001, "handled", None, None)]
    finally:
        await harness.stop()


@pytest.mark.sqlite_only  # another process holds SQLite's write lock
async def test_a_locked_database_delays_a_press_but_never_says_retry(
    server: FakeTelegram, make_bot: Callable[..., Any]
) -> None:
    bot: BotHarness = await make_bot(**FAST)
    await start_coordinator(server, bot)
    member_id = 3100
    server.add_users([member_id])
    await seed_members(bot, [member_id])
    coord = server.user(900)
    await draft_call(coord, needed="3")
    await coord.press("Envoyer maintenant")
    await bot.drain()
    member = server.user(member_id)
    await member.receive(contains="Qui peut apporter")
    bot.clock.advance(timedelta(hours=2))  # the press is the member's first in two hours
    seen_before = (await bot.state.member(member_id)).last_seen_at

    # Another process holds SQLite's write lock longer than the 5 s busy timeout.
    holder = sqlite3.connect(bot.settings.database.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        press = asyncio.create_task(member.press("Je viens", timeout=30))
        updater = bot.app.updater

        def the_lock_has_cost_a_timeout() -> bool:
            refused = getattr(updater, "store_failures", 0) > 0
            return refused or any(OUPS in m.text for m in member.messages)

        await server.wait_until(the_lock_has_cost_a_timeout, timeout=20)
    finally:
        holder.rollback()
        holder.close()
    answer = await press

    assert answer.text is not None and "vous venez" in answer.text
    assert not any(OUPS in m.text for m in member.messages)
    assert await bot.state.call_answers() == {member_id: "yes"}
    # "Last seen" is written later, by the scheduler, off the member's path.
    assert (await bot.state.member(member_id)).last_seen_at == seen_before
    await bot.tick()
    assert (await bot.state.member(member_id)).last_seen_at == bot.clock.now()
