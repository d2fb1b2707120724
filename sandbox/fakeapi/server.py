"""A fake Telegram Bot API server (aiohttp) that python-telegram-bot talks to unchanged.

It exists so the whole bot can be exercised end to end without the network: the same HTTP
shapes, the same error descriptions and status codes, the same rate limits, plus injectable
faults (latency, 502s, hanging requests) that a broadcast must survive in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Self

import aiohttp
from aiohttp import web

from sandbox.fakeapi.core import Subscriber
from sandbox.fakeapi.files import FileStore
from sandbox.fakeapi.menus import ChatExtras
from sandbox.fakeapi.models import (
    FaultConfig,
    ServerEvent,
    Stats,
)
from sandbox.fakeapi.protocol import FAULT_EXEMPT, JSON, MESSAGE_METHODS, ApiError, _bad
from sandbox.fakeapi.rates import _ARRIVAL

__all__ = ["ApiError", "FakeTelegram"]


log = logging.getLogger(__name__)


def _bot_json(token: str, username: str, first_name: str) -> JSON:
    """The bot's own User object, as getMe answers it."""
    bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": first_name,
        "username": username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


class FakeTelegram(ChatExtras):
    """The fake Bot API: start it, point PTB's base_url at it, drive users, assert screens."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "essaim_bot",
        bot_first_name: str = "Essaim",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        global_per_second: float | None = None,
        per_chat_per_second: float | None = None,
        paid_broadcast_per_second: float | None = None,
        latency: float = 0.0,
        error_rate_5xx: float = 0.0,
        timeout_rate: float = 0.0,
        timeout_delay: float = 5.0,
        deliver_on_timeout: bool = False,
        callback_query_ttl: float = 15.0,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.05,
        webhook_connections: int = 1,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.bot_json = _bot_json(token, bot_username, bot_first_name)
        self.config = FaultConfig(
            global_per_second=global_per_second,
            per_chat_per_second=per_chat_per_second,
            paid_broadcast_per_second=paid_broadcast_per_second,
            latency=latency,
            error_rate_5xx=error_rate_5xx,
            timeout_rate=timeout_rate,
            timeout_delay=timeout_delay,
            deliver_on_timeout=deliver_on_timeout,
        )
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.files = FileStore()
        self.callback_query_ttl = callback_query_ttl
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_connections = webhook_connections
        self.webhook_dropped = 0

        self._init_users()
        self._init_menus()
        self._init_updates()
        self._init_rates()
        self._subscribers: list[Subscriber] = []
        self._event_queue: asyncio.Queue[ServerEvent] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._methods = self._method_table()
        self._gate: asyncio.Event | None = None
        self.held = 0
        """Requests waiting at the gate (see `hold`)."""

    def _method_table(self) -> dict[str, Callable[[JSON], Any]]:
        """Bot API method (lower case, as Telegram matches it) -> its implementation."""
        return {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendmediagroup": self._send_media_group,
            "sendvoice": self._send_voice,
            "sendlocation": self._send_location,
            "copymessage": self._copy_message,
            "getfile": self._get_file,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendchataction": self._send_chat_action,
            "logout": lambda _p: True,
            "close": lambda _p: True,
        }

    # ================================================================== lifecycle
    async def start(self) -> None:
        """Bind the HTTP server (port 0 picks a free port) and start background tasks."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._add_control_routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.25
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._closing = False
        self._event_queue = asyncio.Queue()
        self._dispatch_task = asyncio.create_task(self._dispatch_loop())
        if self._webhook_url:
            self._start_webhook_task()

    async def stop(self) -> None:
        """Release waiting long polls, stop background tasks and close the socket."""
        self._closing = True
        if self._poller is not None:
            self._poller.event.set()
        for task in (self._webhook_task, self._dispatch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._webhook_task = self._dispatch_task = None
        for pending in self._queries.values():
            pending.future.cancel()
        self._queries.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Pass to PTB as base_url: PTB appends the token and the method name."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass to PTB as base_file_url for File.download_*."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def control_url(self) -> str:
        """Root of the /_control/ HTTP API used by out-of-process benchmarks."""
        return f"http://{self.host}:{self.port}/_control"

    def configure(self, **changes: Any) -> None:
        """Change limits and faults at run time (same names as the constructor kwargs)."""
        self.config.update(**changes)

    def hold(self) -> None:
        """Hold every request that would put a message in a chat before it reaches
        "Telegram", until `release`: a test stalls a broadcast without a clock. A held
        request whose client gave up meanwhile is dropped unseen, as if it never arrived."""
        if self._gate is None:
            self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    def reseed(self, seed: int) -> None:
        """Restart the fault dice so a scenario can be replayed identically."""
        self.rng.seed(seed)

    async def wait_until(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        interval: float = 0.01,
        message: str = "",
    ) -> None:
        """Poll a condition (sync or async) until true; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if loop.time() >= deadline:
                raise AssertionError(message or f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    # ============================================================= HTTP plumbing
    async def _read_params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                post = await request.post()
                for key, value in post.items():
                    params[key] = value
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        # Telegram counts a message when it arrives; the latency below stands for the way
        # back. Stamping after the sleep would add the event loop's timer jitter, which
        # bunches requests that arrived evenly spaced.
        _ARRIVAL.set(time.monotonic())
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        name = request.match_info["method"]
        key = name.lower()
        self.stats.method_counts[name] += 1
        impl = self._methods.get(key)
        if impl is None:
            return ApiError(404, "Not Found").response()
        if self.config.refuse_connections and key not in FAULT_EXEMPT:
            self.stats.refused += 1
            return self._drop(request)
        try:
            params = await self._read_params(request)
        except (ValueError, aiohttp.ClientError) as exc:
            return _bad(f"can't parse request body: {exc}").response()
        config = self.config
        if config.latency > 0:
            await asyncio.sleep(config.latency)
        if self._gate is not None and key in MESSAGE_METHODS:
            await self._wait_at_gate(request, self._gate)
        hang = False
        if key not in FAULT_EXEMPT:
            if config.error_rate_5xx and self.rng.random() < config.error_rate_5xx:
                self.stats.server_errors += 1
                return ApiError(502, "Bad Gateway").response()
            if config.timeout_rate and self.rng.random() < config.timeout_rate:
                hang = True
                self.stats.timeouts += 1
                if not config.deliver_on_timeout:
                    return await self._hang_and_drop(request)
        try:
            try:
                result = impl(params)
                if asyncio.iscoroutine(result):
                    result = await result
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                # Malformed parameter values: Telegram answers 400, never 500.
                raise _bad(f"invalid parameters: {exc}") from exc
        except ApiError as error:
            if error.code == 429:
                self.stats.too_many_requests += 1
            else:
                self.stats.client_errors += 1
            if hang:
                return await self._hang_and_drop(request)
            return error.response()
        if hang:
            return await self._hang_and_drop(request)
        return web.json_response({"ok": True, "result": result})

    async def _wait_at_gate(self, request: web.Request, gate: asyncio.Event) -> None:
        self.held += 1
        try:
            await gate.wait()
        finally:
            self.held -= 1
        transport = request.transport
        if transport is None or transport.is_closing():
            self._drop(request)  # the client gave up while it was held: it never arrived

    async def _hang_and_drop(self, request: web.Request) -> web.StreamResponse:
        """Simulate a request that never gets an answer: wait, then cut the connection."""
        await asyncio.sleep(self.config.timeout_delay)
        return self._drop(request)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Cut the connection without writing anything back."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # aiohttp drops the handler without writing anything

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        record = self.files.by_path.get(request.match_info["path"])
        if record is None:
            return ApiError(404, "Not Found").response()
        return web.Response(
            body=record.data, content_type=record.mime_type or "application/octet-stream"
        )

    # =========================================================== shared checks

    # ================================================================= methods
    def _get_me(self, _params: JSON) -> JSON:
        return self.bot_json

    # ============================================================ control API
    def _add_control_routes(self, app: web.Application) -> None:
        from sandbox.fakeapi.control import add_control_routes

        add_control_routes(app, self)
