"""Operator commands: check a configuration, back up and restore the database.

Each prints one line per problem and returns the process exit status (0 or 1); none prints
a traceback for a problem an operator can fix.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.lifecycle import InstanceLock, StartRefused, check_database
from storage.db import latest_version


def check_config(path: Path) -> int:
    """Exit status 0 when the file loads, the paths make sense and Telegram answers getMe."""
    problems: list[str] = []
    if not path.exists():
        problems.append(f"{path}: no such configuration file")
    try:
        settings = load_settings(path)
    except ConfigError as error:
        problems += str(error).split("; ")
        settings = None
    if settings is not None:
        problems += _check_settings(settings)
        if settings.telegram.token is not None:
            problems += asyncio.run(_check_token(settings))
    for line in problems:
        print(line)
    if not problems:
        print(f"{path}: ok")
    return 1 if problems else 0


def _check_settings(settings: Settings) -> list[str]:
    problems: list[str] = []
    try:
        check_database(settings.database.path)
    except StartRefused as refusal:
        problems.append(str(refusal))
    telegram = settings.telegram
    if telegram.mode == "webhook":
        if telegram.webhook_secret is None:
            problems.append("telegram.webhook_secret: required in webhook mode")
        if telegram.webhook_url and not telegram.webhook_url.startswith("https://"):
            problems.append("telegram.webhook_url: Telegram only calls https:// addresses")
    if settings.health.enabled and settings.health.host not in ("127.0.0.1", "::1", "localhost"):
        problems.append(f"health.host: {settings.health.host} is not loopback; keep it private")
    return problems


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


def _integrity(path: Path) -> str | None:
    """None when the file is a sound SQLite database, else what is wrong."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("PRAGMA integrity_check").fetchone()
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as error:
        return f"not a readable SQLite database ({error})"
    if row is None or row[0] != "ok":
        return "fails PRAGMA integrity_check"
    if version > latest_version():
        return f"schema version {version} is newer than this Essaim ({latest_version()})"
    return None


def backup(settings: Settings, target: Path) -> int:
    """Online backup: safe while the bot runs (SQLite's backup API copies a consistent state)."""
    source = settings.database.path
    if not source.exists():
        print(f"database.path: {source} does not exist", file=sys.stderr)
        return 1
    problem = _integrity(source)
    if problem:
        print(f"{source}: {problem}", file=sys.stderr)
        return 1
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(tmp) as dest:
            src.backup(dest)
        dest.close()
        src.close()
    except (sqlite3.Error, OSError) as error:
        tmp.unlink(missing_ok=True)
        print(f"backup failed: {error}", file=sys.stderr)
        return 1
    problem = _integrity(tmp)
    if problem:
        tmp.unlink(missing_ok=True)
        print(f"backup {problem}", file=sys.stderr)
        return 1
    tmp.replace(target)
    print(f"backup written to {target}")
    return 0


def restore(settings: Settings, source: Path) -> int:
    """Put a backup in place of the database; only while no bot holds the database."""
    if not source.exists():
        print(f"{source}: no such file", file=sys.stderr)
        return 1
    problem = _integrity(source)
    if problem:
        print(f"{source}: {problem}", file=sys.stderr)
        return 1
    dest = settings.database.path
    lock = InstanceLock(dest)
    try:
        lock.acquire()
    except StartRefused as refusal:
        print(f"restore refused: {refusal}", file=sys.stderr)
        return 1
    try:
        tmp = dest.with_name(dest.name + ".restore")
        with sqlite3.connect(source) as src, sqlite3.connect(tmp) as copy:
            src.backup(copy)
        copy.close()
        src.close()
        for suffix in ("-wal", "-shm"):
            Path(str(dest) + suffix).unlink(missing_ok=True)
        os.replace(tmp, dest)
    finally:
        lock.release()
    print(f"restored {source} to {dest}")
    return 0
