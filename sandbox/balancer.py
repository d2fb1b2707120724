"""A round-robin reverse proxy in front of several workers' webhooks, for tests and benchmarks.

It does what docs/deploy.md asks of nginx or Caddy: each update goes to the next worker; when
a worker cannot be reached (stopped, killed), the request is tried on the next one
(`proxy_next_upstream error timeout` in nginx); the worker's answer goes back to Telegram
as it is, so a 500 still makes Telegram deliver the update again.
"""

from __future__ import annotations

import itertools

import aiohttp
from aiohttp import web

FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class Balancer:
    def __init__(self, upstreams: list[str], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstreams = list(upstreams)
        self.host = host
        self.port = port
        self.forwarded: dict[str, int] = dict.fromkeys(self.upstreams, 0)
        self.unreachable = 0
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> Balancer:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        first = next(self._turn)
        for step in range(len(self.upstreams)):
            upstream = self.upstreams[(first + step) % len(self.upstreams)]
            try:
                async with self._session.post(
                    upstream + request.path, data=body, headers=headers
                ) as answer:
                    payload = await answer.read()
                    self.forwarded[upstream] += 1
                    return web.Response(status=answer.status, body=payload)
            except (aiohttp.ClientConnectionError, TimeoutError):
                self.unreachable += 1
        return web.Response(status=502)
