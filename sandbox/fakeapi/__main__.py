"""Run the fake Bot API standalone: python -m sandbox.fakeapi --port 8081 --global-rate 30."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc

from sandbox.fakeapi.server import FakeTelegram


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.fakeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="essaim_bot")
    parser.add_argument("--bot-name", default="Essaim")
    parser.add_argument("--global-rate", type=float, default=None, help="messages/s, all chats")
    parser.add_argument("--per-chat", type=float, default=None, help="messages/s per chat")
    parser.add_argument("--paid-rate", type=float, default=None, help="allow_paid_broadcast/s")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 502")
    parser.add_argument("--timeout-rate", type=float, default=0.0, help="fraction that hang")
    parser.add_argument("--timeout-delay", type=float, default=5.0)
    parser.add_argument("--deliver-on-timeout", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--webhook-connections", type=int, default=1, help="webhook requests at once"
    )
    parser.add_argument(
        "--users", default="", help="bulk users as START-STOP (stop excluded), e.g. 10000-20000"
    )
    return parser


def _quiet_collector() -> None:
    """The standalone server stands in for Telegram in benchmarks: its own garbage collector
    must not stop it for 80-100 ms (measured with 10,000 users and their messages), which
    bunched arriving messages into one instant and made it answer 429 to a well-paced bot a
    second later. Objects built so far leave the collector's generations, and full passes,
    which the held users and messages make long, become rare."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


async def _serve(args: argparse.Namespace) -> None:
    server = FakeTelegram(
        token=args.token,
        bot_username=args.bot_username,
        bot_first_name=args.bot_name,
        host=args.host,
        port=args.port,
        seed=args.seed,
        global_per_second=args.global_rate,
        per_chat_per_second=args.per_chat,
        paid_broadcast_per_second=args.paid_rate,
        latency=args.latency,
        error_rate_5xx=args.error_rate,
        timeout_rate=args.timeout_rate,
        timeout_delay=args.timeout_delay,
        deliver_on_timeout=args.deliver_on_timeout,
        webhook_connections=args.webhook_connections,
    )
    if args.users:
        start, stop = (int(x) for x in args.users.split("-", 1))
        server.add_users(range(start, stop))
    await server.start()
    _quiet_collector()
    print(f"fake Bot API on {server.base_url}  token={server.token}", flush=True)
    print(f"files: {server.base_file_url}  control: {server.control_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    """Entry point; Ctrl-C stops cleanly."""
    args = _parser().parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
