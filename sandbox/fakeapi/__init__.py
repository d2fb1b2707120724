"""Fake Telegram Bot API server for end-to-end tests, benchmarks and the sandbox web page.

Typical test::

    server = FakeTelegram(token="123456:TEST", per_chat_per_second=1)
    await server.start()
    app = ApplicationBuilder().token(server.token).base_url(server.base_url) \
        .base_file_url(server.base_file_url).build()
    ...  # start polling
    alice = server.user(1001, "Alice", language_code="fr")
    await alice.send("/start r-abc")
    welcome = await alice.receive(contains="Bienvenue")
    answer = await alice.press("Je viens", message=welcome)
    assert server.stats.duplicates() == {}
    await server.stop()

Out of process: ``python -m sandbox.fakeapi --port 8081 --global-rate 30 --per-chat 1``
and steer it through ``/_control/`` (see sandbox.fakeapi.control).
"""

from sandbox.fakeapi.html_check import EntityParseError, parse_html, parse_markdown_v2, utf16_len
from sandbox.fakeapi.models import (
    CallbackAnswer,
    ChatEvent,
    ChatMessage,
    FaultConfig,
    ServerEvent,
    Stats,
)
from sandbox.fakeapi.server import ApiError, FakeTelegram
from sandbox.fakeapi.users import FakeUser

__all__ = [
    "ApiError",
    "CallbackAnswer",
    "ChatEvent",
    "ChatMessage",
    "EntityParseError",
    "FakeTelegram",
    "FakeUser",
    "FaultConfig",
    "ServerEvent",
    "Stats",
    "parse_html",
    "parse_markdown_v2",
    "utf16_len",
]
