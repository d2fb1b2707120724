"""Several workers on one PostgreSQL database: one holds the sender lease (outbox and duties),
every one takes webhook updates; a stale holder is fenced off; state lives in the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import run_sweepers
from bot.clock import FakeClock
from bot.config import WorkersSettings
from bot.lease import DutyGuard, LeaseLost, SharedLease
from bot.lifecycle import webhook_options
from sandbox.fakeapi import FakeTelegram
from storage.db import Database, commit_guard, open_database
from storage.leases import LeaseRepository
from storage.outbox import DeliveryResult, NewDelivery, OutboxRepository, Payload
from tests import pg
from tests.conftest import BotHarness, make_settings
from tests.helpers import onboard, seed_members
from tests.test_ops_run import SECRET, free_port

pytestmark = pytest.mark.skipif(pg.URL is None, reason="several workers need PostgreSQL")


class Worker(BotHarness):
    """One worker process's Application, fed by its own webhook server."""

    async def start(self) -> BotHarness:
        from bot.app import build_application

        self.app = build_application(self.settings, clock=self.clock)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.updater.start_webhook(**webhook_options(self.settings))
        await self.app.start()
        return self

    @property
    def url(self) -> str:
        return str(self.settings.telegram.webhook_url)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.health.port}"


@pytest.fixture
def url(_postgres_database: str) -> str:
    """This test's PostgreSQL database (tests.conftest gives every test its own)."""
    return _postgres_database


@pytest.fixture
async def workers(
    tmp_path: Path, server: FakeTelegram, clock: FakeClock, url: str
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Worker] = []

    async def start() -> Worker:
        port = free_port()
        settings = make_settings(
            tmp_path,
            server,
            telegram={
                "mode": "webhook",
                "webhook_port": port,
                "webhook_url": f"http://127.0.0.1:{port}/telegram",
                "webhook_secret": SECRET,
            },
            health={"enabled": True, "port": free_port()},
            database={"url": url},
        )
        worker = Worker(settings, clock)
        started.append(worker)
        await worker.start()
        return worker

    yield start
    for worker in reversed(started):
        await worker.stop()


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if url.endswith("/metrics"):
            return response.status, await response.text()
        return response.status, await response.json()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_one_worker_sends_and_another_takes_over_when_it_stops(
    server: FakeTelegram, workers: Callable[..., Any]
) -> None:
    first: Worker = await workers()
    second: Worker = await workers()
    assert first.services.lease is not None and first.services.lease.held
    assert second.services.lease is not None and not second.services.lease.held
    status, health = await get(first.health_url + "/healthz")
    assert status == 200 and health["lease"] == "held" and health["lease_token"] >= 1
    status, health = await get(second.health_url + "/healthz")
    assert status == 200 and health["lease"] == "standby" and health["lease_token"] is None
    _, metrics = await get(second.health_url + "/metrics")
    assert f'essaim_lease_held{{worker="{health["worker"]}"}} 0' in metrics.splitlines()
    # The webhook was set once, by the holder only.
    assert server.stats.method_counts["setWebhook"] == 1

    recipients = range(7000, 7010)
    server.add_users(recipients)
    await seed_members(second, recipients)
    outbox = OutboxRepository(second.services.db)
    now = second.clock.now()
    await outbox.enqueue(
        [NewDelivery(chat_id=c, kind="broadcast", payload=Payload(text="Un")) for c in recipients],
        now,
    )
    first.services.require_dispatcher().wake()
    await first.drain()
    assert server.stats.missing(recipients) == set()
    assert second.services.require_dispatcher().sent_total == 0
    # The standby's duties do nothing (only its own last-seen notes are written).
    sent = server.stats.delivered
    await run_sweepers(second.services)
    assert server.stats.delivered == sent

    token = first.services.lease.token
    await first.stop()  # a clean stop releases the lease: no wait for its expiry
    await wait_for(lambda: second.services.lease is not None and second.services.lease.held, 5)
    assert second.services.lease.token == token + 1
    await outbox.enqueue(
        [
            NewDelivery(chat_id=c, kind="broadcast", payload=Payload(text="Bis"))
            for c in recipients
        ],
        second.clock.now(),
    )
    second.services.require_dispatcher().wake()
    await second.drain()
    assert server.stats.duplicates() == dict.fromkeys(recipients, 2)  # "Un", then "Deux"
    assert server.stats.delivered == 2 * len(recipients)
    _, health = await get(second.health_url + "/healthz")
    assert health["lease"] == "held"
    assert server.stats.method_counts["setWebhook"] == 2  # the new holder, again


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    db = await open_database(url)
    try:
        yield db
    finally:
        await db.close()


