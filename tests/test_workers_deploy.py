"""The deploy command that points Telegram at the workers' proxy, and the lease on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.health import HealthServer
from sandbox.fakeapi import FakeTelegram
from tests.conftest import TOKEN, BotHarness
from tests.test_ops_run import SECRET


async def test_set_webhook_keeps_the_pending_updates(
    server: FakeTelegram,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.push_update({"message": {"text": "en attente"}})
    for key, value in {
        "TELEGRAM__TOKEN": TOKEN,
        "TELEGRAM__BASE_URL": server.base_url,
        "TELEGRAM__WEBHOOK_URL": "http://127.0.0.1:9/telegram",
        "TELEGRAM__WEBHOOK_SECRET": SECRET,
        "DATABASE__PATH": str(tmp_path / "essaim.sqlite3"),
    }.items():
        monkeypatch.setenv("ESSAIM_" + key, value)

    code = await asyncio.to_thread(
        main, ["--config", str(tmp_path / "absent.toml"), "set-webhook"]
    )
    assert code == 0, capsys.readouterr()
    info = server._get_webhook_info({})
    assert info["url"] == "http://127.0.0.1:9/telegram"
    assert info["pending_update_count"] == 1
    server._delete_webhook({})


async def test_the_only_worker_holds_the_lease_and_says_so(bot: BotHarness) -> None:
    lease = bot.services.lease
    assert lease is not None and lease.held
    assert bot.services.dispatcher is not None
    snapshot = await HealthServer(bot.services, bot.settings.health).snapshot()
    assert snapshot.lease == "held" and snapshot.status == "ok"
