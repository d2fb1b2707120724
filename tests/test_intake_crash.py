"""kill -9 of a real bot process in the middle of an answer storm and of onboarding messages:
after the restart, every update the bot had received is answered, and acted on once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from sandbox.fakeapi import FakeTelegram
from storage.calls import CallRepository, NewCall
from storage.db import open_database
from storage.inbox import InboxRepository
from storage.members import MemberRepository
from tests.conftest import COORDINATOR_ID, TOKEN, BotHarness, make_settings
from tests.helpers import seed_members
from tests.test_intake import to_name_step

ROOT = Path(__file__).resolve().parent.parent
VOLUNTEERS = range(4000, 4150)
NEWCOMERS = range(5000, 5030)


def config_file(tmp_path: Path, server: FakeTelegram) -> Path:
    """The same settings as the in-process harness (tests.conftest.make_settings)."""
    path = tmp_path / "config.toml"
    path.write_text(
        f"""coordinators = [{COORDINATOR_ID}]
territories = ["Blaye", "Libourne", "Cenon"]
themes = ["Solidarité", "Environnement", "Culture"]
[telegram]
token = "{TOKEN}"
base_url = "{server.base_url}"
base_file_url = "{server.base_file_url}"
[database]
path = "{tmp_path / "essaim.sqlite3"}"
[scheduler]
tick_seconds = 3600
[organisation]
name = "SMICVAL"
contact = "dpo@example.org"
[sending]
per_chat_per_second = 10
""",
        encoding="utf-8",
    )
    return path


async def start(config: Path, log: Path) -> asyncio.subprocess.Process:
    # Output to a file: a pipe nobody reads while the bot runs could fill and stall it.
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot", "--config", str(config), "--log-level", "WARNING"),
            "run",
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("ESSAIM_")},
            stdout=out,
            stderr=out,
        )


async def prepare(server: FakeTelegram, tmp_path: Path) -> tuple[int, list[Any]]:
    """In this process: a call sent to the volunteers, newcomers at the name step."""
    harness = BotHarness(make_settings(tmp_path, server), FakeClock(datetime.now(UTC)))
    await harness.start()
    try:
        server.add_users([COORDINATOR_ID, *VOLUNTEERS])
        await seed_members(harness, VOLUNTEERS)
        now = harness.clock.now()
        call = await harness.services.calls.publish(
            NewCall(
                coordinator_id=COORDINATOR_ID,
                text="Qui peut apporter des courses aux aînés isolés ?",
                photo=None,
                place="Mairie de Blaye",
                event_at=now + timedelta(days=2),
                needed=len(VOLUNTEERS) + 10,
                deadline_at=now + timedelta(days=1),
                territories=[],
                themes=[],
                ambassadors_only=False,
            )
        )
        await harness.drain()
        newcomers = [await to_name_step(server, uid, f"N{uid}") for uid in NEWCOMERS]
        return call.id, newcomers
    finally:
        await harness.stop()


@pytest.mark.sqlite_only  # the bot process is given the SQLite file
async def test_kill_9_mid_storm_loses_no_update_and_acts_on_each_once(
    server: FakeTelegram, tmp_path: Path
) -> None:
    call_id, newcomers = await prepare(server, tmp_path)
    server.callback_query_ttl = 300.0  # the presses wait for the restart
    server.configure(latency=0.02)
    config, log = config_file(tmp_path, server), tmp_path / "bot.log"

    first = await start(config, log)
    polls = server.stats.method_counts["getUpdates"]
    await server.wait_until(lambda: server.stats.method_counts["getUpdates"] > polls, timeout=60)
    answered_before = server.stats.method_counts["answerCallbackQuery"]
    presses = [
        asyncio.create_task(server.user(uid).press("Je viens", timeout=240)) for uid in VOLUNTEERS
    ]
    for user in newcomers:
        await user.send(f"Nom {user.id}")

    def a_third_answered() -> bool:
        answered = server.stats.method_counts["answerCallbackQuery"] - answered_before
        return answered >= len(VOLUNTEERS) // 3

    await server.wait_until(a_third_answered, timeout=120)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    unanswered = sum(not p.done() for p in presses)
    assert unanswered > 0, "the storm was over before the kill"

    second = await start(config, log)
    answers = await asyncio.wait_for(asyncio.gather(*presses), 240)
    for user in newcomers:
        await user.receive(contains="Où habitez-vous", timeout=60)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 60) == 0, log.read_text()

    # Every press was answered, and each stored once.
    assert all(a.text and "vous venez" in a.text for a in answers)
    db = await open_database(tmp_path / "essaim.sqlite3")
    try:
        stored = await CallRepository(db).answers(call_id)
        assert stored == dict.fromkeys(VOLUNTEERS, "yes")
        # Every name typed was stored, and nobody was asked the next question from nothing.
        members = {m.telegram_id: m for m in await MemberRepository(db).all()}
        assert {uid: members[uid].display_name for uid in NEWCOMERS} == {
            uid: f"Nom {uid}" for uid in NEWCOMERS
        }
        assert await InboxRepository(db).unhandled() == []
    finally:
        await db.close()
    assert "Traceback" not in log.read_text()
