"""Structured logs (key=value) that carry Telegram ids only, never names or texts."""

from __future__ import annotations

import logging
import sys


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = (
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')} level={record.levelname.lower()} "
            f"logger={record.name} msg={record.getMessage()!r}"
        )
        if record.exc_info:
            base += " exc=" + repr(self.formatException(record.exc_info))
        return base


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL, which contains the bot token; PTB logs whole updates
    # (names, texts) at DEBUG. Neither may go below INFO, even when Essaim itself debugs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs every statement with its parameters (names, texts) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
