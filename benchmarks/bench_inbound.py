"""Inbound: button presses answered per second, Essaim (answering a call) vs a bare PTB bot.

Both run in this process against the fake Bot API server in its own process, with no
latency and no limits, in the same run; the presses are sent through the server's control
API with the same concurrency, so the driver's cost is the same on both sides.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.bench_calls import FIRST_ID, start_call
from benchmarks.common import TOKEN, RunningBot, ServerProcess, bench_settings, seeded_database

CONCURRENCY = 32


async def _press_all(
    server: ServerProcess, members: range, presses: int, texts: list[str]
) -> float:
    """Fire `presses` presses spread over the members; returns presses answered per second."""
    url = f"http://127.0.0.1:{server.port}/_control/users/{{}}/press"
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for n in range(presses):
        member = members[n % len(members)]
        queue.put_nowait((member, texts[(n // len(members)) % len(texts)]))
    answered = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal answered
        while not queue.empty():
            member, text = queue.get_nowait()
            async with session.post(url.format(member), json={"text": text}) as response:
                if response.status == 200:
                    answered += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return answered / (time.perf_counter() - started)


async def essaim(members: int, presses: int, workdir: Path) -> float:
    recipients = range(FIRST_ID, FIRST_ID + members)
    db_path = workdir / "inbound.sqlite3"
    await seeded_database(db_path, recipients)
    with ServerProcess() as server:
        server.add_users(1, 2)
        server.add_users(recipients.start, recipients.stop)
        settings = bench_settings(server, db_path, messages_per_second=30)
        async with RunningBot(settings) as bot:
            await start_call(bot.services)
            # The server runs in another process: polling its counters is the only way.
            while server.get("stats")["unique_recipients"] < members + 1:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            # Alternate answers so that every press changes something in the database.
            return await _press_all(server, recipients, presses, ["Je viens", "Pas cette fois"])


async def bare(members: int, presses: int) -> float:
    """A PTB bot that only answers the callback query: the ceiling for this machine."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

    async def on_press(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer("Merci !")

    recipients = range(FIRST_ID, FIRST_ID + members)
    with ServerProcess() as server:
        server.add_users(recipients.start, recipients.stop)
        app: Any = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(server.base_url)
            .concurrent_updates(64)
            .build()
        )
        app.add_handler(CallbackQueryHandler(on_press))
        await app.initialize()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        await app.start()
        try:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("Je viens", callback_data="y"),
                        InlineKeyboardButton("Pas cette fois", callback_data="n"),
                    ]
                ]
            )
            for chat_id in recipients:
                await app.bot.send_message(chat_id, "Appel", reply_markup=markup)
            return await _press_all(server, recipients, presses, ["Je viens", "Pas cette fois"])
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


def run(quick: bool = False) -> list[str]:
    members, presses = (100, 1_000) if quick else (200, 3_000)
    with tempfile.TemporaryDirectory() as tmp:
        ours = asyncio.run(essaim(members, presses, Path(tmp)))
        ceiling = asyncio.run(bare(members, presses))
    return [
        f"inbound.presses_per_second essaim={ours:.0f}/s bare_ptb={ceiling:.0f}/s "
        f"ratio={ours / ceiling:.2f} (targets: ratio>=0.5 and >=500/s; "
        f"{presses} presses, {CONCURRENCY} at once, driver in the same process)"
    ]
