"""Running the bot for real: one instance per database, start checks, polling or webhook.

`run_bot(settings)` is what `python -m bot run` calls when a token is set. It takes the
single-instance lock, checks the database (integrity, schema not newer than the code), then
hands over to PTB's `run_polling` or `run_webhook`, which install the SIGTERM/SIGINT handlers:
on a signal PTB stops taking updates, lets running handlers finish, then runs post_shutdown
(`bot.app._post_shutdown`), which gives in-flight deliveries `sending.shutdown_grace_seconds`,
records them, requeues the rest and closes the database.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.config import Settings
from storage.db import DatabaseProblem
from storage.db import check_database as storage_check

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]


class StartRefused(Exception):
    """The bot must not start; the message is one line for the operator."""


class InstanceLock:
    """An exclusive `flock` on `<database>.lock`, held for the life of the process.

    The kernel releases it when the process dies, so a crash never leaves a stale lock.
    """

    def __init__(self, database: Path | None) -> None:
        self.path = Path(str(database) + ".lock")
        self.enabled = database is not None
        self._fd: int | None = None

    @classmethod
    def of(cls, settings: Settings) -> InstanceLock:
        """The lock of the SQLite file; none with PostgreSQL, which several processes share
        safely (its own locks keep migrations and writes apart)."""
        return cls(None if settings.database.url else settings.database.path)

    def acquire(self) -> None:
        if not self.enabled:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_pid(self.path)
            who = f" (pid {holder})" if holder else ""
            raise StartRefused(
                f"another Essaim is already running on {self.path.with_suffix('')}{who}; "
                "stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def check_database(settings: Settings) -> None:
    """Refuse a corrupt database or one written by a newer Essaim (a missing one is created)."""
    try:
        storage_check(settings.database.target)
    except DatabaseProblem as problem:
        raise StartRefused(str(problem)) from None


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `run_webhook` / `Updater.start_webhook`."""
    telegram = settings.telegram
    secret = telegram.webhook_secret.get_secret_value() if telegram.webhook_secret else None
    return {
        "listen": telegram.webhook_listen,
        "port": telegram.webhook_port,
        "url_path": telegram.webhook_path.lstrip("/"),
        "webhook_url": telegram.webhook_url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
    }


def run_bot(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; 0 after a clean stop, 1 when the start is refused."""
    from bot.app import build_application

    lock = InstanceLock.of(settings)
    try:
        lock.acquire()
        check_database(settings)
        if settings.telegram.mode == "webhook" and settings.telegram.webhook_secret is None:
            raise StartRefused("webhook mode needs telegram.webhook_secret")
    except StartRefused as refusal:
        lock.release()
        print(f"essaim: {refusal}", flush=True, file=sys.stderr)
        return 1
    try:
        application = build_application(settings)
        stop_signals = (signal.SIGINT, signal.SIGTERM)
        if settings.telegram.mode == "webhook":
            log.info("starting webhook server on port %d", settings.telegram.webhook_port)
            application.run_webhook(stop_signals=stop_signals, **webhook_options(settings))
        else:
            log.info("starting long polling")
            application.run_polling(allowed_updates=ALLOWED_UPDATES, stop_signals=stop_signals)
        log.info("essaim stopped")
        return 0
    finally:
        lock.release()
