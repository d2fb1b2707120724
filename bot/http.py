"""HTTP to the Bot API through aiohttp instead of PTB's default httpx client.

Measured on this 2-core machine (`make bench`, benchmarks/bench_inbound.py and the paid
broadcast of benchmarks/bench_calls.py), httpx + httpcore spend most of the bot's CPU per
request: pure-Python HTTP parsing, an anyio layer, and a connection pool whose bookkeeping grows
with (requests x connections). aiohttp parses in C and keeps one cheap pool, which is what lets
one process answer hundreds of button presses a second and feed a paid broadcast.

`AiohttpRequest` is a PTB `BaseRequest`: PTB still builds the requests and reads the answers,
and its errors are the ones PTB documents (`TimedOut`, `NetworkError`). Bodies are sent as
PTB's httpx backend sends them: url-encoded forms, or multipart when files are attached.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from urllib.parse import quote_plus

import aiohttp
from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

FORM = "application/x-www-form-urlencoded"

Route = tuple[aiohttp.BasicAuth | None, str | None, aiohttp.BasicAuth | None]
"""What the environment says about one origin: (netrc auth, proxy URL, proxy auth)."""


def route_from_env(url: str) -> Route:
    """HTTPS_PROXY/NO_PROXY and ~/.netrc for this URL's host, as aiohttp's `trust_env` reads
    them (blocking file reads: called in a thread)."""
    parsed = URL(url)
    auth = None
    if parsed.host is not None:
        try:
            auth = basicauth_from_netrc(netrc_from_env(), parsed.host)
        except LookupError:
            auth = None
    try:
        proxy, proxy_auth = get_env_proxy_for_url(parsed)
    except LookupError:
        return auth, None, None
    return auth, str(proxy), proxy_auth


def _seconds(value: Any, default: float | None) -> float | None:
    """PTB passes DEFAULT_NONE for "use the default"; None means "no limit"."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool, created in `initialize`."""

    def __init__(
        self,
        connections: int = 8,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._connections = connections
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._routes: dict[str, Route] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._connections, limit_per_host=0, keepalive_timeout=30
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",),
                # The environment (HTTPS_PROXY and friends, ~/.netrc, as PTB's httpx client
                # honours them) is read once per origin (`_route`), not by aiohttp's
                # `trust_env`, which reads it in two thread hops on every request: measured
                # as a fifth of the bot's CPU in a paid broadcast.
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        read = _seconds(read_timeout, self._read)
        write = _seconds(write_timeout, self._media_write if files else self._write)
        connect = _seconds(connect_timeout, self._connect)
        pool = _seconds(pool_timeout, self._pool)
        # aiohttp has no write timeout of its own, and its `total` counts the wait for a pooled
        # connection too: the sum of all four bounds the whole request, so that an upload
        # that stalls still ends, without cutting short a request that waited for the pool.
        parts = (pool, connect, write, read)
        total = None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body, headers = _body(request_data)
        auth, proxy, proxy_auth = await self._route(url)
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                auth=auth,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error

    async def _route(self, url: str) -> Route:
        """The environment's proxy and credentials for this URL's origin, read once."""
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = await asyncio.to_thread(route_from_env, key)
        return route


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return form(request_data.json_parameters), {"Content-Type": FORM}
    multipart = aiohttp.FormData(quote_fields=False)  # file names as they are (é, not %C3%A9)
    for name, value in request_data.json_parameters.items():
        multipart.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        multipart.add_field(name, content, filename=filename, content_type=mime_type)
    return multipart, None


QUOTE_CACHED_FROM = 32
"""Values at least this long are quoted once (texts, keyboards), shorter ones every time."""


def form(params: dict[str, str]) -> str:
    """`urllib.parse.urlencode(params)`, with the long values' quoting remembered: a broadcast
    sends one text and keyboard to thousands of chats, and quoting them is pure Python."""
    return "&".join(
        f"{quote_plus(key)}="
        + (_quoted(value) if len(value) >= QUOTE_CACHED_FROM else quote_plus(value))
        for key, value in params.items()
    )


@functools.lru_cache(maxsize=256)
def _quoted(value: str) -> str:
    return quote_plus(value)
