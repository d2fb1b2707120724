"""Files and other kinds of message: photos, documents, voice messages, locations, copies."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from sandbox.fakeapi.files import FileRecord
from sandbox.fakeapi.messages import ChatMessages
from sandbox.fakeapi.protocol import (
    JSON,
    MAX_CAPTION,
    _as_bool,
    _as_int,
    _as_json,
    _bad,
)

_ALBUMS = itertools.count(1)

if TYPE_CHECKING:
    from sandbox.fakeapi.users import FakeUser


class MediaMessages(ChatMessages):
    """Part of FakeTelegram: uploads, file ids, sendPhoto/Document/Voice/Location, albums
    (sendMediaGroup), copyMessage."""

    def _media(self, params: JSON, name: str, user: FakeUser) -> tuple[JSON, list[JSON] | None]:
        """Resolve an uploaded or referenced file into a Document dict or PhotoSize list."""
        upload = self._upload(params, name)
        if upload is not None:
            data, filename, mime = upload
            if name == "photo":
                return {}, self.files.photo_sizes(data)
            file_name = filename or "document"
            return self.files.document(data, file_name, mime), None
        ref = params.get(name)
        if not ref:
            raise _bad(f"there is no {name} in the request")
        ref = str(ref)
        if name == "photo" and ref in self.files.photo_sets:
            return {}, self.files.photo_sets[ref]
        record: FileRecord | None = self.files.by_id.get(ref)
        if record is None and ref.startswith(("http://", "https://")):
            from sandbox.fakeapi.users import FAKE_JPEG

            if name == "photo":
                return {}, self.files.photo_sizes(FAKE_JPEG)
            file_name = ref.rstrip("/").rsplit("/", 1)[-1] or "file"
            return self.files.document(FAKE_JPEG, file_name, None), None
        if record is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if name == "photo":
            return {}, self.files.photo_sets.get(ref) or [
                {
                    "file_id": record.file_id,
                    "file_unique_id": record.file_unique_id,
                    "width": 800,
                    "height": 800,
                    "file_size": len(record.data),
                }
            ]
        return self.files.document_json(record), None

    def _send_media(self, params: JSON, name: str) -> JSON:
        user = self._writable_chat(params)
        caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
        markup = self._markup(params)
        document, photo = self._media(params, name, user)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        if photo is not None:
            raw["photo"] = photo
        elif name == "voice":
            raw["voice"] = {**document, "duration": int(params.get("duration") or 1)}
        else:
            raw["document"] = document
        if caption:
            raw["caption"] = caption
        if entities:
            raw["caption_entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        html = str(params.get("caption") or "")
        self._publish(user, raw, html, params.get("parse_mode"), markup)
        return raw

    def _send_photo(self, params: JSON) -> JSON:
        return self._send_media(params, "photo")

    def _send_document(self, params: JSON) -> JSON:
        return self._send_media(params, "document")

    def _send_voice(self, params: JSON) -> JSON:
        return self._send_media(params, "voice")

    def _send_media_group(self, params: JSON) -> list[JSON]:
        """An album: 2 to 10 photos (or 2 to 10 documents), each with its own caption.

        As on Telegram, an album has no buttons, documents are not mixed with photos, every
        message of the album counts against the rate limits, and each is checked before any
        is shown.
        """
        user = self._writable_chat(params)
        media = _as_json(params, "media")
        if not isinstance(media, list) or not media:
            raise _bad("media must be a non-empty array")
        if len(media) > 10:
            raise _bad("too many messages to send as an album")
        if len(media) < 2:
            raise _bad("media must include 2-10 items")
        kinds = {item.get("type") for item in media if isinstance(item, dict)}
        if (
            len(kinds) != 1
            or not kinds <= {"photo", "document"}
            or len(media) != sum(isinstance(item, dict) for item in media)
        ):
            raise _bad("documents can't be mixed with other media types")
        if params.get("reply_markup"):
            raise _bad("an album can't have a reply markup")
        reply_to = self._reply_target(params, user)
        items = []
        for item in media:
            name = str(item["type"])
            caption, entities = self._body(item, "caption", MAX_CAPTION, required=False)
            document, photo = self._media({**params, name: item.get("media")}, name, user)
            items.append((item, caption, entities, document, photo))
        paid = _as_bool(params.get("allow_paid_broadcast"))
        for _ in items:
            self._check_rate(user.id, paid)
        group = f"album{next(_ALBUMS)}"
        sent = []
        for item, caption, entities, document, photo in items:
            raw = self._base_message(user)
            raw["media_group_id"] = group
            if reply_to is not None:
                raw["reply_to_message"] = reply_to
            if photo is not None:
                raw["photo"] = photo
            else:
                raw["document"] = document
            if caption:
                raw["caption"] = caption
            if entities:
                raw["caption_entities"] = entities
            self._publish(user, raw, str(item.get("caption") or ""), item.get("parse_mode"), None)
            sent.append(raw)
        return sent

    def _send_location(self, params: JSON) -> JSON:
        user = self._writable_chat(params)
        point = {}
        for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
            try:
                value = float(params.get(name))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise _bad(f"{name} is empty") from None
            if not -bound <= value <= bound:
                raise _bad(f"wrong {name} specified")
            point[name] = value
        markup = self._markup(params)
        reply_to = self._reply_target(params, user)
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        raw = self._base_message(user)
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        raw["location"] = point
        if markup.inline:
            raw["reply_markup"] = markup.inline
        self._publish(user, raw, "", None, markup)
        return raw

    def _copy_message(self, params: JSON) -> JSON:
        source = self._chat(params, "from_chat_id")
        message_id = _as_int(params.get("message_id"), "message_id")
        original = source._raw.get(message_id)
        if original is None:
            raise _bad("message to copy not found")
        user = self._writable_chat(params)
        markup = self._markup(params)
        raw = self._base_message(user)
        for key in (
            "text",
            "entities",
            "photo",
            "document",
            "sticker",
            "voice",
            "location",
            "caption",
            "caption_entities",
        ):
            if key in original:
                raw[key] = original[key]
        if "caption" in params:
            caption, entities = self._body(params, "caption", MAX_CAPTION, required=False)
            raw.pop("caption", None)
            raw.pop("caption_entities", None)
            if caption:
                raw["caption"] = caption
            if entities:
                raw["caption_entities"] = entities
        if markup.inline:
            raw["reply_markup"] = markup.inline
        self._check_rate(user.id, _as_bool(params.get("allow_paid_broadcast")))
        source_view = source._screen.get(message_id)
        html = source_view.html if source_view else str(original.get("text", ""))
        self._publish(user, raw, html, None, markup)
        return {"message_id": raw["message_id"]}

    def _get_file(self, params: JSON) -> JSON:
        record = self.files.by_id.get(str(params.get("file_id") or ""))
        if record is None:
            raise _bad("invalid file_id")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": len(record.data),
            "file_path": record.file_path,
        }
