"""A fake Telegram Bot API server (aiohttp) that python-telegram-bot talks to unchanged.

It exists so the whole bot can be exercised end to end without the network: the same HTTP
shapes, the same error descriptions and status codes, the same rate limits, plus injectable
faults (latency, 502s, hanging requests) that a broadcast must survive in production.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import json
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Self

import aiohttp
from aiohttp import web

from sandbox.fakeapi.files import FileRecord, FileStore
from sandbox.fakeapi.html_check import EntityParseError, parse_text, utf16_len
from sandbox.fakeapi.models import (
    CallbackAnswer,
    ChatEvent,
    ChatMessage,
    FaultConfig,
    ServerEvent,
    Stats,
)
from sandbox.fakeapi.users import FakeUser

__all__ = ["ApiError", "FakeTelegram"]

_ARRIVAL: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "fakeapi_arrival", default=None
)


def _stamp(window: deque[float], at: float) -> None:
    """Keep a window sorted: requests are stamped on arrival but may be checked a little
    out of order (they all wait the same latency first)."""
    if window and at < window[-1]:
        bisect.insort(window, at)
    else:
        window.append(at)


log = logging.getLogger(__name__)

JSON = dict[str, Any]
Subscriber = Callable[[ServerEvent], Awaitable[None]]

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Methods that put (or change) a message in a chat: these consume rate-limit budget.
MESSAGE_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendvoice",
        "sendlocation",
        "copymessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "editmessagecaption",
    }
)
# Faults are injected on the bot's outgoing actions, not on polling or setup, so that a test of
# "broadcast under 502s" does not also have to survive a broken getUpdates loop.
FAULT_EXEMPT = frozenset(
    {
        "getme",
        "getupdates",
        "setwebhook",
        "deletewebhook",
        "getwebhookinfo",
        "setmycommands",
        "getmycommands",
        "deletemycommands",
        "getfile",
        "logout",
        "close",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ApiError(Exception):
    """An error answer, carrying exactly what Telegram would put in the JSON body."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.code)


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _as_int(value: Any, name: str) -> int:
    if value is None or value == "":
        raise _bad(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _as_json(params: JSON, name: str) -> Any:
    """PTB JSON-encodes every non-string form value; JSON bodies carry them natively."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise _bad("can't parse reply keyboard markup JSON object") from None
            raise _bad(f"can't parse {name} JSON object") from None
    return value


@dataclass(slots=True)
class _Markup:
    """A validated reply_markup: what goes into the Message and what changes the user's UI."""

    inline: JSON | None = None
    keyboard: list[list[str]] | None = None
    remove_keyboard: bool = False


@dataclass(slots=True)
class _Poller:
    """The single getUpdates long poll allowed at a time; a newer one terminates it."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    terminated: bool = False


@dataclass(slots=True)
class _PendingQuery:
    future: asyncio.Future[CallbackAnswer]
    created: float


class FakeTelegram:
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
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_json: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
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
        self.webhook_dropped = 0

        self._users: dict[int, FakeUser] = {}
        self._lazy_ids: set[int] = set()
        self._lazy_ranges: list[range] = []
        self._by_username: dict[str, int] = {}
        self._updates: deque[JSON] = deque()
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poller: _Poller | None = None
        self._queries: dict[str, _PendingQuery] = {}
        self._commands: dict[tuple[str, int, str], list[JSON]] = {}
        self._global_window: deque[float] = deque()  # free messages
        self._overall_window: deque[float] = deque()  # all messages, when paid is enabled
        self._chat_windows: dict[int, deque[float]] = {}
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._subscribers: list[Subscriber] = []
        self._event_queue: asyncio.Queue[ServerEvent] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._methods: dict[str, Callable[[JSON], Any]] = {
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

    def reseed(self, seed: int) -> None:
        """Restart the fault dice so a scenario can be replayed identically."""
        self.rng.seed(seed)

    # ====================================================================== users
    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> FakeUser:
        """Create (or return the existing) user; their private chat exists from now on."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user = FakeUser(
            self,
            user_id,
            first_name or f"User{user_id}",
            username=username,
            last_name=last_name,
            language_code=language_code,
            is_premium=is_premium,
        )
        self._users[user_id] = user
        self._lazy_ids.discard(user_id)
        if username:
            self._by_username[username.lower()] = user_id
        return user

    def add_users(self, user_ids: Iterable[int]) -> int:
        """Declare many chats cheaply; user objects are only built when first touched."""
        if isinstance(user_ids, range):
            self._lazy_ranges.append(user_ids)
            return len(user_ids)
        ids = set(user_ids)
        self._lazy_ids.update(ids)
        return len(ids)

    def get_user(self, user_id: int) -> FakeUser | None:
        """Return the user if the chat exists (materializing bulk users on demand)."""
        user = self._users.get(user_id)
        if user is not None:
            return user
        if user_id in self._lazy_ids or any(user_id in r for r in self._lazy_ranges):
            return self.user(user_id)
        return None

    @property
    def users(self) -> list[FakeUser]:
        """Users materialized so far (bulk users appear once touched)."""
        return list(self._users.values())

    def commands_for(self, user: FakeUser) -> list[tuple[str, str]]:
        """Resolve the menu like Telegram: chat > all_private_chats > default, language first."""
        lang = user.language_code or ""
        keys = [
            ("chat", user.id, lang),
            ("chat", user.id, ""),
            ("all_private_chats", 0, lang),
            ("all_private_chats", 0, ""),
            ("default", 0, lang),
            ("default", 0, ""),
        ]
        for key in keys:
            commands = self._commands.get(key)
            if commands:
                return [(c["command"], c["description"]) for c in commands]
        return []

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

    # ============================================================ subscriptions
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register an async callback for every event; returns an unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, kind: str, chat_id: int | None, payload: JSON) -> None:
        if self._subscribers and self._event_queue is not None:
            self._event_queue.put_nowait(ServerEvent(kind, chat_id, payload))

    async def _dispatch_loop(self) -> None:
        """Deliver events in order, one at a time, so a slow UI never blocks the API."""
        assert self._event_queue is not None
        while True:
            event = await self._event_queue.get()
            for callback in list(self._subscribers):
                try:
                    await callback(event)
                except Exception:
                    log.exception("subscriber %r failed on %s", callback, event.kind)

    # ==================================================================== updates
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
    def _chat(self, params: JSON, name: str = "chat_id") -> FakeUser:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad(f"{name} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            user_id = self._by_username.get(raw[1:].lower())
            user = self._users.get(user_id) if user_id is not None else None
        else:
            try:
                user = self.get_user(int(raw))
            except (TypeError, ValueError):
                user = None
        if user is None:
            raise _bad("chat not found")
        return user

    def _writable_chat(self, params: JSON) -> FakeUser:
        user = self._chat(params)
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if user.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        return user

    @staticmethod
    def _window(rate: float) -> tuple[int, float]:
        """A rate as (max events, window seconds): 30/s -> (30, 1s), 0.5/s -> (1, 2s)."""
        if rate >= 1:
            return int(rate), 1.0
        return 1, 1.0 / rate

    @staticmethod
    def _retry_after(window: deque[float], rate: float, now: float) -> int:
        count, span = FakeTelegram._window(rate)
        cutoff = now - span
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) < count:
            return 0
        expires = window[len(window) - count] + span
        return max(1, math.ceil(expires - now))

    def _check_rate(self, chat_id: int, paid: bool) -> None:
        """Refuse with 429 when a sliding one-second window is full; else consume.

        Free messages may not exceed `global_per_second`; when paid broadcasts are enabled,
        paid messages skip that limit but every message, free or paid, counts against
        `paid_broadcast_per_second` (Telegram's overall ceiling for a paying bot).
        """
        config = self.config
        now = _ARRIVAL.get() or time.monotonic()
        paid_rate = config.paid_broadcast_per_second
        free = not (paid and paid_rate)
        free_rate = config.global_per_second if free else None
        wait = 0
        if free_rate:
            wait = self._retry_after(self._global_window, free_rate, now)
        if paid_rate:
            wait = max(wait, self._retry_after(self._overall_window, paid_rate, now))
        chat_rate = config.per_chat_per_second
        chat_window: deque[float] | None = None
        if chat_rate:
            chat_window = self._chat_windows.get(chat_id)
            if chat_window is None:
                chat_window = self._chat_windows[chat_id] = deque()
            wait = max(wait, self._retry_after(chat_window, chat_rate, now))
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for window, counted in (
            (self._global_window, bool(free_rate)),
            (self._overall_window, bool(paid_rate)),
            (chat_window, chat_window is not None),
        ):
            if counted and window is not None:
                _stamp(window, now)

    @staticmethod
    def _body(params: JSON, field_name: str, limit: int, required: bool) -> tuple[str, list[JSON]]:
        raw = params.get(field_name)
        if raw is None or raw == "":
            if required:
                raise _bad("message text is empty")
            return "", []
        if not isinstance(raw, str):
            raw = str(raw)
        entities_name = "entities" if field_name == "text" else "caption_entities"
        given = _as_json(params, entities_name)
        parse_mode = params.get("parse_mode")
        if parse_mode and str(parse_mode).lower() not in PARSE_MODES:
            raise _bad("unsupported parse_mode")
        try:
            visible, entities = parse_text(raw, params.get("parse_mode"), given)
        except EntityParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        if required and not visible:
            raise _bad("message text is empty")
        if utf16_len(visible) > limit:
            raise _bad(
                "message is too long" if field_name == "text" else "message caption is too long"
            )
        return visible, entities

    @staticmethod
    def _markup(params: JSON) -> _Markup:
        obj = _as_json(params, "reply_markup")
        if obj is None:
            return _Markup()
        if not isinstance(obj, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in obj:
            rows = obj["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse inline keyboard markup JSON object")
            clean_rows: list[list[JSON]] = []
            for row in rows:
                clean_row: list[JSON] = []
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise _bad(
                            'can\'t parse inline keyboard button: Field "text" must be '
                            "of type String"
                        )
                    if not button["text"]:
                        raise _bad("BUTTON_TEXT_EMPTY")
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                            raise _bad("BUTTON_DATA_INVALID")
                    elif "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not url.startswith(
                            ("http://", "https://", "tg://")
                        ):
                            raise _bad("BUTTON_URL_INVALID")
                    elif not any(
                        k in button
                        for k in (
                            "web_app",
                            "login_url",
                            "switch_inline_query",
                            "pay",
                            "switch_inline_query_current_chat",
                            "callback_game",
                            "switch_inline_query_chosen_chat",
                            "copy_text",
                        )
                    ):
                        raise _bad(
                            "can't parse inline keyboard button: Text buttons are "
                            "unallowed in the inline keyboard"
                        )
                    clean_row.append(button)
                if clean_row:
                    clean_rows.append(clean_row)
            return _Markup(inline={"inline_keyboard": clean_rows} if clean_rows else None)
        if "keyboard" in obj:
            rows = obj["keyboard"]
            if not isinstance(rows, list):
                raise _bad("can't parse reply keyboard markup JSON object")
            keyboard = [
                [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
                for row in rows
                if isinstance(row, list)
            ]
            return _Markup(keyboard=keyboard)
        if obj.get("remove_keyboard"):
            return _Markup(remove_keyboard=True)
        return _Markup()

    def _base_message(self, user: FakeUser) -> JSON:
        return {
            "message_id": user._take_message_id(),
            "from": self.bot_json,
            "chat": user.chat_json(),
            "date": int(time.time()),
        }

    def _reply_target(self, params: JSON, user: FakeUser) -> JSON | None:
        """Attach reply_to_message like Telegram, refusing replies to unknown messages."""
        reply = _as_json(params, "reply_parameters")
        if isinstance(reply, dict):
            target, allow = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            target = params.get("reply_to_message_id")
            allow = params.get("allow_sending_without_reply")
        if target in (None, ""):
            return None
        original = user._raw.get(int(target))
        if original is None and not _as_bool(allow):
            raise _bad("message to be replied not found")
        if original is None:
            return None
        # Telegram never nests a reply inside a reply.
        return {k: v for k, v in original.items() if k != "reply_to_message"}

    def _view(self, raw: JSON, html: str, parse_mode: str | None, edited: bool) -> ChatMessage:
        """Turn the Message JSON the bot got back into what the user's app displays."""
        buttons: list[list[str]] = []
        button_data: dict[str, str] = {}
        button_urls: dict[str, str] = {}
        markup = raw.get("reply_markup")
        if markup:
            for row in markup["inline_keyboard"]:
                buttons.append([b["text"] for b in row])
                for b in row:
                    if "callback_data" in b:
                        button_data[b["text"]] = b["callback_data"]
                    elif "url" in b:
                        button_urls[b["text"]] = b["url"]
        photo = raw["photo"][-1]["file_id"] if "photo" in raw else None
        document = None
        if "document" in raw:
            record = self.files.by_id.get(raw["document"]["file_id"])
            document = (raw["document"].get("file_name", ""), record.data if record else b"")
        kind = next(
            (k for k in ("text", "photo", "document", "sticker", "voice", "location") if k in raw),
            "text",
        )
        location = raw.get("location")
        return ChatMessage(
            message_id=raw["message_id"],
            text=raw.get("text", ""),
            html=html,
            buttons=buttons,
            button_data=button_data,
            button_urls=button_urls,
            photo=photo,
            document=document,
            caption=raw.get("caption"),
            edited=edited,
            date=int(raw["edit_date"] if "edit_date" in raw else raw["date"]),
            from_bot=True,
            parse_mode=parse_mode,
            entities=raw.get("entities") or raw.get("caption_entities") or [],
            kind=kind,
            location=(location["latitude"], location["longitude"]) if location else None,
        )

    def _publish(
        self,
        user: FakeUser,
        raw: JSON,
        html: str,
        parse_mode: str | None,
        markup: _Markup | None,
        edited: bool = False,
    ) -> ChatMessage:
        """Show a new or edited bot message on the user's screen and count the delivery."""
        view = self._view(raw, html, parse_mode, edited)
        if markup is not None:
            if markup.keyboard is not None:
                user.reply_keyboard = markup.keyboard
            elif markup.remove_keyboard:
                user.reply_keyboard = None
        user._bot_message(raw, view, edited)
        if not edited:
            stats = self.stats
            stats.delivered += 1
            stats.delivery_times.append(time.monotonic())
            stats.delivered_chat_ids.append(user.id)
        if self._subscribers:
            self._emit("edit" if edited else "message", user.id, view.to_json())
            self._emit("delivery", user.id, {"delivered": self.stats.delivered})
        return view

    def _upload(self, params: JSON, name: str) -> tuple[bytes, str | None, str | None] | None:
        """Return (bytes, filename, mime) if the param is an upload, None if it is a string."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if value is None:
                raise _bad(f"wrong HTTP URL specified for {name}")
        if isinstance(value, web.FileField):
            return value.file.read(), value.filename, value.content_type
        if isinstance(value, bytes | bytearray):
            return bytes(value), None, None
        return None

    # ================================================================= methods
    def _get_me(self, _params: JSON) -> JSON:
        return self.bot_json

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
        self._webhook_task = asyncio.create_task(self._webhook_loop(self._webhook_url))

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

    def _send_message(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        text, entities = self._body(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        raw["text"] = text
        if entities:
            raw["entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        preview = _as_json(params, "link_preview_options")
        if isinstance(preview, dict) and preview:
            raw["link_preview_options"] = preview
        elif _as_bool(params.get("disable_web_page_preview")):
            raw["link_preview_options"] = {"is_disabled": True}
        self._publish(user, raw, str(params["text"]), params.get("parse_mode"), markup)
        return raw

    def _editable(self, params: JSON, user: FakeUser) -> tuple[JSON, ChatMessage]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        message_id = _as_int(params.get("message_id"), "message_id")
        view = user._screen.get(message_id)
        raw = user._raw.get(message_id)
        if raw is None:
            raise _bad("message to edit not found")
        if view is None:
            raise _bad("message can't be edited")
        return raw, view

    def _edited(self, raw: JSON, markup: _Markup) -> JSON:
        new = dict(raw)
        new["edit_date"] = int(time.time())
        if markup.inline:
            new["reply_markup"] = markup.inline
        else:
            new.pop("reply_markup", None)
        return new

    def _edit_message_text(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, _view = self._editable(params, user)
        if "text" not in raw:
            raise _bad("there is no text in the message to edit")
        text, entities = self._body(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        if (
            text == raw["text"]
            and entities == raw.get("entities", [])
            and markup.inline == raw.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        self._publish(user, new, str(params["text"]), params.get("parse_mode"), None, True)
        return new

    def _edit_message_caption(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, _view = self._editable(params, user)
        if "text" in raw:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        if (
            caption == raw.get("caption", "")
            and entities == raw.get("caption_entities", [])
            and markup.inline == raw.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        new.pop("caption", None)
        new.pop("caption_entities", None)
        if caption:
            new["caption"] = caption
        if entities:
            new["caption_entities"] = entities
        html = str(params.get("caption") or "")
        self._publish(user, new, html, params.get("parse_mode"), None, True)
        return new

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, view = self._editable(params, user)
        markup = self._markup(params)
        if markup.inline == raw.get("reply_markup"):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        self._publish(user, new, view.html, view.parse_mode, None, True)
        return new

    def _delete_message(self, params: JSON) -> bool:
        user = self._chat(params)
        message_id = _as_int(params.get("message_id"), "message_id")
        if message_id not in user._raw:
            raise _bad("message to delete not found")
        if message_id in user._screen:
            user._bot_deleted(message_id)
        else:
            user._raw.pop(message_id, None)
            user.events.append(ChatEvent("deleted"))
        if self._subscribers:
            self._emit("delete", user.id, {"message_id": message_id})
        return True

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        pending = self._queries.pop(query_id, None)
        if (
            pending is None
            or pending.future.done()
            or time.monotonic() - pending.created > self.callback_query_ttl
        ):
            raise _bad(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=query_id,
            text=str(text) if text else None,
            show_alert=_as_bool(params.get("show_alert")),
            url=str(params["url"]) if params.get("url") else None,
            cache_time=int(params.get("cache_time") or 0),
        )
        pending.future.set_result(answer)
        if self._subscribers:
            self._emit(
                "answer",
                None,
                {"query_id": query_id, "text": answer.text, "show_alert": answer.show_alert},
            )
        return True

    def _media(self, params: JSON, name: str, user: FakeUser) -> tuple[JSON, list[JSON] | None]:
        """Resolve an uploaded or referenced file into a Document dict or PhotoSize list."""
        upload = self._upload(params, name)
        if upload is not None:
            data, filename, mime = upload
            if name == "photo":
                return {}, self.files.photo_sizes(data)
            file_name = filename or "document"
            return self.files.document(data, file_name, mime), None
        ref = params.get(name)
        if not ref:
            raise _bad(f"there is no {name} in the request")
        ref = str(ref)
        if name == "photo" and ref in self.files.photo_sets:
            return {}, self.files.photo_sets[ref]
        record: FileRecord | None = self.files.by_id.get(ref)
        if record is None and ref.startswith(("http://", "https://")):
            from sandbox.fakeapi.users import FAKE_JPEG

            if name == "photo":
                return {}, self.files.photo_sizes(FAKE_JPEG)
            file_name = ref.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self.files.document(FAKE_JPEG, file_name, None), None
        if record is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if name == "photo":
            return {}, self.files.photo_sets.get(ref) or [
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "width": 800,
                    "height": 800,
                    "file_size": len(record.data),
                }
            ]
        return self.files.document_json(record), None

    def _send_media(self, params: JSON, name: str) -> JSON:
        user = self._writable_chat(params)
        caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        document, photo = self._media(params, name, user)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        if photo is not None:
            raw["photo"] = photo
        elif name == "voice":
            raw["voice"] = {**document, "duration": int(params.get("duration") or 1)}
        else:
            raw["document"] = document
        if caption:
            raw["caption"] = caption
        if entities:
            raw["caption_entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        html = str(params.get("caption") or "")
        self._publish(user, raw, html, params.get("parse_mode"), markup)
        return raw

    def _send_photo(self, params: JSON) -> JSON:
        return self._send_media(params, "photo")

    def _send_document(self, params: JSON) -> JSON:
        return self._send_media(params, "document")

    def _send_voice(self, params: JSON) -> JSON:
        return self._send_media(params, "voice")

    def _send_location(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        point = {}
        for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
            try:
                value = float(params.get(name))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise _bad(f"{name} is empty") from None
            if not -bound <= value <= bound:
                raise _bad(f"wrong {name} specified")
            point[name] = value
        markup = self._markup(params)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        raw["location"] = point
        if markup.inline:
            raw["reply_markup"] = markup.inline
        self._publish(user, raw, "", None, markup)
        return raw

    def _copy_message(self, params: JSON) -> JSON:
        source = self._chat(params, "from_chat_id")
        message_id = _as_int(params.get("message_id"), "message_id")
        original = source._raw.get(message_id)
        if original is None:
            raise _bad("message to copy not found")
        user = self._writable_chat(params)
        markup = self._markup(params)
        raw = self._base_message(user)
        for key in (
            "text",
            "entities",
            "photo",
            "document",
            "sticker",
            "voice",
            "location",
            "caption",
            "caption_entities",
        ):
            if key in original:
                raw[key] = original[key]
        if "caption" in params:
            caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
            raw.pop("caption", None)
            raw.pop("caption_entities", None)
            if caption:
                raw["caption"] = caption
            if entities:
                raw["caption_entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        source_view = source._screen.get(message_id)
        html = source_view.html if source_view else str(original.get("text", ""))
        self._publish(user, raw, html, None, markup)
        return {"message_id": raw["message_id"]}

    def _get_file(self, params: JSON) -> JSON:
        record = self.files.by_id.get(str(params.get("file_id") or ""))
        if record is None:
            raise _bad("invalid file_id")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }

    def _command_key(self, params: JSON) -> tuple[str, int, str]:
        scope = _as_json(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        chat_id = 0
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat_id = self._chat(scope).id
        elif kind not in {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
        }:
            raise _bad("wrong bot command scope type specified")
        return kind, chat_id, str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSON) -> bool:
        commands = _as_json(params, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        clean: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", ""))
            if not _COMMAND_RE.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        if len(clean) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        key = self._command_key(params)
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return list(self._commands.get(self._command_key(params), []))

    def _delete_my_commands(self, params: JSON) -> bool:
        self._commands.pop(self._command_key(params), None)
        return True

    def _send_chat_action(self, params: JSON) -> bool:
        user = self._writable_chat(params)
        action = str(params.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        if self._subscribers:
            self._emit("chat_action", user.id, {"action": action})
        return True

    # ============================================================ control API
    def _add_control_routes(self, app: web.Application) -> None:
        from sandbox.fakeapi.control import add_control_routes

        add_control_routes(app, self)
