"""Messages in a chat: sending text, editing, deleting, and what the user's app shows."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from sandbox.fakeapi.models import ChatEvent, ChatMessage
from sandbox.fakeapi.protocol import (
    JSON,
    MAX_CAPTION,
    MAX_TEXT,
    NOT_MODIFIED,
    ApiError,
    WireChecks,
    _as_bool,
    _as_int,
    _as_json,
    _bad,
    _Markup,
)
from sandbox.fakeapi.updates import UpdateDelivery

if TYPE_CHECKING:
    from sandbox.fakeapi.users import FakeUser


class ChatMessages(UpdateDelivery, WireChecks):
    """Part of FakeTelegram: sendMessage, the edit methods, deleteMessage and the user's view."""

    def _chat(self, params: JSON, name: str = "chat_id") -> FakeUser:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad(f"{name} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            user_id = self._by_username.get(raw[1:].lower())
            user = self._users.get(user_id) if user_id is not None else None
        else:
            try:
                user = self.get_user(int(raw))
            except (TypeError, ValueError):
                user = None
        if user is None:
            raise _bad("chat not found")
        return user

    def _writable_chat(self, params: JSON) -> FakeUser:
        user = self._chat(params)
        if user.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if user.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        return user

    def _base_message(self, user: FakeUser) -> JSON:
        return {
            "message_id": user._take_message_id(),
            "from": self.bot_json,
            "chat": user.chat_json(),
            "date": int(time.time()),
        }

    def _reply_target(self, params: JSON, user: FakeUser) -> JSON | None:
        """Attach reply_to_message like Telegram, refusing replies to unknown messages."""
        reply = _as_json(params, "reply_parameters")
        if isinstance(reply, dict):
            target, allow = reply.get("message_id"), reply.get("allow_sending_without_reply")
        else:
            target = params.get("reply_to_message_id")
            allow = params.get("allow_sending_without_reply")
        if target in (None, ""):
            return None
        original = user._raw.get(int(target))
        if original is None and not _as_bool(allow):
            raise _bad("message to be replied not found")
        if original is None:
            return None
        # Telegram never nests a reply inside a reply.
        return {k: v for k, v in original.items() if k != "reply_to_message"}

    def _view(self, raw: JSON, html: str, parse_mode: str | None, edited: bool) -> ChatMessage:
        """Turn the Message JSON the bot got back into what the user's app displays."""
        buttons: list[list[str]] = []
        button_data: dict[str, str] = {}
        button_urls: dict[str, str] = {}
        markup = raw.get("reply_markup")
        if markup:
            for row in markup["inline_keyboard"]:
                buttons.append([b["text"] for b in row])
                for b in row:
                    if "callback_data" in b:
                        button_data[b["text"]] = b["callback_data"]
                    elif "url" in b:
                        button_urls[b["text"]] = b["url"]
        photo = raw["photo"][-1]["file_id"] if "photo" in raw else None
        document = None
        if "document" in raw:
            record = self.files.by_id.get(raw["document"]["file_id"])
            document = (raw["document"].get("file_name", ""), record.data if record else b"")
        kind = next(
            (k for k in ("text", "photo", "document", "sticker", "voice", "location") if k in raw),
            "text",
        )
        location = raw.get("location")
        return ChatMessage(
            message_id=raw["message_id"],
            text=raw.get("text", ""),
            html=html,
            buttons=buttons,
            button_data=button_data,
            button_urls=button_urls,
            photo=photo,
            document=document,
            caption=raw.get("caption"),
            edited=edited,
            date=int(raw["edit_date"] if "edit_date" in raw else raw["date"]),
            from_bot=True,
            parse_mode=parse_mode,
            entities=raw.get("entities") or raw.get("caption_entities") or [],
            kind=kind,
            location=(location["latitude"], location["longitude"]) if location else None,
            album=raw.get("media_group_id"),
        )

    def _publish(
        self,
        user: FakeUser,
        raw: JSON,
        html: str,
        parse_mode: str | None,
        markup: _Markup | None,
        edited: bool = False,
    ) -> ChatMessage:
        """Show a new or edited bot message on the user's screen and count the delivery."""
        view = self._view(raw, html, parse_mode, edited)
        if markup is not None:
            if markup.keyboard is not None:
                user.reply_keyboard = markup.keyboard
            elif markup.remove_keyboard:
                user.reply_keyboard = None
        user._bot_message(raw, view, edited)
        if not edited:
            stats = self.stats
            stats.delivered += 1
            stats.delivery_times.append(time.monotonic())
            stats.delivered_chat_ids.append(user.id)
        if self._subscribers:
            self._emit("edit" if edited else "message", user.id, view.to_json())
            self._emit("delivery", user.id, {"delivered": self.stats.delivered})
        return view

    def _upload(self, params: JSON, name: str) -> tuple[bytes, str | None, str | None] | None:
        """Return (bytes, filename, mime) if the param is an upload, None if it is a string."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if value is None:
                raise _bad(f"wrong HTTP URL specified for {name}")
        if isinstance(value, web.FileField):
            return value.file.read(), value.filename, value.content_type
        if isinstance(value, bytes | bytearray):
            return bytes(value), None, None
        return None

    def _send_message(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        text, entities = self._body(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        raw["text"] = text
        if entities:
            raw["entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        preview = _as_json(params, "link_preview_options")
        if isinstance(preview, dict) and preview:
            raw["link_preview_options"] = preview
        elif _as_bool(params.get("disable_web_page_preview")):
            raw["link_preview_options"] = {"is_disabled": True}
        self._publish(user, raw, str(params["text"]), params.get("parse_mode"), markup)
        return raw

    def _editable(self, params: JSON, user: FakeUser) -> tuple[JSON, ChatMessage]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        message_id = _as_int(params.get("message_id"), "message_id")
        view = user._screen.get(message_id)
        raw = user._raw.get(message_id)
        if raw is None:
            raise _bad("message to edit not found")
        if view is None:
            raise _bad("message can't be edited")
        return raw, view

    def _edited(self, raw: JSON, markup: _Markup) -> JSON:
        new = dict(raw)
        new["edit_date"] = int(time.time())
        if markup.inline:
            new["reply_markup"] = markup.inline
        else:
            new.pop("reply_markup", None)
        return new

    def _edit_message_text(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, _view = self._editable(params, user)
        if "text" not in raw:
            raise _bad("there is no text in the message to edit")
        text, entities = self._body(params, "text", MAX_TEXT, required=True)
        markup = self._markup(params)
        if (
            text == raw["text"]
            and entities == raw.get("entities", [])
            and markup.inline == raw.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        self._publish(user, new, str(params["text"]), params.get("parse_mode"), None, True)
        return new

    def _edit_message_caption(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, _view = self._editable(params, user)
        if "text" in raw:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        if (
            caption == raw.get("caption", "")
            and entities == raw.get("caption_entities", [])
            and markup.inline == raw.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        new.pop("caption", None)
        new.pop("caption_entities", None)
        if caption:
            new["caption"] = caption
        if entities:
            new["caption_entities"] = entities
        html = str(params.get("caption") or "")
        self._publish(user, new, html, params.get("parse_mode"), None, True)
        return new

    def _edit_message_reply_markup(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        raw, view = self._editable(params, user)
        markup = self._markup(params)
        if markup.inline == raw.get("reply_markup"):
            raise _bad(NOT_MODIFIED)
        self._check_rate(user.id, False)
        new = self._edited(raw, markup)
        self._publish(user, new, view.html, view.parse_mode, None, True)
        return new

    def _delete_message(self, params: JSON) -> bool:
        user = self._chat(params)
        message_id = _as_int(params.get("message_id"), "message_id")
        if message_id not in user._raw:
            raise _bad("message to delete not found")
        if message_id in user._screen:
            user._bot_deleted(message_id)
        else:
            user._raw.pop(message_id, None)
            user.events.append(ChatEvent("deleted"))
        if self._subscribers:
            self._emit("delete", user.id, {"message_id": message_id})
        return True
