"""Sending a queued payload: the one place that turns an outbox `Payload` into a Bot API call.

Two paths, the same request on the wire:
- `send_payload` goes through PTB's methods (`bot.send_message(...)`): it builds Telegram
  objects for the keyboard, and PTB turns the answer into a `Message`. Uploads (a document
  the bot generated, a local file) always take it.
- `BulkSender` is the outbox's path. A broadcast sends the same payload to thousands of
  chats, and profiling a paid broadcast (1,000 messages/s) showed most of the bot's CPU per
  message in that PTB machinery: keyboards built as `InlineKeyboardMarkup` objects and
  serialised for every send, defaults inserted parameter by parameter, and every answer
  parsed into a full `Message` (its chat, its sender, its keyboard) to read one number. So
  the request parameters are built once per payload (the keyboard as its JSON, exactly as
  PTB would serialise it), only `chat_id` is added per message, and the answer is read for
  its `message_id` alone.

`BulkSender` still goes through the bot's rate limiter (`process_request`, PTB's public
contract: same lanes, same pacing, same 429 retries) and through the bot's own HTTP backend
(`BaseRequest.post`, which maps Telegram's answers to PTB's errors: `RetryAfter`,
`Forbidden`, `BadRequest`, `NetworkError`), so the dispatcher classifies failures exactly as
before. PTB's docs say `Bot.request` is for its own methods; this is the one place that uses
it, and `tests/test_bulk_sending.py` checks that both paths put the same message on screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter  # RequestData's items

from bot.bulk_http import LeanRequest
from bot.http import route_from_env
from storage.outbox import Button, Payload

PREPARED_PAYLOADS = 64
"""Payloads whose request is kept ready: a broadcast has one per language and variant."""


def markup(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup | None:
    """The one conversion of our buttons to Telegram's (handlers' screens and queued sends)."""
    if not any(rows):
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, url=b.url)
                if b.url
                else InlineKeyboardButton(b.text, callback_data=b.data)
                for b in row
            ]
            for row in rows
            if row
        ]
    )


def keyboard(payload: Payload) -> InlineKeyboardMarkup | None:
    return markup(payload.buttons)


def lane_args(bot: ExtBot[Any], lane: str) -> dict[str, str] | None:
    """`rate_limit_args` naming the lane, for our limiter only: another limiter (PTB's
    AIORateLimiter, measured as a baseline) reads that argument differently."""
    from bot.ratelimit import PriorityRateLimiter

    return {"lane": lane} if isinstance(bot.rate_limiter, PriorityRateLimiter) else None


async def send_payload(
    bot: ExtBot[Any],
    chat_id: int,
    payload: Payload,
    *,
    paid: bool = False,
    limit_args: dict[str, Any] | None = None,
) -> int:
    """Render a stored payload as a Telegram message; return the new message's id."""
    common: dict[str, Any] = {
        "reply_markup": keyboard(payload),
        "rate_limit_args": limit_args,
        "allow_paid_broadcast": paid or None,
    }
    caption: dict[str, Any] = (
        {"caption": payload.text, "parse_mode": ParseMode.HTML} if payload.text else {}
    )
    if payload.photo is not None:
        sent = await bot.send_photo(chat_id, payload.photo, **caption, **common)
    elif payload.document is not None:
        document = payload.document
        file: InputFile | str = (
            InputFile(document.content, filename=document.filename)
            if document.content is not None
            else str(document.file)
        )
        sent = await bot.send_document(chat_id, file, **caption, **common)
    elif payload.voice is not None:
        sent = await bot.send_voice(chat_id, payload.voice, **caption, **common)
    elif payload.location is not None:
        where = payload.location
        sent = await bot.send_location(chat_id, where.latitude, where.longitude, **common)
    elif payload.copy_of is not None:
        source = payload.copy_of
        copied = await bot.copy_message(
            chat_id, source.from_chat_id, source.message_id, **caption, **common
        )
        return copied.message_id
    else:
        sent = await bot.send_message(chat_id, payload.text, parse_mode=ParseMode.HTML, **common)
    return sent.message_id


def _is_local_file(value: str) -> bool:
    """PTB uploads a string naming an existing file (as `telegram._utils.files` decides)."""
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def _keyboard_json(rows: Sequence[Sequence[Button]]) -> str | None:
    """The keyboard as PTB serialises `markup(rows)`: `{"inline_keyboard": [[...]]}`."""
    if not any(rows):
        return None
    keyboard = [
        [
            {"text": b.text, "url": b.url} if b.url else {"text": b.text, "callback_data": b.data}
            for b in row
        ]
        for row in rows
        if row
    ]
    return json.dumps({"inline_keyboard": keyboard})


