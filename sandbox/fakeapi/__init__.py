"""Fake Telegram Bot API server for end-to-end tests, benchmarks and the sandbox web page."""

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
