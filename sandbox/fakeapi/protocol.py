"""The Bot API's wire format as the fake server checks it: error answers, parameter
parsing, message bodies (entities, length in UTF-16 units) and reply markups."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.fakeapi.html_check import EntityParseError, parse_text, utf16_len

JSON = dict[str, Any]

MAX_TEXT = 4096

MAX_CAPTION = 1024

# Methods that put (or change) a message in a chat: these consume rate-limit budget.
MESSAGE_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendmediagroup",
        "sendvoice",
        "sendlocation",
        "copymessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "editmessagecaption",
    }
)

# Faults are injected on the bot's outgoing actions, not on polling or setup, so that a test of
# "broadcast under 502s" does not also have to survive a broken getUpdates loop.
FAULT_EXEMPT = frozenset(
    {
        "getme",
        "getupdates",
        "setwebhook",
        "deletewebhook",
        "getwebhookinfo",
        "setmycommands",
        "getmycommands",
        "deletemycommands",
        "getfile",
        "logout",
        "close",
    }
)

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)

PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ApiError(Exception):
    """An error answer, carrying exactly what Telegram would put in the JSON body."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.code)


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _as_int(value: Any, name: str) -> int:
    if value is None or value == "":
        raise _bad(f"{name} is empty")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _as_json(params: JSON, name: str) -> Any:
    """PTB JSON-encodes every non-string form value; JSON bodies carry them natively."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            if name == "reply_markup":
                raise _bad("can't parse reply keyboard markup JSON object") from None
            raise _bad(f"can't parse {name} JSON object") from None
    return value


@dataclass(slots=True)
class _Markup:
    """A validated reply_markup: what goes into the Message and what changes the user's UI."""

    inline: JSON | None = None
    keyboard: list[list[str]] | None = None
    remove_keyboard: bool = False


def _check_inline_button(button: Any) -> None:
    """One inline button: a text and exactly what Telegram accepts as its action."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"]:
        raise _bad("BUTTON_TEXT_EMPTY")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise _bad("BUTTON_DATA_INVALID")
    elif "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise _bad("BUTTON_URL_INVALID")
    elif not any(
        k in button
        for k in (
            "web_app",
            "login_url",
            "switch_inline_query",
            "pay",
            "switch_inline_query_current_chat",
            "callback_game",
            "switch_inline_query_chosen_chat",
            "copy_text",
        )
    ):
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )


class WireChecks:
    """Checks shared by the methods: a message body and a reply markup, as Telegram parses them."""

    @staticmethod
    def _body(params: JSON, field_name: str, limit: int, required: bool) -> tuple[str, list[JSON]]:
        raw = params.get(field_name)
        if raw is None or raw == "":
            if required:
                raise _bad("message text is empty")
            return "", []
        if not isinstance(raw, str):
            raw = str(raw)
        entities_name = "entities" if field_name == "text" else "caption_entities"
        given = _as_json(params, entities_name)
        parse_mode = params.get("parse_mode")
        if parse_mode and str(parse_mode).lower() not in PARSE_MODES:
            raise _bad("unsupported parse_mode")
        try:
            if given is None and isinstance(parse_mode, str):
                visible, found = _parsed(raw, parse_mode)  # a broadcast: one text, many sends
                entities = [dict(entity) for entity in found]
            else:
                visible, entities = parse_text(raw, params.get("parse_mode"), given)
        except EntityParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        if required and not visible:
            raise _bad("message text is empty")
        if utf16_len(visible) > limit:
            raise _bad(
                "message is too long" if field_name == "text" else "message caption is too long"
            )
        return visible, entities

    @staticmethod
    def _markup(params: JSON) -> _Markup:
        obj = _as_json(params, "reply_markup")
        if obj is None:
            return _Markup()
        if not isinstance(obj, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in obj:
            rows = obj["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse inline keyboard markup JSON object")
            clean_rows: list[list[JSON]] = []
            for row in rows:
                clean_row: list[JSON] = []
                for button in row:
                    _check_inline_button(button)
                    clean_row.append(button)
                if clean_row:
                    clean_rows.append(clean_row)
            return _Markup(inline={"inline_keyboard": clean_rows} if clean_rows else None)
        if "keyboard" in obj:
            rows = obj["keyboard"]
            if not isinstance(rows, list):
                raise _bad("can't parse reply keyboard markup JSON object")
            keyboard = [
                [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
                for row in rows
                if isinstance(row, list)
            ]
            return _Markup(keyboard=keyboard)
        if obj.get("remove_keyboard"):
            return _Markup(remove_keyboard=True)
        return _Markup()


@functools.lru_cache(maxsize=256)
def _parsed(text: str, parse_mode: str) -> tuple[str, list[JSON]]:
    """`parse_text` remembered (callers copy the entities before storing them)."""
    return parse_text(text, parse_mode)
