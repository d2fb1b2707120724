"""The outbox's lean HTTP client against answers the fake server never gives: chunked
bodies, `Connection: close`, unframed HTTP/1.0 bodies, dropped and silent connections."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.bulk_http import LeanRequest

Answer = Callable[[bytes], bytes | None]
"""The raw HTTP answer to a raw request (None: say nothing, keep the connection open)."""


def ok(result: object, *headers: str) -> bytes:
    body = json.dumps({"ok": True, "result": result}).encode()
    head = "".join(f"{h}\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head.encode(), len(body), body)


class RawServer:
    """Answers each request with `answer(request)`; counts connections and requests."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is None:
                    await reader.read()  # silent until the client hangs up
                    break
                writer.write(answer or b"")
                await writer.drain()
                if b"Connection: close" in (answer or b"") or (answer or b"").startswith(
                    b"HTTP/1.0"
                ):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


Serve = Callable[[Answer], Awaitable[RawServer]]


@pytest.fixture
async def raw() -> AsyncIterator[Serve]:
    started: list[asyncio.Server] = []

    async def serve(answer: Answer) -> RawServer:
        raw_server = RawServer(answer)
        server = await asyncio.start_server(raw_server.handle, "127.0.0.1", 0)
        raw_server.port = server.sockets[0].getsockname()[1]
        started.append(server)
        return raw_server

    yield serve
    for server in started:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def data(chat_id: int, text: str) -> RequestData:
    return RequestData(
        [RequestParameter("chat_id", str(chat_id), None), RequestParameter("text", text, None)]
    )


async def test_keep_alive_chunked_and_close(raw: Serve) -> None:
    def answer(request: bytes) -> bytes:
        if b"text=chunked" in request:
            body = json.dumps({"ok": True, "result": {"message_id": 2}}).encode()
            return (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n" % (5, body[:5])
                + b"%x;ext=1\r\n%s\r\n" % (len(body) - 5, body[5:])
                + b"0\r\n\r\n"
            )
        if b"text=close" in request:
            return ok({"message_id": 3}, "Connection: close")
        if b"text=old" in request:
            return b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps({"ok": True, "result": 4}).encode()
        return ok({"message_id": 1})

    server = await raw(answer)
    request = LeanRequest(4)
    url = f"http://127.0.0.1:{server.port}/bot1:T/sendMessage"
    try:
        assert await request.post(url, data(7, "é & + =")) == {"message_id": 1}
        assert await request.post(url, data(7, "chunked")) == {"message_id": 2}
        assert server.connections == 1  # kept alive
        assert await request.post(url, data(7, "close")) == {"message_id": 3}
        assert await request.post(url, data(7, "old")) == 4
        assert await request.post(url, data(7, "again")) == {"message_id": 1}
        assert server.connections == 3  # a new one after each close
    finally:
        await request.shutdown()
    first = server.requests[0]
    assert first.startswith(b"POST /bot1:T/sendMessage HTTP/1.1\r\n")
    assert b"\r\n\r\nchat_id=7&text=%C3%A9+%26+%2B+%3D" in first


async def test_errors_are_ptbs(raw: Serve) -> None:
    def answer(request: bytes) -> bytes:
        for code, text, extra in (
            (403, "Forbidden: bot was blocked by the user", {}),
            (400, "Bad Request: chat not found", {}),
            (429, "Too Many Requests: retry after 3", {"parameters": {"retry_after": 3}}),
        ):
            if f"chat_id={code}".encode() in request:
                body = json.dumps(
                    {"ok": False, "error_code": code, "description": text, **extra}
                ).encode()
                return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (code, len(body), body)
        return ok(True)

    server = await raw(answer)
    request = LeanRequest(4)
    url = f"http://127.0.0.1:{server.port}/bot1:T/sendMessage"
    try:
        with pytest.raises(Forbidden):
            await request.post(url, data(403, "x"))
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await request.post(url, data(400, "x"))
        with pytest.raises(RetryAfter):
            await request.post(url, data(429, "x"))
        assert server.connections == 1
    finally:
        await request.shutdown()


async def test_silence_drops_and_refusals_are_network_errors(raw: Serve) -> None:
    def answer(request: bytes) -> bytes | None:
        if b"text=silence" in request:
            return None
        if b"text=cut" in request:
            return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"
        return ok({"message_id": 1})

    server = await raw(answer)
    request = LeanRequest(2, read_timeout=0.2, write_timeout=0.0)
    url = f"http://127.0.0.1:{server.port}/bot1:T/sendMessage"
    try:
        with pytest.raises(TimedOut):
            await request.post(url, data(1, "silence"))
        with pytest.raises(NetworkError):
            await request.post(url, data(1, "cut"))
        assert await request.post(url, data(1, "fine")) == {"message_id": 1}
        with pytest.raises(NetworkError):
            await request.post(
                f"http://127.0.0.1:{closed_port()}/bot1:T/sendMessage", data(1, "x")
            )
    finally:
        await request.shutdown()
