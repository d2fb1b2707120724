"""HTTP control API under /_control/ so a benchmark in another process can steer the server.

Everything a test does through Python objects is reachable here as JSON: read stats, change
limits and faults, create users in bulk, read a user's screen, act as a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.fakeapi.server import FakeTelegram
    from sandbox.fakeapi.users import FakeUser

__all__ = ["add_control_routes"]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def add_control_routes(app: web.Application, server: FakeTelegram) -> None:
    """Register the /_control/ endpoints on the server's aiohttp application."""

    def user_of(request: web.Request) -> FakeUser | None:
        try:
            return server.get_user(int(request.match_info["user_id"]))
        except ValueError:
            return None

    async def get_stats(request: web.Request) -> web.Response:
        full = request.query.get("full", "") in {"1", "true"}
        data = server.stats.to_json(full=full)
        data["pending_updates"] = server.pending_updates
        data["webhook_dropped"] = server.webhook_dropped
        return web.json_response(data)

    async def reset_stats(_request: web.Request) -> web.Response:
        server.stats.reset()
        return web.json_response({"ok": True})

    async def get_config(_request: web.Request) -> web.Response:
        return web.json_response(server.config.to_json())

    async def post_config(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        seed = body.pop("seed", None)
        try:
            server.configure(**body)
        except TypeError as exc:
            return _error(400, str(exc))
        if seed is not None:
            server.reseed(int(seed))
        return web.json_response(server.config.to_json())

    async def post_users(request: web.Request) -> web.Response:
        """Body: {"range": [start, stop]} and/or {"ids": [...]} and/or {"users": [{...}]}."""
        body: dict[str, Any] = await request.json()
        count = 0
        if "range" in body:
            start, stop = body["range"]
            count += server.add_users(range(int(start), int(stop)))
        if "ids" in body:
            count += server.add_users(int(i) for i in body["ids"])
        for spec in body.get("users", []):
            server.user(
                int(spec["id"]),
                spec.get("first_name"),
                username=spec.get("username"),
                language_code=spec.get("language_code"),
            )
            count += 1
        return web.json_response({"ok": True, "count": count})

    async def get_user(request: web.Request) -> web.Response:
        user = user_of(request)
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

    async def user_send(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None:
            return _error(404, "unknown user")
        body: dict[str, Any] = await request.json()
        message = await user.send(str(body["text"]))
        return web.json_response(message.to_json())

    async def user_press(request: web.Request) -> web.Response:
        user = user_of(request)
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

    async def user_block(request: web.Request) -> web.Response:
        user = user_of(request)
        if user is None:
            return _error(404, "unknown user")
        body: dict[str, Any] = await request.json()
        user.blocked = bool(body.get("blocked", True))
        return web.json_response({"ok": True, "blocked": user.blocked})

    app.router.add_get("/_control/stats", get_stats)
    app.router.add_post("/_control/stats/reset", reset_stats)
    app.router.add_get("/_control/config", get_config)
    app.router.add_post("/_control/config", post_config)
    app.router.add_post("/_control/limits", post_config)
    app.router.add_post("/_control/users", post_users)
    app.router.add_get("/_control/users/{user_id}", get_user)
    app.router.add_get("/_control/users/{user_id}/screen", get_user)
    app.router.add_post("/_control/users/{user_id}/send", user_send)
    app.router.add_post("/_control/users/{user_id}/press", user_press)
    app.router.add_post("/_control/users/{user_id}/block", user_block)
