"""How updates reach the bot: the getUpdates long poll (one at a time, offsets confirm)
or the webhook, pushed one by one and retried like Telegram does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import islice

import aiohttp

from sandbox.fakeapi.models import CallbackAnswer, ChatMessage
from sandbox.fakeapi.people import UserDirectory
from sandbox.fakeapi.protocol import (
    _SECRET_RE,
    JSON,
    WEBHOOK_CONFLICT,
    ApiError,
    _as_bool,
    _as_json,
    _bad,
)


@dataclass(slots=True)
class _Poller:
    """The single getUpdates long poll allowed at a time; a newer one terminates it."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass(slots=True)
class _PendingQuery:
    future: asyncio.Future[CallbackAnswer]
    created: float


class UpdateDelivery(UserDirectory):
    """Part of FakeTelegram: queued updates, getUpdates, setWebhook and the webhook pusher."""

    def _init_updates(self) -> None:
        self._updates: deque[JSON] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poller: _Poller | None = None
        self._queries: dict[str, _PendingQuery] = {}
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_last_error: tuple[int, str] | None = None

    def push_update(
        self, update: JSON, chat_id: int | None = None, view: ChatMessage | None = None
    ) -> int:
        """Queue an update for getUpdates or the webhook; returns its update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        kind = next(iter(update))
        if self._allowed_updates and kind not in self._allowed_updates:
            return update_id
        update = {"update_id": update_id, **update}
        self._updates.append(update)
        if self._poller is not None:
            self._poller.event.set()
        self._webhook_wake.set()
        if self._subscribers:
            payload: JSON = {"update_id": update_id, "type": kind}
            if view is not None:
                payload["message"] = view.to_json()
            elif kind == "callback_query":
                payload["data"] = update[kind].get("data")
            self._emit("user_" + kind, chat_id, payload)
        return update_id

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (getUpdates offset) or delivered by webhook."""
        return len(self._updates)

    def expect_answer(self, query_id: str) -> asyncio.Future[CallbackAnswer]:
        """Register a callback query so answerCallbackQuery can resolve it."""
        future: asyncio.Future[CallbackAnswer] = asyncio.get_running_loop().create_future()
        self._queries[query_id] = _PendingQuery(future, time.monotonic())
        return future

    def forget_query(self, query_id: str) -> None:
        """The user gave up waiting: a late answer now gets "query is too old"."""
        pending = self._queries.pop(query_id, None)
        if pending is not None and not pending.future.done():
            pending.future.cancel()

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = _as_json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
        poller = _Poller()
        self._poller = poller
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if offset < 0:
                    batch = list(updates)[offset:][:limit]
                else:
                    batch = list(islice(updates, limit))
                remaining = deadline - loop.time()
                if batch or self._closing or remaining <= 0:
                    return batch
                poller.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.event.wait(), remaining)
                if self._webhook_url:
                    raise ApiError(409, WEBHOOK_CONFLICT)
                if poller.terminated:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
        finally:
            if self._poller is poller:
                self._poller = None

    def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        allowed = _as_json(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(a) for a in allowed]
        self._webhook_url = url
        self._webhook_secret = str(secret) if secret else None
        self._webhook_last_error = None
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
        self._start_webhook_task()
        return True

    def _delete_webhook(self, params: JSON) -> bool:
        if _as_bool(params.get("drop_pending_updates")):
            self._updates.clear()
        self._webhook_url = ""
        self._webhook_secret = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        return True

    def _get_webhook_info(self, _params: JSON) -> JSON:
        info: JSON = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook_url:
            info["max_connections"] = 40
            if self._allowed_updates:
                info["allowed_updates"] = self._allowed_updates
        if self._webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _start_webhook_task(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
        if self.webhook_connections > 1:
            self._webhook_task = asyncio.create_task(self._webhook_pool(self._webhook_url))
        else:
            self._webhook_task = asyncio.create_task(self._webhook_loop(self._webhook_url))

    async def _webhook_pool(self, url: str) -> None:
        """Like Telegram's `max_connections`: several requests at once, each update taken
        off the queue while it is pushed (and put back first if it must be tried again)."""
        headers = {}
        if self._webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(
                *(
                    self._webhook_pusher(session, url, headers)
                    for _ in range(self.webhook_connections)
                )
            )

    async def _webhook_pusher(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]
    ) -> None:
        while self._webhook_url == url:
            if not self._updates:
                self._webhook_wake.clear()
                await self._webhook_wake.wait()
                continue
            update = self._updates.popleft()
            for attempt in range(1, self.webhook_max_attempts + 1):
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        await response.read()
                        if 200 <= response.status < 300:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                self._webhook_last_error = (int(time.time()), "Wrong response from the webhook")
                await asyncio.sleep(self.webhook_retry_delay * attempt)
            else:
                self.webhook_dropped += 1

    async def _webhook_loop(self, url: str) -> None:
        """Push updates one by one like Telegram; retry failures, then give up on one."""
        headers = {}
        if self._webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            attempts = 0
            while self._webhook_url == url:
                if not self._updates:
                    self._webhook_wake.clear()
                    await self._webhook_wake.wait()
                    continue
                update = self._updates[0]
                error = ""
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        await response.read()
                        if not 200 <= response.status < 300:
                            error = (
                                f"Wrong response from the webhook: {response.status} "
                                f"{response.reason}"
                            )
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"Connection failed: {exc.__class__.__name__}"
                if not error:
                    attempts = 0
                    if self._updates and self._updates[0] is update:
                        self._updates.popleft()
                    continue
                attempts += 1
                self._webhook_last_error = (int(time.time()), error)
                if attempts >= self.webhook_max_attempts:
                    attempts = 0
                    self.webhook_dropped += 1
                    if self._updates and self._updates[0] is update:
                        self._updates.popleft()
                    continue
                await asyncio.sleep(self.webhook_retry_delay * attempts)
