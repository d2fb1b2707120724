"""PTB's Updater, replaced: long polling and the webhook both go through the update intake.

`Application.run_polling` / `run_webhook` (and the tests' harness) call `start_polling`,
`start_webhook` and `stop` as on PTB's own Updater, so nothing else changes. What changes:

- polling confirms a batch (the offset of the next getUpdates) only once it is stored;
- the webhook answers Telegram only once the update is handled, 500 if it could not be
  stored (Telegram then delivers it again), and never asks Telegram to drop pending updates;
- before either starts, what a crash left stored but unhandled is handled first;
- `stop` lets the updates in flight finish (PTB's Application does the same for its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import Bot, Update
from telegram.error import TelegramError
from telegram.ext import Updater

from bot.intake import UpdateIntake

log = logging.getLogger(__name__)

RETRY_MAX_SECONDS = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class DurableUpdater(Updater):
    def __init__(self, bot: Bot, update_queue: asyncio.Queue[object]) -> None:
        super().__init__(bot, update_queue)
        self.intake: UpdateIntake | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._web: web.AppRunner | None = None
        self._secret: str | None = None
        self.store_failures = 0
        """Batches the database refused (left unconfirmed, fetched again)."""
        self.may_set_webhook: Callable[[], bool] = lambda: True
        """Only the sender lease's holder sets the webhook (bot/lease.py)."""
        self._hook: dict[str, Any] | None = None

    def attach(self, intake: UpdateIntake) -> None:
        """Given in post_init, once the database is open."""
        self.intake = intake

    def _start(self) -> UpdateIntake:
        if self.running:
            raise RuntimeError("This Updater is already running!")
        if not self._initialized:
            raise RuntimeError("This Updater was not initialized via `Updater.initialize`!")
        if self.intake is None:
            raise RuntimeError("no update intake attached (post_init did not run)")
        self._running = True
        return self.intake

    async def start_polling(
        self,
        poll_interval: float = 0.0,
        timeout: int | timedelta = timedelta(seconds=10),
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Callable[[TelegramError], None] | None = None,
    ) -> asyncio.Queue[object]:
        intake = self._start()
        try:
            # A webhook left set would refuse getUpdates; what it had pending stays pending.
            await self.bot.delete_webhook(drop_pending_updates=False)
            await intake.replay()
        except BaseException:
            self._running = False
            raise
        self._poll_task = asyncio.create_task(
            self._poll(intake, poll_interval, timeout, allowed_updates, error_callback),
            name="essaim-polling",
        )
        return self.update_queue

    async def _poll(
        self,
        intake: UpdateIntake,
        poll_interval: float,
        timeout: int | timedelta,
        allowed_updates: Sequence[str] | None,
        error_callback: Callable[[TelegramError], None] | None,
    ) -> None:
        # No offset at first: Telegram sends again what was never confirmed, and the inbox
        # recognises what it already holds.
        offset: int | None = None
        delay = 0.0
        while self.running:
            try:
                await intake.room()
                updates = await self.bot.get_updates(
                    offset=offset, timeout=timeout, allowed_updates=allowed_updates
                )
                fresh = await intake.receive(updates) if updates else []
            except TelegramError as error:
                if error_callback is not None:
                    error_callback(error)
                else:
                    log.warning("getUpdates failed: %s", error)
                delay = min(max(delay * 2, 1.0), RETRY_MAX_SECONDS)
                await asyncio.sleep(delay)
                continue
            except Exception:
                # The database refused the batch: it is not confirmed, Telegram keeps it.
                self.store_failures += 1
                log.exception("updates could not be stored; fetching them again")
                delay = min(max(delay * 2, 1.0), RETRY_MAX_SECONDS)
                await asyncio.sleep(delay)
                continue
            delay = 0.0
            if updates:
                offset = max(u.update_id for u in updates) + 1
            for update in fresh:
                intake.spawn(update)
            if poll_interval:
                await asyncio.sleep(poll_interval)

    async def start_webhook(  # type: ignore[override]
        self,
        listen: str = "127.0.0.1",
        port: int = 80,
        url_path: str = "",
        cert: Any = None,
        key: Any = None,
        bootstrap_retries: int = 0,
        webhook_url: str | None = None,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        ip_address: str | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        unix: Any = None,
    ) -> asyncio.Queue[object]:
        """Plain HTTP behind a reverse proxy (docs/deploy.md); TLS and unix sockets are the
        proxy's business."""
        if cert is not None or key is not None or unix is not None:
            raise ValueError("the webhook listens on plain HTTP: terminate TLS in the proxy")
        intake = self._start()
        self._secret = secret_token
        try:
            await intake.replay()
            app = web.Application()
            app.router.add_post("/" + url_path.lstrip("/"), self._on_webhook)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            self._web = runner
            await web.TCPSite(runner, listen, port).start()
            if webhook_url:
                self._hook = {
                    "url": webhook_url,
                    "allowed_updates": allowed_updates,
                    "max_connections": max_connections,
                    "secret_token": secret_token,
                    "ip_address": ip_address,
                }
                if self.may_set_webhook():
                    await self.ensure_webhook()
        except BaseException:
            self._running = False
            await self._stop_web()
            raise
        return self.update_queue

    async def ensure_webhook(self) -> None:
        """Set the webhook (once listening; the new lease holder again, in case a deploy
        changed it); pending updates are never dropped."""
        if self._hook is None or self._web is None:
            return
        await self.bot.set_webhook(drop_pending_updates=False, **self._hook)

    async def _on_webhook(self, request: web.Request) -> web.Response:
        if self._secret is not None and request.headers.get(SECRET_HEADER) != self._secret:
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except Exception:
            return web.Response(status=400)
        if self.intake is None or not self.running:
            return web.Response(status=503)
        try:
            await self.intake.accept(update)
        except Exception:
            log.exception("update %d could not be stored", update.update_id)
            return web.Response(status=500)
        return web.Response(status=200)

    async def stop(self) -> None:
        if not self.running:
            raise RuntimeError("This Updater is not running!")
        self._running = False
        if self._poll_task is not None:
            # Safe at any point: an unconfirmed batch is sent again, a stored one replayed.
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None
        await self._stop_web()
        if self.intake is not None:
            await self.intake.drain()

    async def _stop_web(self) -> None:
        if self._web is not None:
            # Stops listening, then waits for the requests being handled.
            await self._web.cleanup()
            self._web = None
