"""Running for real: webhook mode with its secret, graceful SIGTERM mid-broadcast, /healthz."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.clock import FakeClock, SystemClock
from bot.lifecycle import webhook_options
from sandbox.fakeapi import FakeTelegram
from storage.db import open_database
from storage.outbox import NewDelivery, OutboxRepository, Payload
from tests.conftest import TOKEN, BotHarness, make_settings
from tests.helpers import seed_members

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Webhook_token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookHarness(BotHarness):
    """The real application fed by PTB's webhook server instead of long polling."""

    async def start(self) -> BotHarness:
        from bot.app import build_application

        self.app = build_application(self.settings, clock=self.clock)
        await self.app.initialize()
        await self.app.post_init(self.app)
        await self.app.updater.start_webhook(**webhook_options(self.settings))
        await self.app.start()
        return self


async def test_webhook_mode_serves_members_and_refuses_a_wrong_secret(
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
        info = await harness.app.bot.get_webhook_info()
        assert info.url == url
        alice = server.user(501, "Alice", language_code="fr")
        await alice.send("/start")
        notice = await alice.receive(contains="SMICVAL")
        accept = notice.button_data["J'accepte"]

        forged_press = {
            "update_id": 900001,
            "callback_query": {
                "id": "forged-1",
                "from": {"id": 501, "is_bot": False, "first_name": "Alice"},
                "chat_instance": "501",
                "data": accept,
                "message": {
                    "message_id": notice.message_id,
                    "date": 0,
                    "chat": {"id": 501, "type": "private"},
                    "text": "x",
                },
            },
        }
        stranger_start = {
            "update_id": 900002,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 502, "type": "private"},
                "from": {"id": 502, "is_bot": False, "first_name": "Mallory"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        async with aiohttp.ClientSession() as session:
            for update in (forged_press, stranger_start):
                for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                    async with session.post(url, json=update, headers=headers) as response:
                        assert response.status == 403
        sends = server.stats.method_counts["sendMessage"]
        # The forged press changed nothing: Alice has not consented, Mallory got no notice.
        assert await harness.state.members.all() == []
        assert server.get_user(502) is None or server.get_user(502).messages == []  # type: ignore[union-attr]

        await alice.press("J'accepte", message=notice)
        await alice.receive(contains="prénom ou pseudo")
        assert server.stats.method_counts["sendMessage"] > sends
        rows = await harness.state.members.all()
        assert [(m.telegram_id, m.consent_at is not None) for m in rows] == [(501, True)]
    finally:
        await harness.stop()


async def test_healthz_reports_queue_and_turns_503_when_stuck(
    server: FakeTelegram, make_bot: Callable[..., Any]
) -> None:
    port = free_port()
    bot: BotHarness = await make_bot(
        health={"enabled": True, "port": port, "max_queue_age_seconds": 120}
    )
    url = f"http://127.0.0.1:{port}"
    server.add_users(range(2001, 2004))
    await seed_members(bot, range(2001, 2004))
    dispatcher = bot.services.require_dispatcher()
    await dispatcher.stop()  # as if Telegram refused everything: nothing leaves
    await OutboxRepository(bot.services.db).enqueue(
        [
            NewDelivery(chat_id=cid, kind="test", payload=Payload(text=f"n{cid}"))
            for cid in range(2001, 2004)
        ],
        bot.clock.now(),
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200
            fresh = await response.json()
        assert fresh["queue_depth"] == 3
        assert fresh["oldest_due_age_seconds"] == 0
        assert fresh["database"] == "ok"
        assert fresh["last_success"] is None

        bot.clock.advance(timedelta(seconds=600))
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 503
            stuck = await response.json()
        assert stuck["status"] == "queue stuck"
        assert stuck["queue_depth"] == 3
        assert stuck["oldest_due_age_seconds"] == 600

        await dispatcher.start()
        await bot.drain()
        async with session.get(f"{url}/healthz") as response:
            assert response.status == 200
            healthy = await response.json()
        assert healthy["queue_depth"] == 0
        assert healthy["oldest_due_age_seconds"] is None
        assert healthy["sent"] == 3
        assert healthy["last_success"] == bot.clock.now().isoformat()
        assert healthy["last_success_age_seconds"] == 0

        async with session.get(f"{url}/metrics") as response:
            assert response.status == 200
            metrics = (await response.text()).splitlines()
    assert "essaim_queue_depth 0" in metrics
    assert "essaim_deliveries_sent_total 3" in metrics
    assert "essaim_retry_after_total 0" in metrics
    assert "essaim_up 1" in metrics
    await bot.stop()
    with socket.socket() as sock:  # stopped with the bot: the port is free again
        sock.bind(("127.0.0.1", port))


async def start_bot_process(env: dict[str, str], config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--log-level",
        "WARNING",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop_bot_process(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall()
    conn.close()
    return {status: n for status, n in rows}


@pytest.mark.sqlite_only  # two bot processes on one SQLite file, polled through the file
async def test_sigterm_mid_broadcast_then_restart_sends_each_exactly_once(
    server: FakeTelegram, tmp_path: Path
) -> None:
    recipients = range(10_000, 10_240)
    server.add_users(recipients)
    db_path = tmp_path / "essaim.sqlite3"
    db = await open_database(db_path)
    await OutboxRepository(db).enqueue(
        [
            NewDelivery(chat_id=cid, kind="broadcast", payload=Payload(text=f"Appel {cid}"))
            for cid in recipients
        ],
        SystemClock().now() - timedelta(seconds=1),
    )
    await db.close()
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        "ESSAIM_DATABASE__PATH": str(db_path),
        "ESSAIM_SENDING__MESSAGES_PER_SECOND": "30",
        "ESSAIM_SENDING__SHUTDOWN_GRACE_SECONDS": "5",
    }
    config = tmp_path / "absent.toml"  # defaults + environment only
    server.configure(latency=0.05)

    first = await start_bot_process(env, config)
    await server.wait_until(lambda: server.stats.delivered >= 40, timeout=30)
    # The broadcast stalls here, however fast or slow the machine: requests wait at the
    # server's gate (a held request whose client gives up never arrives), so the SIGTERM
    # below always comes mid-broadcast, with requests on the wire.
    server.hold()
    await server.wait_until(lambda: server.held > 0, timeout=30)

    # A second instance on the same database refuses to start while the first runs.
    second = await start_bot_process(env, config)
    _, second_err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 1
    assert "another Essaim is already running" in second_err.decode()

    first.send_signal(signal.SIGTERM)
    server.release()  # what was on the wire is answered during the shutdown grace
    _, raw_err = await asyncio.wait_for(first.communicate(), 60)
    code, err = first.returncode, raw_err.decode()
    assert code == 0, err
    assert "Traceback" not in err
    after_stop = statuses(db_path)
    assert "sending" not in after_stop
    assert after_stop.get("queued", 0) > 0, "the broadcast finished before SIGTERM"
    # Everything Telegram accepted was recorded as sent before the process ended.
    assert after_stop["sent"] == server.stats.delivered
    assert server.stats.duplicates() == {}

    restarted = await start_bot_process(env, config)
    await server.wait_until(lambda: not server.stats.missing(recipients), timeout=60)
    code, err = await stop_bot_process(restarted)
    assert code == 0, err
    assert server.stats.duplicates() == {}
    assert server.stats.missing(recipients) == set()
    assert sorted(server.stats.delivered_chat_ids) == list(recipients)
    assert statuses(db_path) == {"sent": len(recipients)}


async def test_run_command_in_webhook_mode_then_sigterm(
    server: FakeTelegram, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__BASE_FILE_URL": server.base_file_url,
        "ESSAIM_TELEGRAM__MODE": "webhook",
        "ESSAIM_TELEGRAM__WEBHOOK_PORT": str(port),
        "ESSAIM_TELEGRAM__WEBHOOK_URL": url,
        "ESSAIM_TELEGRAM__WEBHOOK_PATH": "/hook",
        "ESSAIM_TELEGRAM__WEBHOOK_SECRET": SECRET,
        "ESSAIM_DATABASE__PATH": str(tmp_path / "essaim.sqlite3"),
    }
    proc = await start_bot_process(env, tmp_path / "absent.toml")
    await server.wait_until(lambda: server.stats.method_counts["setWebhook"] >= 1, timeout=30)
    bob = server.user(601, "Bob", language_code="en")
    await bob.send("/start")
    notice = await bob.receive(timeout=15)
    assert "I accept" in notice.button_data
    code, err = await stop_bot_process(proc)
    assert code == 0, err
    assert server.stats.method_counts["getUpdates"] == 0


async def test_webhook_mode_without_secret_refuses_to_start(
    server: FakeTelegram, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ESSAIM_TELEGRAM__TOKEN": TOKEN,
        "ESSAIM_TELEGRAM__BASE_URL": server.base_url,
        "ESSAIM_TELEGRAM__MODE": "webhook",
        "ESSAIM_TELEGRAM__WEBHOOK_URL": "https://bot.example.org/telegram",
        "ESSAIM_DATABASE__PATH": str(tmp_path / "essaim.sqlite3"),
    }
    proc = await start_bot_process(env, tmp_path / "absent.toml")
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert err.decode().strip().endswith("webhook mode needs telegram.webhook_secret")
    assert server.stats.method_counts["setWebhook"] == 0


async def test_healthz_503_when_database_unreachable(make_bot: Callable[..., Any]) -> None:
    port = free_port()
    bot: BotHarness = await make_bot(health={"enabled": True, "port": port})
    await bot.services.require_dispatcher().stop()
    await bot.services.db.close()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
                body = await response.json()
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = (await response.text()).splitlines()
        assert body["database"] == "unreachable"
        assert body["status"] == "database unreachable"
        assert body["queue_depth"] is None
        assert "essaim_database_up 0" in metrics and "essaim_up 0" in metrics
    finally:
        await bot.services.db.connect()
