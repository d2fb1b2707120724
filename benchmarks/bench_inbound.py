"""Inbound: button presses answered per second, Essaim (answering a call) vs a bare PTB bot.

Each bot runs in this process against the fake Bot API server in its own process, with no
latency and no limits, in the same run. The presses are generated inside the server's
process (`/_control/press_storm`: users press, CONCURRENCY at a time, and wait for the
answer), as Telegram's users would be: the load generator costs the bot's process nothing,
and both bots face exactly the same storm.

Two baselines: a bare PTB bot as PTB ships it (httpx), which is what the issue's ratio is
measured against, and the same bare bot on Essaim's HTTP transport (`bot/http.py`), which
shows what the feature itself costs on top of the transport.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench_calls import FIRST_ID, start_call
from benchmarks.common import (
    TOKEN,
    RunningBot,
    ServerProcess,
    bench_settings,
    median,
    seeded_database,
)

CONCURRENCY = 32
TEXTS = ["Je viens", "Pas cette fois"]


async def _press_all(server: ServerProcess, members: range, presses: int) -> float:
    """`presses` presses spread over the members; each member alternates its answers, so
    every press changes something in the database. Returns presses answered per second."""
    body = {
        "users": [members.start, members.stop],
        "texts": TEXTS,
        "presses": presses,
        "concurrency": CONCURRENCY,
    }
    result = await server.apost("press_storm", body, timeout=600)
    return float(result["answered"]) / float(result["seconds"])


async def essaim(members: int, presses: int, workdir: Path, database: str | None = None) -> float:
    """`database`: a PostgreSQL URL (an empty database) instead of an SQLite file."""
    recipients = range(FIRST_ID, FIRST_ID + members)
    db_path = workdir / "inbound.sqlite3"
    db_path.unlink(missing_ok=True)
    await seeded_database(database or db_path, recipients)
    with ServerProcess() as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        settings = bench_settings(server, database or db_path, messages_per_second=30)
        async with RunningBot(settings) as bot:
            await start_call(bot.services)
            # The server runs in another process: polling its counters is the only way.
            while server.get("stats")["unique_recipients"] < members + 1:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            return await _press_all(server, recipients, presses)


async def bare(members: int, presses: int, transport: str) -> float:
    """A PTB bot that only answers the callback query: the ceiling for this machine."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

    async def on_press(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer("Merci !")

    recipients = range(FIRST_ID, FIRST_ID + members)
    with ServerProcess() as server:
        server.add_users(recipients.start, recipients.stop)
        builder = ApplicationBuilder().token(TOKEN).base_url(server.base_url)
        if transport == "essaim":
            from bot.http import AiohttpRequest

            builder = builder.request(AiohttpRequest(80)).get_updates_request(AiohttpRequest(1))
        app: Any = builder.concurrent_updates(64).build()
        app.add_handler(CallbackQueryHandler(on_press))
        await app.initialize()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        await app.start()
        try:
            buttons = [InlineKeyboardButton(t, callback_data=str(n)) for n, t in enumerate(TEXTS)]
            markup = InlineKeyboardMarkup([buttons])
            for chat_id in recipients:
                await app.bot.send_message(chat_id, "Appel", reply_markup=markup)
            return await _press_all(server, recipients, presses)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


def run(quick: bool = False) -> list[str]:
    members, presses, rounds = (100, 1_000, 1) if quick else (200, 3_000, 3)
    ours: list[float] = []
    ptb: list[float] = []
    ptb_fast: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):  # interleaved, so that a noisy minute hits all three
            ours.append(asyncio.run(essaim(members, presses, Path(tmp))))
            ptb.append(asyncio.run(bare(members, presses, "httpx")))
            ptb_fast.append(asyncio.run(bare(members, presses, "essaim")))
    e, b, f = median(ours), median(ptb), median(ptb_fast)
    return [
        f"inbound.presses_per_second essaim={e:.0f}/s bare_ptb={b:.0f}/s ratio={e / b:.2f} "
        f"(targets: ratio>=0.5 and >=500/s; median of {rounds}, {presses} presses, "
        f"{CONCURRENCY} in flight, generated in the server's process)",
        f"inbound.same_transport bare_ptb_on_aiohttp={f:.0f}/s ratio={e / f:.2f} "
        "(what answering a call costs over a bot that only answers, on the same HTTP client)",
    ]
