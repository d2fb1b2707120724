"""The sandbox page's HTTP side: static files, a small JSON API and a server-sent event stream.

The page never talks to the bot: it acts as the phones' owners through the fake Bot API's
users (send, press, send a photo) and shows what the bot drew on their screens. Live changes
come from `FakeTelegram.subscribe` and are fanned out to every open page over SSE.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.fakeapi import ChatMessage, FakeUser, ServerEvent
from storage.outbox import OutboxRepository

if TYPE_CHECKING:
    from sandbox.launcher import Sandbox

WEB_DIR = Path(__file__).with_name("web")
SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox")
CLIENTS_KEY: web.AppKey[set[asyncio.Queue[str]]] = web.AppKey("clients")
MAX_TEXT = 4096
MAX_PHOTO = 10 * 1024 * 1024
STATS_EVERY = 1.0
CLOCK_STEPS = {"hour": 3600, "day": 86_400, "fortnight": 14 * 86_400}
BULK_COUNT = 2000


def message_json(message: ChatMessage) -> dict[str, Any]:
    data = message.to_json()
    # The page downloads documents through /api/phones/{id}/document/{message_id}.
    return data


def transcript(user: FakeUser) -> list[dict[str, Any]]:
    """Both directions of the chat, in order, with edits applied and deletions removed."""
    shown: dict[int, ChatMessage] = {}
    for event in user.events:
        message = event.message
        if message is None:
            continue
        if event.kind in {"sent", "received", "edited"}:
            shown[message.message_id] = message
        elif event.kind == "deleted":
            shown.pop(message.message_id, None)
    return [message_json(shown[mid]) for mid in sorted(shown)]


def phone_json(sandbox: Sandbox, user_id: int) -> dict[str, Any]:
    phone = next(p for p in sandbox.phones if p.user_id == user_id)
    user = sandbox.server.get_user(user_id)
    assert user is not None
    return {
        "id": user_id,
        "name": phone.name,
        "role": phone.role,
        "language": user.language_code or "fr",
        "messages": transcript(user),
        "commands": [{"command": c, "description": d} for c, d in user.commands],
    }


async def outbox_stats(sandbox: Sandbox) -> dict[str, Any]:
    stats = sandbox.server.stats
    now = time.monotonic()
    per_second = 0
    for stamp in reversed(stats.delivery_times):
        if now - stamp > 1.0:
            break
        per_second += 1
    queued, _oldest = await OutboxRepository(sandbox.services.db).queue_depth(sandbox.clock.now())
    return {
        "queued": queued,
        "per_second": per_second,
        "too_many_requests": stats.too_many_requests,
        "delivered": stats.delivered,
        "members_added": sandbox.bulk_added,
        "clock": sandbox.clock.now().isoformat(),
    }


def role_of(member: Any) -> str:
    """The label a phone wears: its member's highest role, as the bot knows it now."""
    if member is None:
        return "citizen"
    for flag, role in (
        ("is_coordinator", "coordinator"),
        ("is_technician", "technician"),
        ("is_ambassador", "ambassador"),
    ):
        if getattr(member, flag, False):
            return role
    return "citizen"


async def refresh_role(sandbox: Sandbox, user_id: int) -> str | None:
    """Read the phone's member again; the new role if it changed (porte-voix, invite...)."""
    phone = next((p for p in sandbox.phones if p.user_id == user_id), None)
    if phone is None:
        return None
    role = role_of(await sandbox.services.members.get(user_id))
    if role == phone.role:
        return None
    phone.role = role
    return role


def _phone_user(request: web.Request) -> tuple[Sandbox, FakeUser]:
    sandbox = request.app[SANDBOX_KEY]
    try:
        user_id = int(request.match_info["user_id"])
    except ValueError:
        raise web.HTTPNotFound(text="unknown phone") from None
    if not any(p.user_id == user_id for p in sandbox.phones):
        raise web.HTTPNotFound(text="unknown phone")
    user = sandbox.server.get_user(user_id)
    if user is None:
        raise web.HTTPNotFound(text="unknown phone")
    return sandbox, user


