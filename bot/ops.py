"""Operator commands: check a configuration, back up and restore the database.

Each prints one line per problem and returns the process exit status (0 or 1); none prints
a traceback for a problem an operator can fix.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.lifecycle import InstanceLock, StartRefused
from storage.db import (
    DatabaseError,
    DatabaseProblem,
    check_database,
    copy_database,
    is_url,
    open_database,
    restore_database,
)


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
        if settings is not None and not settings.coordinators:
            print(NO_COORDINATOR)
    return 1 if problems else 0


# Not an error (the bot runs), but nobody can send a call or moderate until someone is listed.
NO_COORDINATOR = (
    "coordinators: nobody yet. To find your Telegram id, start the bot (make run), send it "
    "/monid from your Telegram account, put the number it answers in coordinators = [...] "
    "and restart the bot."
)


def _check_settings(settings: Settings) -> list[str]:
    problems: list[str] = []
    try:
        check_database(settings.database.target)
    except DatabaseProblem as problem:
        problems.append(str(problem))
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


def backup(settings: Settings, target: Path) -> int:
    """Online backup through the backend's own method: safe while the bot runs."""
    source = settings.database.target
    try:
        check_database(source, must_exist=True)
        asyncio.run(_backup(source, target))
    except (DatabaseProblem, DatabaseError, OSError) as error:
        print(_one_line(error), file=sys.stderr)
        return 1
    print(f"backup written to {target}")
    return 0


async def _backup(source: str | Path, target: Path) -> None:
    db = await open_database(source, migrate=False)
    try:
        await db.backup_to(target)
    finally:
        await db.close()


def _one_line(error: Exception) -> str:
    if isinstance(error, DatabaseProblem):
        return str(error)
    return f"backup failed: {error}"


def restore(settings: Settings, source: Path) -> int:
    """Put a backup in place of the database; only while no bot holds the database."""
    lock = InstanceLock.of(settings)
    try:
        lock.acquire()
    except StartRefused as refusal:
        print(f"restore refused: {refusal}", file=sys.stderr)
        return 1
    try:
        restore_database(settings.database.target, source)
    except DatabaseProblem as problem:
        print(problem, file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(f"restored {source} to {settings.database.target}")
    return 0


def migrate_to(settings: Settings, url: str) -> int:
    """Copy the SQLite database of `settings` into the empty PostgreSQL database at `url`."""
    if not is_url(url):
        print("migrate-to: --url must be a postgresql:// URL", file=sys.stderr)
        return 1
    if settings.database.url:
        print("migrate-to: the configuration already uses database.url", file=sys.stderr)
        return 1
    lock = InstanceLock.of(settings)
    try:
        lock.acquire()
        check_database(settings.database.path, must_exist=True)
        check_database(url)
        counts = asyncio.run(copy_database(settings.database.path, url, print))
    except StartRefused as refusal:
        print(f"migrate-to refused: {refusal}", file=sys.stderr)
        return 1
    except (DatabaseProblem, DatabaseError) as error:
        print(f"migrate-to: {error}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    print(
        f"copied {sum(counts.values())} rows of {len(counts)} tables; counts checked. "
        f"Set database.url = {url!r} (or ESSAIM_DATABASE__URL) and start the bot."
    )
    return 0


def set_webhook(settings: Settings) -> int:
    """The deploy command: point Telegram at the proxy in front of the workers, keeping the
    updates it holds (never `drop_pending_updates`). The lease holder sets it too at start."""
    telegram = settings.telegram
    if telegram.token is None or not telegram.webhook_url or telegram.webhook_secret is None:
        print("set-webhook needs telegram.token, telegram.webhook_url and webhook_secret")
        return 1
    try:
        asyncio.run(_set_webhook(settings))
    except Exception as error:
        print(f"setWebhook failed: {_one_line(error)}")
        return 1
    print(f"webhook set to {telegram.webhook_url}")
    return 0


async def _set_webhook(settings: Settings) -> None:
    from telegram import Bot

    from bot.lifecycle import ALLOWED_UPDATES

    telegram = settings.telegram
    assert telegram.token is not None and telegram.webhook_secret is not None
    bot = Bot(telegram.token.get_secret_value(), base_url=telegram.base_url)
    async with bot:
        await bot.set_webhook(
            str(telegram.webhook_url),
            secret_token=telegram.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
