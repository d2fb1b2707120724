"""`python -m bot`: parse arguments, load settings, run. Everything else is in bot.app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Essaim Telegram bot")
    parser.add_argument("--config", type=Path, default=Path("config.toml"))
    parser.add_argument("--log-level", default="INFO")
    # The same options after the command (`python -m bot check-config --config FILE`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    common.add_argument("--log-level", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "run", parents=[common], help="run the bot (default); without a token, the local sandbox"
    )
    sub.add_parser(
        "check-config", parents=[common], help="validate the configuration and exit 0 or 1"
    )
    backup = sub.add_parser(
        "backup", parents=[common], help="consistent copy of the live database"
    )
    backup.add_argument("--to", type=Path, required=True)
    restore = sub.add_parser("restore", parents=[common], help="put a backup back (bot stopped)")
    restore.add_argument("--from", dest="source", type=Path, required=True)
    move = sub.add_parser(
        "migrate-to",
        parents=[common],
        help="copy the SQLite database into an empty PostgreSQL database (bot stopped)",
    )
    move.add_argument("--url", required=True, help="postgresql://user@host/db")
    sub.add_parser(
        "set-webhook",
        parents=[common],
        help="point Telegram at telegram.webhook_url, keeping its pending updates (deploys)",
    )
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.log_level)
    command = args.command or "run"
    if command == "check-config":
        from bot.ops import check_config

        return check_config(args.config)
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 1
    if command == "backup":
        from bot.ops import backup

        return backup(settings, args.to)
    if command == "restore":
        from bot.ops import restore

        return restore(settings, args.source)
    if command == "migrate-to":
        from bot.ops import migrate_to

        return migrate_to(settings, args.url)
    if command == "set-webhook":
        from bot.ops import set_webhook

        return set_webhook(settings)
    return run(settings)


def run(settings: Settings) -> int:
    if settings.telegram.token is None:
        from sandbox.launcher import run_sandbox

        return run_sandbox(settings)
    from bot.lifecycle import run_bot

    return run_bot(settings)


if __name__ == "__main__":
    sys.exit(main())