async def expire_now(db: Database) -> None:
    await db.execute("UPDATE leases SET expires_at = clock_timestamp() - interval '1 second'")


async def test_a_stale_holder_can_neither_claim_nor_record_nor_commit_a_duty(
    database: Database,
) -> None:
    settings = WorkersSettings(lease_seconds=30, renew_seconds=5)
    old, new = SharedLease(database, settings), SharedLease(database, settings)
    lost: list[str] = []

    async def on_lose() -> None:
        lost.append(old.name)

    old.on_lose(on_lose)
    await old._step()
    await new._step()
    assert old.held and not new.held
    outbox = OutboxRepository(database)
    now = FakeClock().now()
    await outbox.enqueue(
        [NewDelivery(chat_id=1, kind="broadcast", payload=Payload(text="x"))],
        now,
    )
    async with database.transaction():
        await old.check()
        [claimed] = await outbox.claim_due(now, 10, old.token)

    await expire_now(database)  # the old holder froze past its expiry (a long pause, a cut)
    await new._step()
    assert new.held and new.token == old.token + 1
    # The old one still believes it (its own clock says so) but the database refuses it.
    assert old.valid()
    with pytest.raises(LeaseLost):
        async with database.transaction():
            await old.check()
    guard = commit_guard.set(DutyGuard(old, database))
    try:
        async with database.transaction():
            await database.execute("UPDATE leases SET holder = 'nobody'")
    finally:
        commit_guard.reset(guard)
    assert (await LeaseRepository(database).get("sender")).holder == new.name  # type: ignore[union-attr]

    # The successor requeues and claims again; the old holder's late result changes nothing.
    assert await outbox.requeue_in_flight() == 1
    async with database.transaction():
        await new.check()
        [again] = await outbox.claim_due(now, 10, new.token)
    assert again.id == claimed.id
    await outbox.record([DeliveryResult(id=claimed.id, status="failed")], now, old.token)
    await outbox.record([DeliveryResult(id=again.id, status="sent", message_id=5)], now, new.token)
    [row] = await outbox.all()
    assert row.status == "sent"
    # Its next renewal is refused: it stops (the dispatcher), and it never sent meanwhile.
    await old._step()
    assert not old.held and not old.valid() and lost == [old.name]
    await new.stop()
    assert (await LeaseRepository(database).get("sender")).expires_at is not None  # type: ignore[union-attr]


async def test_a_draft_started_on_one_worker_continues_on_the_other(
    server: FakeTelegram, workers: Callable[..., Any]
) -> None:
    await workers()
    second: Worker = await workers()
    alice = await onboard(server, 1001, "Alice")
    await alice.send("/proposer")
    await alice.receive(contains="titre de votre initiative")
    await alice.send("Jardin partagé")
    await alice.receive(contains="Décrivez")
    # The proxy now sends everything to the other worker (the first one is being upgraded).
    await second.app.bot.set_webhook(second.url, secret_token=SECRET)
    handled = second.app.updater.intake.handled
    await alice.send("Un potager au pied des immeubles.")
    await alice.receive(contains="thème")
    assert second.app.updater.intake.handled == handled + 1
    await alice.press("Environnement")
    await alice.press("Blaye")
    await alice.press("▫️ des personnes")
    await alice.press("Valider")
    await alice.press("📨 Envoyer")
    await alice.receive(contains="Merci ! Votre proposition est envoyée")
    proposal = await second.state.only_initiative()
    assert proposal.title == "Jardin partagé"


async def test_an_update_delivered_to_two_workers_is_handled_once(
    server: FakeTelegram, workers: Callable[..., Any]
) -> None:
    first: Worker = await workers()
    second: Worker = await workers()
    server.user(502, "Bruno", language_code="fr")
    update = {
        "update_id": 880001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 502, "type": "private", "first_name": "Bruno"},
            "from": {"id": 502, "is_bot": False, "first_name": "Bruno"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as session:
        for worker in (first, second):  # a webhook retry the proxy sent to the other worker
            async with session.post(worker.url, json=update, headers=headers) as response:
                assert response.status == 200
    welcomes = [m for m in server.user(502).messages if "SMICVAL" in m.text]
    assert len(welcomes) == 1
    assert first.app.updater.intake.handled + second.app.updater.intake.handled == 1