def prepare(payload: Payload, *, paid: bool) -> tuple[str, list[RequestParameter]] | None:
    """(endpoint, parameters but chat_id) for a payload that is plain JSON; None for uploads."""
    params: dict[str, str] = {}
    # parse_mode even without a caption: PTB adds it then too (the bot's Defaults).
    caption = {"caption": payload.text} if payload.text else {}
    caption["parse_mode"] = ParseMode.HTML
    if payload.photo is not None:
        if _is_local_file(payload.photo):
            return None
        endpoint, params = "sendPhoto", {"photo": payload.photo, **caption}
    elif payload.document is not None:
        file = payload.document.file
        if file is None or _is_local_file(file):
            return None
        endpoint, params = "sendDocument", {"document": file, **caption}
    elif payload.voice is not None:
        if _is_local_file(payload.voice):
            return None
        endpoint, params = "sendVoice", {"voice": payload.voice, **caption}
    elif payload.location is not None:
        where = payload.location
        endpoint = "sendLocation"
        params = {"latitude": json.dumps(where.latitude), "longitude": json.dumps(where.longitude)}
    elif payload.copy_of is not None:
        source = payload.copy_of
        endpoint = "copyMessage"
        params = {
            "from_chat_id": str(source.from_chat_id),
            "message_id": str(source.message_id),
            **caption,
        }
    else:
        endpoint, params = "sendMessage", {"text": payload.text, "parse_mode": ParseMode.HTML}
    markup_json = _keyboard_json(payload.buttons)
    if markup_json is not None:
        params["reply_markup"] = markup_json
    if paid:
        params["allow_paid_broadcast"] = "true"
    return endpoint, [RequestParameter(name, value, None) for name, value in params.items()]


class BulkSender:
    """The outbox's sends: requests prepared once per payload, answers read for the id."""

    def __init__(
        self,
        bot: ExtBot[Any],
        *,
        paid: bool,
        limit_args: dict[str, Any] | None,
        connections: int = 80,
    ) -> None:
        self.bot = bot
        self.paid = paid
        self.limit_args = limit_args
        # Arbitrary callback data rewrites keyboards inside PTB's methods: only PTB may send.
        self.lean = bot.callback_data_cache is None
        self.connections = connections
        self.http: LeanRequest | None = None
        """The lean HTTP client (bot/bulk_http.py), unless a proxy is configured."""
        self._prepared: OrderedDict[int, tuple[Payload, tuple[str, list[RequestParameter]]]]
        self._prepared = OrderedDict()

    async def start(self) -> None:
        """Open the lean HTTP client, unless the environment routes the Bot API through a
        proxy or gives it credentials (~/.netrc): those requests stay with aiohttp."""
        route = await asyncio.to_thread(route_from_env, self.bot.base_url)
        if route == (None, None, None) and self.http is None:
            self.http = LeanRequest(self.connections)

    async def stop(self) -> None:
        http, self.http = self.http, None
        if http is not None:
            await http.shutdown()

    async def send(
        self,
        chat_id: int,
        payload: Payload,
        on_wire: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> int:
        """Send one payload to one chat; return the new message's id (errors are PTB's).

        `on_wire` is entered around each request once the limiter lets it go (each retry
        after a 429 too): from then on Telegram may accept it. Through PTB's methods that
        moment is not visible, so it is entered before the limiter's wait."""
        prepared = self._prepare(payload) if self.lean else None
        if prepared is None:
            with on_wire():
                return await send_payload(
                    self.bot, chat_id, payload, paid=self.paid, limit_args=self.limit_args
                )
        endpoint, params = prepared
        request = self.http or self.bot.request
        url = f"{self.bot.base_url}/{endpoint}"
        data = RequestData([RequestParameter("chat_id", str(chat_id), None), *params])

        async def post() -> dict[str, Any]:
            with on_wire():
                result = await request.post(url, data)
            if not isinstance(result, dict):
                raise TypeError(f"{endpoint} answered {type(result).__name__}, not a message")
            return result

        limiter = self.bot.rate_limiter
        if limiter is None:
            result = await post()
        else:
            answer = await limiter.process_request(
                callback=post,
                args=(),
                kwargs={},
                endpoint=endpoint,
                data={"chat_id": chat_id, "allow_paid_broadcast": self.paid or None},
                rate_limit_args=self.limit_args,
            )
            result = answer if isinstance(answer, dict) else {}
        return int(result["message_id"])

    def _prepare(self, payload: Payload) -> tuple[str, list[RequestParameter]] | None:
        """The request for this payload object, built on its first send (payloads the outbox
        claims together share one object per distinct payload)."""
        key = id(payload)
        cached = self._prepared.get(key)
        if cached is not None and cached[0] is payload:
            self._prepared.move_to_end(key)
            return cached[1]
        prepared = prepare(payload, paid=self.paid)
        if prepared is None:
            return None
        # The payload is held with its request, so its id cannot be reused meanwhile.
        self._prepared[key] = (payload, prepared)
        if len(self._prepared) > PREPARED_PAYLOADS:
            self._prepared.popitem(last=False)
        return prepared
