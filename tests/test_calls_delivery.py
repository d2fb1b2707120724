"""Delivery of calls under Telegram's limits and failures, and after a crash (kill -9)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_services
from bot.clock import FakeClock
from bot.dispatcher import FLUSH_EVERY
from sandbox.fakeapi.users import seen
from storage.calls import NewCall
from storage.db import open_database
from storage.outbox import OutboxRepository
from tests.conftest import COORDINATOR_ID, TOKEN, make_settings
from tests.helpers import seed_members

ROOT = Path(__file__).resolve().parents[1]
PAID = {"allow_paid_broadcast": True, "paid_messages_per_second": 1000, "per_chat_per_second": 10}


def new_call(needed: int = 5, event_at: datetime | None = None) -> NewCall:
    event_at = event_at or datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
    return NewCall(
        coordinator_id=COORDINATOR_ID,
        text="Distribution alimentaire",
        photo=None,
        place="Blaye",
        event_at=event_at,
        needed=needed,
        deadline_at=event_at - timedelta(hours=2),
        territories=[],
        themes=[],
        ambassadors_only=False,
    )


async def test_429_retry_after_is_obeyed_and_everyone_gets_the_call(server, make_bot):
    bot = await make_bot(sending={"messages_per_second": 30, "per_chat_per_second": 10})
    ids = range(5000, 5025)
    server.add_users(ids)
    server.user(COORDINATOR_ID)
    await seed_members(bot, ids)
    await seed_members(bot, [5099])  # unknown to Telegram: 400 "chat not found"
    server.configure(global_per_second=12)  # stricter than what the bot believes
    await bot.services.calls.publish(new_call())
    await bot.drain()
    assert server.stats.too_many_requests > 0
    assert server.stats.missing(ids) == set()
    assert server.stats.duplicates() == {}
    calls = await bot.state.deliveries_of("call")
    assert Counter(d.status for d in calls) == {"sent": 25, "blocked": 1}
    assert (await bot.state.member(5099)).status == "blocked"
    assert next(d.attempts for d in await bot.state.deliveries_of() if d.chat_id == 5099) == 1


async def test_server_errors_are_retried_with_backoff(server, make_bot, clock):
    bot = await make_bot(sending={**PAID, "max_attempts": 8})
    ids = range(5100, 5140)
    server.add_users(ids)
    server.user(COORDINATOR_ID)
    await seed_members(bot, ids)
    server.configure(error_rate_5xx=0.3)
    await bot.services.calls.publish(new_call())
    await bot.drain()
    retried = sum(d.status == "queued" for d in await bot.state.deliveries_of())
    assert retried > 0  # waiting for their backoff on the injected clock
    for _ in range(12):
        clock.advance(timedelta(minutes=5))
        await bot.tick()
    assert server.stats.server_errors > 0
    assert server.stats.missing(ids) == set()
    most_tried = max(await bot.state.deliveries_of("call"), key=lambda d: d.attempts)
    assert most_tried.status == "sent" and most_tried.attempts > 1
    assert [d for d in await bot.state.deliveries_of() if d.status != "sent"] == []
    assert [m for m in await bot.state.members.all() if m.status == "blocked"] == []


async def test_attempts_are_bounded_and_failures_are_counted(server, make_bot, clock):
    bot = await make_bot(sending={**PAID, "max_attempts": 2})
    bot.services.calls.summary_edit_seconds = 0.0
    ids = range(5200, 5205)
    server.add_users(ids)
    coord = server.user(COORDINATOR_ID)
    await seed_members(bot, ids)
    await seed_members(bot, [COORDINATOR_ID])
    await bot.services.calls.publish(new_call())
    await bot.drain()
    await coord.receive(contains="Envoyés : 5")
    server.configure(error_rate_5xx=1.0)
    await bot.services.call_management.remind(1, COORDINATOR_ID)  # nobody said yes: nothing queued
    assert await bot.state.deliveries_of("call_reminder") == []
    call2 = await bot.services.calls.publish(new_call())
    await bot.drain()
    clock.advance(timedelta(minutes=5))
    await bot.tick()
    rows = [d for d in await bot.state.deliveries_of("call") if d.ref_id == call2.id]
    assert {(d.status, d.attempts) for d in rows} == {("failed", 2)}
    detail = await bot.services.call_management.detail(call2.id, COORDINATOR_ID)
    assert detail is not None
    assert (detail.counts.failed, detail.counts.sent, detail.counts.blocked) == (5, 0, 0)
    text = await bot.services.calls.summary_text(detail.call, "fr")
    assert "échecs : 5" in seen(text) and "bloqué le bot : 0" in seen(text)


WORKER_ENV = {
    "ESSAIM_TELEGRAM__TOKEN": TOKEN,
    "ESSAIM_SENDING__ALLOW_PAID_BROADCAST": "true",
    "ESSAIM_SENDING__PAID_MESSAGES_PER_SECOND": "1000",
    "ESSAIM_SENDING__MAX_IN_FLIGHT": "16",
    "ESSAIM_COORDINATORS": f"[{COORDINATOR_ID}]",
}


def start_worker(server: Any, db_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """The real bot (`python -m bot run`) in another process, against our fake server."""
    env = {
        **os.environ,
        **WORKER_ENV,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        "ESSAIM_DATABASE__PATH": str(db_path),
        "PYTHONPATH": str(ROOT),
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(db_path.parent / "none.toml"), "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.sqlite_only  # the worker process is given the SQLite file, and polled through it
async def test_kill_9_mid_call_resumes_without_skipping_anyone(server, tmp_path):
    recipients = range(6000, 7000)
    server.add_users(recipients)
    server.user(COORDINATOR_ID)
    server.configure(latency=0.01, paid_broadcast_per_second=1000)
    settings = make_settings(tmp_path, server)
    db = await open_database(settings.database.path)
    services = build_services(settings, FakeClock(datetime(2026, 3, 2, 10, tzinfo=UTC)), db)
    await seed_members(_Harness(services), recipients)
    # The worker runs on the system clock: its call must still be worth sending.
    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    call = await services.calls.publish(new_call(event_at=future))  # queued, nothing sent yet
    await db.close()

    log_path = tmp_path / "worker.log"
    worker = start_worker(server, settings.database.path, log_path)
    try:
        await server.wait_until(lambda: len(set(server.stats.delivered_chat_ids)) >= 300, 30)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        at_kill = len(server.stats.delivered_chat_ids)
        assert at_kill < len(recipients), "the call finished before the kill: make it longer"
        worker = start_worker(server, settings.database.path, log_path)
        done = set(recipients)
        await server.wait_until(lambda: server.stats.missing(done) == set(), 60)
        await server.wait_until(lambda: _sent(settings.database.path) == len(recipients), 30)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    delivered = [c for c in server.stats.delivered_chat_ids if c in recipients]
    extra = len(delivered) - len(recipients)
    bound = int(WORKER_ENV["ESSAIM_SENDING__MAX_IN_FLIGHT"]) + FLUSH_EVERY
    assert server.stats.missing(recipients) == set()
    assert 0 <= extra <= bound, (extra, log_path.read_text()[-2000:])
    print(f"kill -9 after {at_kill} deliveries: {extra} duplicate(s), bound {bound}")
    db = await open_database(settings.database.path)
    try:
        counts = await OutboxRepository(db).counts("call", call.id)
    finally:
        await db.close()
    assert counts == {"sent": len(recipients)}


def _sent(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE kind = 'call' AND status = 'sent'"
        ).fetchone()
    return int(row[0])


class _Harness:
    """Just enough of BotHarness for seed_members, without starting a bot."""

    def __init__(self, services: Any) -> None:
        self.services = services
