"""HTTP control API under /_control/ so a benchmark in another process can steer the server.

Everything a test does through Python objects is reachable here as JSON: read stats, change
limits and faults, create users in bulk, read a user's screen, act as a user.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.fakeapi.server import FakeTelegram
    from sandbox.fakeapi.users import FakeUser

__all__ = ["ControlApi", "add_control_routes", "storm"]

JSON = dict[str, Any]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def add_control_routes(app: web.Application, server: FakeTelegram) -> None:
    """Register the /_control/ endpoints on the server's aiohttp application."""
    api = ControlApi(server)
    app.router.add_get("/_control/stats", api.get_stats)
    app.router.add_post("/_control/stats/reset", api.reset_stats)
    app.router.add_get("/_control/config", api.get_config)
    app.router.add_post("/_control/config", api.post_config)
    app.router.add_post("/_control/limits", api.post_config)
    app.router.add_post("/_control/users", api.post_users)
    app.router.add_get("/_control/users/{user_id}", api.get_user)
    app.router.add_get("/_control/users/{user_id}/screen", api.get_user)
    app.router.add_post("/_control/users/{user_id}/send", api.user_send)
    app.router.add_post("/_control/users/{user_id}/press", api.user_press)
    app.router.add_post("/_control/users/{user_id}/block", api.user_block)
    app.router.add_post("/_control/press_storm", api.press_storm)
    app.router.add_post("/_control/answer_storm", api.answer_storm)


class ControlApi:
    """The handlers of /_control/, each acting on the one server they were made for."""

    def __init__(self, server: FakeTelegram) -> None:
        self.server = server

    def user_of(self, request: web.Request) -> FakeUser | None:
        try:
            return self.server.get_user(int(request.match_info["user_id"]))
        except ValueError:
            return None

    async def get_stats(self, request: web.Request) -> web.Response:
        full = request.query.get("full", "") in {"1", "true"}
        data = self.server.stats.to_json(full=full)
        data["pending_updates"] = self.server.pending_updates
        data["webhook_dropped"] = self.server.webhook_dropped
        return web.json_response(data)

    async def reset_stats(self, _request: web.Request) -> web.Response:
        self.server.stats.reset()
        return web.json_response({"ok": True})

    async def get_config(self, _request: web.Request) -> web.Response:
        return web.json_response(self.server.config.to_json())

    async def post_config(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        seed = body.pop("seed", None)
        try:
            self.server.configure(**body)
        except TypeError as exc:
            return _error(400, str(exc))
        if seed is not None:
            self.server.reseed(int(seed))
        return web.json_response(self.server.config.to_json())

    async def post_users(self, request: web.Request) -> web.Response:
        """Body: {"range": [start, stop]} and/or {"ids": [...]} and/or {"users": [{...}]}."""
        body: dict[str, Any] = await request.json()
        count = 0
        if "range" in body:
            start, stop = body["range"]
            count += self.server.add_users(range(int(start), int(stop)))
        if "ids" in body:
            count += self.server.add_users(int(i) for i in body["ids"])
        for spec in body.get("users", []):
            self.server.user(
                int(spec["id"]),
                spec.get("first_name"),
                username=spec.get("username"),
                language_code=spec.get("language_code"),
            )
            count += 1
        return web.json_response({"ok": True, "count": count})

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        if user is None:
            return _error(404, "unknown user")
        return web.json_response(
            {
                "user": user.user_json(),
                "blocked": user.blocked,
                "messages": [m.to_json() for m in user.messages],
                "reply_keyboard": user.reply_keyboard,
                "commands": user.commands,
            }
        )

    async def user_send(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        if user is None:
            return _error(404, "unknown user")
        body: dict[str, Any] = await request.json()
        message = await user.send(str(body["text"]))
        return web.json_response(message.to_json())

    async def user_press(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        if user is None:
            return _error(404, "unknown user")
        body: dict[str, Any] = await request.json()
        timeout = float(body.get("timeout", 5.0))
        try:
            if "data" in body:
                answer = await user.press_data(
                    str(body["data"]), body.get("message_id"), timeout=timeout
                )
            else:
                target = None
                if body.get("message_id") is not None:
                    target = next(
                        (m for m in user.messages if m.message_id == body["message_id"]), None
                    )
                answer = await user.press(str(body["text"]), target, timeout=timeout)
        except AssertionError as exc:
            return _error(409, str(exc))
        return web.json_response(
            {"text": answer.text, "show_alert": answer.show_alert, "url": answer.url}
        )

    async def press_storm(self, request: web.Request) -> web.Response:
        """Many users press buttons at once, driven from inside the server (load generation
        costs the bot's process nothing): `{"users": [first, stop], "texts": [...],
        "presses": n, "concurrency": c}`; answers with presses answered and the time taken."""
        body: dict[str, Any] = await request.json()
        first, stop = (int(v) for v in body["users"])
        users = [u for i in range(first, stop) if (u := self.server.get_user(i)) is not None]
        if not users:
            return _error(404, "unknown users")
        texts = [str(t) for t in body.get("texts") or []]
        if not texts:
            return _error(400, "texts: at least one button text")
        result = await storm(users, texts, int(body["presses"]), int(body.get("concurrency", 32)))
        return web.json_response(result)

    async def answer_storm(self, request: web.Request) -> web.Response:
        """People going through a questionnaire (sandbox.fakeapi.questionnaires):
        `{"users": [first, stop], "steps": [[texts], ...], "concurrency": c}`."""
        from sandbox.fakeapi.questionnaires import answer_storm

        body: dict[str, Any] = await request.json()
        first, stop = (int(v) for v in body["users"])
        users = [u for i in range(first, stop) if (u := self.server.get_user(i)) is not None]
        steps = [[str(t) for t in step] for step in body.get("steps") or [] if step]
        if not users or not steps:
            return _error(400, "users and steps (lists of button texts) are needed")
        concurrency = int(body.get("concurrency", 32))
        return web.json_response(await answer_storm(users, steps, concurrency))

    async def user_block(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        if user is None:
            return _error(404, "unknown user")
        body: dict[str, Any] = await request.json()
        user.blocked = bool(body.get("blocked", True))
        return web.json_response({"ok": True, "blocked": user.blocked})


async def storm(users: list[FakeUser], texts: list[str], presses: int, concurrency: int) -> JSON:
    """Press n times over the users in turn, `concurrency` presses in flight; the n-th press
    uses texts[(n // len(users)) % len(texts)], so each user alternates between the texts."""
    order = iter(range(presses))
    answered = 0
    latencies: list[float] = []

    async def presser() -> None:
        nonlocal answered
        for n in order:
            user = users[n % len(users)]
            started = time.perf_counter()
            try:
                await user.press(texts[(n // len(users)) % len(texts)], timeout=30)
            except AssertionError:
                continue
            latencies.append(time.perf_counter() - started)
            answered += 1
            user.events.clear()  # a long storm would otherwise keep every press in memory

    started = time.perf_counter()
    await asyncio.gather(*(presser() for _ in range(concurrency)))
    latencies.sort()
    return {
        "answered": answered,
        "seconds": time.perf_counter() - started,
        "p50": latencies[len(latencies) // 2] if latencies else None,
        "p99": latencies[int(len(latencies) * 0.99)] if latencies else None,
    }