def _bad(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="JSON body expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="JSON object expected")
    return body


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def get_state(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    for phone in sandbox.phones:
        await refresh_role(sandbox, phone.user_id)
    return web.json_response(
        {
            "phones": [phone_json(sandbox, p.user_id) for p in sandbox.phones],
            "bot": sandbox.server.bot_json["username"],
            "outbox": await outbox_stats(sandbox),
        }
    )


async def get_phone(request: web.Request) -> web.Response:
    sandbox, user = _phone_user(request)
    return web.json_response(phone_json(sandbox, user.id))


async def post_send(request: web.Request) -> web.Response:
    _sandbox, user = _phone_user(request)
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return _bad("text is empty")
    if len(text) > MAX_TEXT:
        return _bad(f"text is longer than {MAX_TEXT} characters")
    message = await user.send(text)
    return web.json_response({"ok": True, "message": message_json(message)})


async def post_press(request: web.Request) -> web.Response:
    _sandbox, user = _phone_user(request)
    body = await _body(request)
    try:
        message_id = int(body["message_id"])
        data = str(body["data"])
    except (KeyError, TypeError, ValueError):
        return _bad("message_id and data are required")
    try:
        answer = await user.press_data(data, message_id, timeout=10.0)
    except AssertionError:
        return web.json_response({"ok": False, "error": "no answer"}, status=504)
    return web.json_response(
        {"ok": True, "text": answer.text, "show_alert": answer.show_alert, "url": answer.url}
    )


async def post_phone(request: web.Request) -> web.Response:
    """The "+" button: one more citizen, not yet onboarded."""
    from sandbox.demo import EXTRA_CITIZEN_FIRST_ID, FIRST_NAMES
    from sandbox.launcher import Phone

    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request) if request.body_exists else {}
    language = "en" if body.get("language") == "en" else "fr"
    extra = sum(1 for p in sandbox.phones if p.user_id >= EXTRA_CITIZEN_FIRST_ID)
    user_id = EXTRA_CITIZEN_FIRST_ID + extra
    name = FIRST_NAMES[extra % len(FIRST_NAMES)]
    sandbox.server.user(user_id, name, language_code=language)
    sandbox.phones.append(Phone(user_id, name, "citizen"))
    phone = phone_json(sandbox, user_id)
    _broadcast(request.app, "phone", phone)
    return web.json_response(phone)


async def post_language(request: web.Request) -> web.Response:
    """Every phone's Telegram reports this language from now on. The page's FR/EN switch no
    longer calls it (it changes the page's own texts only); kept for scripts and tests."""
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    language = "en" if body.get("language") == "en" else "fr"
    for phone in sandbox.phones:
        user = sandbox.server.get_user(phone.user_id)
        if user is not None:
            user.language_code = language
    return web.json_response({"ok": True, "language": language})


async def post_clock(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await _body(request)
    seconds = CLOCK_STEPS.get(str(body.get("step")))
    if seconds is None:
        return _bad(f"step must be one of {sorted(CLOCK_STEPS)}")
    now = await sandbox.advance_clock(seconds)
    _broadcast(request.app, "clock", {"clock": now.isoformat()})
    return web.json_response({"ok": True, "clock": now.isoformat()})


async def post_bulk(request: web.Request) -> web.Response:
    from sandbox.demo import add_bulk_members

    sandbox = request.app[SANDBOX_KEY]
    added = await add_bulk_members(sandbox, BULK_COUNT)
    return web.json_response({"ok": True, "added": added, "total": sandbox.bulk_added})


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(await outbox_stats(request.app[SANDBOX_KEY]))


async def get_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: message, edit, delete, phone, role, clock, stats."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=5000)
    clients = request.app[CLIENTS_KEY]
    clients.add(queue)
    try:
        await response.write(b"retry: 1000\n\n: connected\n\n")
        while True:
            chunk = await queue.get()
            await response.write(chunk.encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        clients.discard(queue)
    return response


def _broadcast(app: web.Application, kind: str, data: dict[str, Any]) -> None:
    chunk = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
    clients: set[asyncio.Queue[str]] = app[CLIENTS_KEY]
    for queue in tuple(clients):
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(chunk)


def _relay(app: web.Application, sandbox: Sandbox) -> Callable[[ServerEvent], Awaitable[None]]:
    """What the fake Bot API does in the phones' chats, fanned out to every open page."""

    def phone_ids() -> set[int]:
        return {p.user_id for p in sandbox.phones}

    async def on_event(event: ServerEvent) -> None:
        if event.chat_id is None or event.chat_id not in phone_ids():
            return
        user = sandbox.server.get_user(event.chat_id)
        commands = [{"command": c, "description": d} for c, d in user.commands] if user else []
        if event.kind in {"message", "edit"}:
            _broadcast(
                app,
                event.kind,
                {"phone": event.chat_id, "message": event.payload, "commands": commands},
            )
        elif event.kind == "user_message" and "message" in event.payload:
            _broadcast(
                app, "message", {"phone": event.chat_id, "message": event.payload["message"]}
            )
        elif event.kind == "delete":
            _broadcast(app, "delete", {"phone": event.chat_id, **event.payload})
        if event.kind in {"message", "edit"}:
            # A role changes with the bot's answer (porte-voix, invite accepted...).
            with contextlib.suppress(Exception):
                role = await refresh_role(sandbox, event.chat_id)
                if role is not None:
                    _broadcast(app, "role", {"phone": event.chat_id, "role": role})

    return on_event


def build_web_app(sandbox: Sandbox) -> web.Application:
    from sandbox.web_media import add_media_routes

    app = web.Application(client_max_size=MAX_PHOTO + 1024 * 1024)
    app[SANDBOX_KEY] = sandbox
    app[CLIENTS_KEY] = set()

    async def stats_loop() -> None:
        while True:
            await asyncio.sleep(STATS_EVERY)
            if app[CLIENTS_KEY]:
                with contextlib.suppress(Exception):
                    _broadcast(app, "stats", await outbox_stats(sandbox))

    async def lifecycle(_app: web.Application) -> Any:
        unsubscribe = sandbox.server.subscribe(_relay(app, sandbox))
        task = asyncio.create_task(stats_loop())
        yield
        unsubscribe()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/", index)
    app.router.add_get("/api/state", get_state)
    app.router.add_get("/api/events", get_events)
    app.router.add_get("/api/stats", get_stats)
    app.router.add_post("/api/phones", post_phone)
    app.router.add_get("/api/phones/{user_id}", get_phone)
    app.router.add_post("/api/phones/{user_id}/send", post_send)
    app.router.add_post("/api/phones/{user_id}/press", post_press)
    add_media_routes(app)
    app.router.add_post("/api/language", post_language)
    app.router.add_post("/api/clock", post_clock)
    app.router.add_post("/api/members/bulk", post_bulk)
    app.router.add_static("/static/", WEB_DIR, show_index=False)
    return app
