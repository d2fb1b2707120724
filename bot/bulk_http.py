"""A lean HTTP/1.1 client for the outbox's sends: keep-alive connections, one request each.

A paid broadcast makes a thousand requests a second, each a small form POST answered by a
small JSON body. Measured on this 2-core machine, aiohttp's client spends about 0.4 ms of CPU
per such request (URL parsing, cookie jar, header multidicts, timers, its tracing hooks),
and a plain asyncio protocol about a third of that: at 1,000 messages a second the
difference is a third of a core, what the bot needs to keep the pace. So the bulk path talks
HTTP itself, and only the part of it the Bot API uses: POST with a url-encoded form,
answers framed by Content-Length or chunked, keep-alive or `Connection: close`, TLS through
the standard `ssl` module (the system's CA store, as aiohttp does).

It is a PTB `BaseRequest`: PTB's `post` maps the answers to PTB's errors (`RetryAfter`,
`Forbidden`, `BadRequest`...), and a failure to connect, a cut connection or a timeout is a
`NetworkError`/`TimedOut`, which the dispatcher retries. Uploads (multipart) and proxies stay
with `bot.http.AiohttpRequest`: `BulkSender` uses this client only without a proxy.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.http import FORM, form

IDLE_SECONDS = 30.0
"""A connection unused for this long is closed rather than reused (servers drop them)."""
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


def _seconds(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


class _Answer:
    """An HTTP response being read: status, headers, then the body (sized or chunked)."""

    __slots__ = ("body", "chunked", "close", "length", "status")

    def __init__(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise NetworkError(f"bad HTTP status line: {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.close = parts[0] == "HTTP/1.0"
        self.length: int | None = None
        self.chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                self.length = int(value)
            elif name == "transfer-encoding":
                self.chunked = "chunked" in value.lower()
            elif name == "connection":
                self.close = value.lower() == "close"
        if self.length is not None and self.length > MAX_BODY:
            raise NetworkError("answer too large")
        self.body = b""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `exchange` writes a request and waits for its answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used_at = time.monotonic()
        self._buffer = bytearray()
        self._answer: _Answer | None = None
        self._waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse(eof=False)
        except (NetworkError, ValueError) as error:
            self._fail(error if isinstance(error, NetworkError) else NetworkError(str(error)))

    def eof_received(self) -> bool | None:
        try:
            self._parse(eof=True)
        except (NetworkError, ValueError) as error:
            self._fail(error if isinstance(error, NetworkError) else NetworkError(str(error)))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(NetworkError(f"connection lost: {exc or 'closed by the server'}"))

    def _fail(self, error: NetworkError) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    def _parse(self, *, eof: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            if self._buffer or eof:
                self.closed = True  # unrequested bytes or a closed idle connection
            return
        if self._answer is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD or eof:
                    raise NetworkError("incomplete HTTP answer")
                return
            self._answer = _Answer(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
        answer = self._answer
        if answer.chunked:
            body = self._chunks()
            if body is None:
                if eof:
                    raise NetworkError("incomplete chunked answer")
                return
            answer.body = body
        elif answer.length is not None:
            if len(self._buffer) < answer.length:
                if eof:
                    raise NetworkError("incomplete HTTP answer")
                return
            answer.body = bytes(self._buffer[: answer.length])
            del self._buffer[: answer.length]
        else:  # no framing: the body ends with the connection
            if not eof:
                return
            answer.body, answer.close = bytes(self._buffer), True
            self._buffer.clear()
        self._answer = None
        waiter.set_result((answer.status, answer.body, not answer.close and not eof))

    def _chunks(self) -> bytes | None:
        """The whole chunked body once it has all arrived (consumed then), else None."""
        buffer, at = self._buffer, 0
        parts: list[bytes] = []
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(buffer[at:line_end]).split(b";", 1)[0], 16)
            at = line_end + 2
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", at - 2)
                if trailer_end < 0:
                    return None
                del buffer[: trailer_end + 4]
                return b"".join(parts)
            if len(buffer) < at + size + 2:
                return None
            parts.append(bytes(buffer[at : at + size]))
            at += size + 2

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, reusable) for one request on this connection."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self.used_at = time.monotonic()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class LeanRequest(BaseRequest):
    """Keep-alive connections to the Bot API for form POSTs (see the module's docstring)."""

    def __init__(
        self,
        connections: int = 64,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 30.0,
    ) -> None:
        self._limit = asyncio.Semaphore(connections)
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._heads: dict[str, tuple[tuple[str, str, int], bytes]] = {}
        self._ssl: ssl.SSLContext | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

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
        if request_data is not None and request_data.contains_files:
            raise NetworkError("LeanRequest sends forms only; uploads go through aiohttp")
        body = form(request_data.json_parameters).encode() if request_data else b""
        origin, head = self._head(url, method)
        request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        read = _seconds(read_timeout, self._read)
        write = _seconds(write_timeout, self._write)
        pool = _seconds(pool_timeout, self._pool)
        connect = _seconds(connect_timeout, self._connect)
        try:
            async with asyncio.timeout(pool):
                await self._limit.acquire()
        except TimeoutError as error:
            raise TimedOut("pool timeout") from error
        connection: _Connection | None = None
        try:
            connection = await self._connection(origin, connect)
            exchange = connection.exchange(request)
            bound = None if read is None or write is None else read + write
            async with asyncio.timeout(bound):
                status, payload, reusable = await exchange
        except TimeoutError as error:
            if connection is not None:
                connection.close()
            raise TimedOut from error
        except OSError as error:
            if connection is not None:
                connection.close()
            raise NetworkError(f"{type(error).__name__}: {error}") from error
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        finally:
            self._limit.release()
        assert connection is not None
        if reusable and not connection.closed:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
        return status, payload

    def _head(self, url: str, method: str) -> tuple[tuple[str, str, int], bytes]:
        """(origin, request head without Content-Length), built once per URL."""
        cached = self._heads.get(url)
        if cached is None:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https") or not parts.hostname:
                raise NetworkError(f"unsupported URL {url!r}")
            port = parts.port or (443 if scheme == "https" else 80)
            host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            head = (
                f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
                f"User-Agent: {self.USER_AGENT}\r\nContent-Type: {FORM}\r\n"
            ).encode()
            cached = self._heads[url] = ((scheme, parts.hostname, port), head)
        return cached

    async def _connection(
        self, origin: tuple[str, str, int], connect: float | None
    ) -> _Connection:
        idle = self._idle.get(origin, [])
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.used_at < IDLE_SECONDS:
                return connection
            connection.close()
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(connect):
            _, protocol = await loop.create_connection(
                _Connection, host, port, ssl=context, server_hostname=host if context else None
            )
        return protocol
