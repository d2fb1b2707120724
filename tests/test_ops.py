"""Operator commands: check-config, the single-instance lock, refusal of a newer schema,
backup while running and restore."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.lifecycle import InstanceLock, StartRefused
from sandbox.fakeapi import FakeTelegram
from storage.db import latest_version, open_database
from tests.conftest import TOKEN, BotHarness
from tests.helpers import seed_members

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, server: FakeTelegram | None, db: Path, extra: str = "") -> Path:
    telegram = ""
    if server is not None:
        telegram = (
            f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "{server.base_url}"\n'
            f'base_file_url = "{server.base_file_url}"\n'
        )
    path.write_text(
        f'territories = ["Blaye"]\n{extra}\n{telegram}\n[database]\npath = "{db}"\n',
        encoding="utf-8",
    )
    return path


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`python -m bot ...` in a subprocess, without blocking the fake server's loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_check_config_good_file_calls_get_me(server: FakeTelegram, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.toml", server, tmp_path / "essaim.sqlite3", "coordinators = [900]"
    )
    code, out, _ = await run_cli("check-config", "--config", str(config))
    assert code == 0, out
    assert out.strip() == f"{config}: ok"
    assert server.stats.method_counts["getMe"] >= 1


async def test_check_config_tells_the_first_coordinator_how_to_find_their_id(
    server: FakeTelegram, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16, item 21: with nobody in `coordinators`, say how to get one's Telegram id."""
    config = write_config(tmp_path / "config.toml", server, tmp_path / "essaim.sqlite3")
    assert await asyncio.to_thread(main, ["--config", str(config), "check-config"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"{config}: ok"
    assert lines[1].startswith("coordinators: nobody yet") and "/monid" in lines[1]


async def test_check_config_broken_file_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'territories = []\ntimezone = "Mars/Olympus"\n[sending]\nmessages_per_second = 99\n'
        f'[database]\npath = "{tmp_path / "missing" / "db.sqlite3"}"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "check-config"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert any(line.startswith("territories:") for line in lines)
    assert any(line.startswith("timezone:") for line in lines)
    assert any(line.startswith("sending.messages_per_second:") for line in lines)


async def test_check_config_reports_bad_token_and_missing_dir(
    server: FakeTelegram, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "config.toml",
        None,
        tmp_path / "nowhere" / "essaim.sqlite3",
        extra='[telegram]\ntoken = "42:WRONG-TOKEN"\n'
        f'base_url = "{server.base_url}"\nmode = "webhook"\n'
        'webhook_url = "http://bot.example.org/telegram"\n',
    )
    code = await asyncio.to_thread(main, ["--config", str(config), "check-config"])
    assert code == 1
    out = capsys.readouterr().out
    assert "database.path: directory" in out
    assert "telegram.webhook_secret: required in webhook mode" in out
    assert "telegram.webhook_url: Telegram only calls https://" in out
    assert "telegram.token: getMe failed" in out


def test_instance_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    db = tmp_path / "essaim.sqlite3"
    first = InstanceLock(db)
    first.acquire()
    with pytest.raises(StartRefused, match="already running"):
        InstanceLock(db).acquire()
    first.release()
    with InstanceLock(db):
        pass


async def test_second_instance_refuses_to_start(server: FakeTelegram, tmp_path: Path) -> None:
    db = tmp_path / "essaim.sqlite3"
    config = write_config(tmp_path / "config.toml", server, db)
    with InstanceLock(db):  # as a running bot holds it
        code, _out, err = await run_cli("--config", str(config), "run")
    assert code == 1
    assert "another Essaim is already running" in err
    assert "Traceback" not in err
    assert server.stats.method_counts["getUpdates"] == 0
    assert not db.exists()


@pytest.mark.sqlite_only  # writes the SQLite file's user_version by hand
async def test_newer_schema_refused_with_one_line(server: FakeTelegram, tmp_path: Path) -> None:
    db = tmp_path / "essaim.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    config = write_config(tmp_path / "config.toml", server, db)
    code, _out, err = await run_cli("--config", str(config), "run")
    assert code == 1
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "schema version" in line] == [
        f"essaim: the database {db} is at schema version {latest_version() + 1} but this "
        f"Essaim only knows {latest_version()}: upgrade Essaim or restore an older backup"
    ]
    assert server.stats.method_counts["getUpdates"] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() + 1


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        value = conn.execute(sql).fetchone()[0]
    conn.close()
    return int(value)


@pytest.mark.sqlite_only  # the backup is a SQLite file, checked as one
async def test_backup_while_running_then_restore(bot: BotHarness, tmp_path: Path) -> None:
    await seed_members(bot, range(1, 201))
    target = tmp_path / "backup.sqlite3"
    config = write_config(tmp_path / "config.toml", None, bot.settings.database.path)

    async def keep_writing() -> None:
        await seed_members(bot, range(1000, 1300))

    writer = asyncio.create_task(keep_writing())
    code = await asyncio.to_thread(main, ["--config", str(config), "backup", "--to", str(target)])
    await writer
    assert code == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        backed_up = conn.execute("SELECT COUNT(*) FROM members").fetchone()[0]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()
    # Consistent: a whole seeding transaction is either in the copy or not at all.
    assert backed_up in (200, 500)
    await seed_members(bot, range(5000, 5010))

    # While the bot runs (it holds the lock), restore is refused and changes nothing.
    with InstanceLock(bot.settings.database.path):
        code = await asyncio.to_thread(
            main, ["--config", str(config), "restore", "--from", str(target)]
        )
    assert code == 1
    assert len(await bot.state.members.all()) == 510

    await bot.stop()
    code = await asyncio.to_thread(
        main, ["--config", str(config), "restore", "--from", str(target)]
    )
    assert code == 0
    await bot.start()
    assert len(await bot.state.members.all()) == backed_up
    assert await bot.services.members.get(1) is not None
    assert await bot.services.members.get(5000) is None


@pytest.mark.sqlite_only  # a broken SQLite file
async def test_restore_refuses_a_broken_file(tmp_path: Path, capsys: Any) -> None:
    db = tmp_path / "essaim.sqlite3"
    live = await open_database(db)
    await live.close()
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not sqlite" * 100)
    config = write_config(tmp_path / "config.toml", None, db)
    assert main(["--config", str(config), "restore", "--from", str(broken)]) == 1
    assert "not a readable SQLite database" in capsys.readouterr().err
    assert count(db, "PRAGMA user_version") == latest_version()


@pytest.mark.sqlite_only  # a corrupt SQLite file
async def test_corrupt_database_refused_at_start(server: FakeTelegram, tmp_path: Path) -> None:
    db = tmp_path / "essaim.sqlite3"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    config = write_config(tmp_path / "config.toml", server, db)
    code, _out, err = await run_cli("--config", str(config), "run")
    assert code == 1
    assert "Traceback" not in err
    assert f"database.path: {db} cannot be read" in err
    assert server.stats.method_counts["getUpdates"] == 0
