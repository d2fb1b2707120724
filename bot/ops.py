"""Operator commands: check a configuration, back up and restore the database."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from pathlib import Path

from bot.config import Settings


def check_config(path: Path, settings: Settings) -> int:
    """Exit status 0 when the file loads and, with a token, Telegram (or the fake) answers."""
    problems: list[str] = []
    if not path.exists():
        problems.append(f"{path}: no such file (defaults and ESSAIM_* variables were used)")
    if settings.telegram.token is not None:
        problems += asyncio.run(_check_token(settings))
    for line in problems:
        print(line)
    if not problems:
        print(f"{path}: ok")
    return 1 if problems else 0


async def _check_token(settings: Settings) -> list[str]:
    from telegram import Bot
    from telegram.error import TelegramError

    assert settings.telegram.token is not None
    bot = Bot(
        settings.telegram.token.get_secret_value(),
        base_url=settings.telegram.base_url,
        base_file_url=settings.telegram.base_file_url,
    )
    try:
        async with bot:
            await bot.get_me()
    except TelegramError as error:
        return [f"telegram.token: getMe failed ({error})"]
    return []


def _integrity(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        row = conn.execute("PRAGMA integrity_check").fetchone()
    return row is not None and row[0] == "ok"


def backup(settings: Settings, target: Path) -> int:
    """Online backup: safe while the bot runs (SQLite's backup API copies a consistent state)."""
    source = settings.database.path
    if not source.exists():
        print(f"database.path: {source} does not exist", file=sys.stderr)
        return 1
    tmp = target.with_suffix(target.suffix + ".part")
    with sqlite3.connect(source) as src, sqlite3.connect(tmp) as dest:
        src.backup(dest)
    if not _integrity(tmp):
        tmp.unlink(missing_ok=True)
        print("backup failed its integrity check", file=sys.stderr)
        return 1
    tmp.replace(target)
    print(f"backup written to {target}")
    return 0


def restore(settings: Settings, source: Path) -> int:
    if not source.exists() or not _integrity(source):
        print(f"{source}: missing or fails its integrity check", file=sys.stderr)
        return 1
    dest = settings.database.path
    for suffix in ("-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    shutil.copyfile(source, dest)
    print(f"restored {source} to {dest}")
    return 0
