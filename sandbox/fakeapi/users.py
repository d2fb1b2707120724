"""Simulated Telegram users: they send updates to the bot and keep the screen the bot drew.

Tests talk through these objects ("Alice sends /start, sees the welcome, presses a button")
so that they read like user stories and keep working if the bot's internals change.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from sandbox.fakeapi.html_check import utf16_len
from sandbox.fakeapi.models import CallbackAnswer, ChatEvent, ChatMessage

if TYPE_CHECKING:
    from sandbox.fakeapi.server import FakeTelegram

__all__ = ["FakeUser"]

_query_ids = itertools.count(4_000_000_000_000_000_001)

# Smallest valid JPEG-ish payload: enough for download round trips, never decoded.
FAKE_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
FAKE_OGG = b"OggS\x00\x02" + b"\x00" * 20
FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 14


_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


def seen(text: str) -> str:
    """Text as a person sees it: a non-breaking space (French puts one before "!" or ":")
    looks like a space, so a test may write "Merci !" with an ordinary one."""
    return text.translate(_SPACES)


class FakeUser:
    """A private-chat user of the bot; the chat id equals the user id, as in Telegram."""

    __slots__ = (
        "_inbox",
        "_next_message_id",
        "_raw",
        "_screen",
        "_server",
        "_wakeup",
        "blocked",
        "deactivated",
        "events",
        "first_name",
        "id",
        "is_premium",
        "language_code",
        "last_name",
        "reply_keyboard",
        "username",
    )

    def __init__(
        self,
        server: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> None:
        self._server = server
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.last_name = last_name
        self.language_code = language_code
        self.is_premium = is_premium
        self.blocked = False
        self.deactivated = False
        self.events: list[ChatEvent] = []
        self.reply_keyboard: list[list[str]] | None = None
        self._raw: dict[int, dict[str, Any]] = {}
        self._screen: dict[int, ChatMessage] = {}
        self._inbox: deque[ChatMessage] = deque()
        self._wakeup: asyncio.Event | None = None
        self._next_message_id = 1

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    # ----------------------------------------------------------------- JSON shapes
    def user_json(self) -> dict[str, Any]:
        """The `from` object Telegram puts in this user's updates."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    def chat_json(self) -> dict[str, Any]:
        """The private `chat` object: id == user id, type private."""
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data

    # ------------------------------------------------------------ screen and log
    @property
    def messages(self) -> list[ChatMessage]:
        """What the bot currently shows in this chat: edits applied, deletions removed."""
        return list(self._screen.values())

    @property
    def last(self) -> ChatMessage:
        """The latest bot message still on screen."""
        if not self._screen:
            raise AssertionError(f"{self.first_name} has no message from the bot")
        return next(reversed(self._screen.values()))

    @property
    def commands(self) -> list[tuple[str, str]]:
        """The command menu Telegram would show this user: (command, description) pairs."""
        return self._server.commands_for(self)

    def block(self) -> None:
        """The user blocks the bot: further bot sends answer 403."""
        self.blocked = True

    def unblock(self) -> None:
        """The user unblocks the bot."""
        self.blocked = False

    def transcript(self, last: int = 10) -> str:
        """Recent conversation (both directions), for readable assertion failures."""
        shown = [e.message for e in self.events if e.message is not None][-last:]
        lines = [m.render() for m in shown] or ["(nothing)"]
        return "\n".join(f"  {line}" for line in lines)

    def clear_inbox(self) -> None:
        """Forget bot events not yet consumed by receive()."""
        self._inbox.clear()

    # --------------------------------------------- called by the server on bot actions
    def _take_message_id(self) -> int:
        mid = self._next_message_id
        self._next_message_id += 1
        return mid

    def _notify(self, message: ChatMessage) -> None:
        self._inbox.append(message)
        if self._wakeup is not None:
            self._wakeup.set()

    def _bot_message(self, raw: dict[str, Any], view: ChatMessage, edited: bool) -> None:
        self._raw[view.message_id] = raw
        self._screen[view.message_id] = view
        self.events.append(ChatEvent("edited" if edited else "received", view))
        self._notify(view)

    def _bot_deleted(self, message_id: int) -> None:
        self._raw.pop(message_id, None)
        view = self._screen.pop(message_id, None)
        self.events.append(ChatEvent("deleted", view))

    # --------------------------------------------------------------- user actions
    def _base_message(self) -> dict[str, Any]:
        return {
            "message_id": self._take_message_id(),
            "from": self.user_json(),
            "chat": self.chat_json(),
            "date": int(time.time()),
        }

    async def _deliver(self, raw: dict[str, Any], view: ChatMessage) -> ChatMessage:
        self._raw[view.message_id] = raw
        self.events.append(ChatEvent("sent", view))
        self._server.push_update({"message": raw}, chat_id=self.id, view=view)
        await asyncio.sleep(0)
        return view

    async def send(self, text: str) -> ChatMessage:
        """Type and send a text; a leading /command gets its bot_command entity."""
        raw = self._base_message()
        raw["text"] = text
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0] if text.strip() else text
            raw["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        view = ChatMessage(
            raw["message_id"], text=text, html=text, date=raw["date"], from_bot=False
        )
        return await self._deliver(raw, view)

    async def send_photo(self, caption: str | None = None, data: bytes = FAKE_JPEG) -> ChatMessage:
        """Send a photo (fake JPEG by default) that the bot can fetch with getFile."""
        raw = self._base_message()
        raw["photo"] = self._server.files.photo_sizes(data)
        if caption:
            raw["caption"] = caption
        view = ChatMessage(
            raw["message_id"],
            photo=raw["photo"][-1]["file_id"],
            caption=caption,
            html=caption or "",
            date=raw["date"],
            from_bot=False,
            kind="photo",
        )
        return await self._deliver(raw, view)

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> ChatMessage:
        """Send a file the bot can download."""
        raw = self._base_message()
        raw["document"] = self._server.files.document(data, file_name, mime_type)
        if caption:
            raw["caption"] = caption
        view = ChatMessage(
            raw["message_id"],
            document=(file_name, data),
            caption=caption,
            html=caption or "",
            date=raw["date"],
            from_bot=False,
            kind="document",
        )
        return await self._deliver(raw, view)

    async def send_sticker(self, emoji: str = "\N{THUMBS UP SIGN}") -> ChatMessage:
        """Send a regular static sticker."""
        raw = self._base_message()
        record = self._server.files.add(FAKE_WEBP, "stickers", ".webp", "image/webp")
        raw["sticker"] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(FAKE_WEBP),
        }
        view = ChatMessage(raw["message_id"], date=raw["date"], from_bot=False, kind="sticker")
        return await self._deliver(raw, view)

    async def send_voice(self, duration: int = 3, data: bytes = FAKE_OGG) -> ChatMessage:
        """Send a voice note."""
        raw = self._base_message()
        record = self._server.files.add(data, "voice", ".oga", "audio/ogg")
        raw["voice"] = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        view = ChatMessage(raw["message_id"], date=raw["date"], from_bot=False, kind="voice")
        return await self._deliver(raw, view)

    async def send_location(self, latitude: float, longitude: float) -> ChatMessage:
        """Share a location (the attachment menu's "Location"), as a static point."""
        raw = self._base_message()
        raw["location"] = {"latitude": latitude, "longitude": longitude}
        view = ChatMessage(raw["message_id"], date=raw["date"], from_bot=False, kind="location")
        return await self._deliver(raw, view)

    async def tap_keyboard(self, text: str) -> ChatMessage:
        """Tap a reply-keyboard key: sends its text, after checking the key is shown."""
        keys = [key for row in self.reply_keyboard or [] for key in row]
        if text not in keys:
            raise AssertionError(
                f"{self.first_name} has no reply-keyboard key {text!r}; keyboard: "
                f"{self.reply_keyboard!r}"
            )
        return await self.send(text)

    async def receive(self, contains: str | None = None, timeout: float = 5.0) -> ChatMessage:
        """Wait for the next bot message or edit not yet consumed here.

        With `contains`, events whose text/caption lack it are consumed and skipped. On
        timeout the AssertionError shows the user's recent conversation, which is usually
        the fastest way to see what the bot did instead.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[ChatMessage] = []
        while True:
            while self._inbox:
                message = self._inbox.popleft()
                if contains is None or seen(contains) in seen(message.content):
                    return message
                skipped.append(message)
            remaining = deadline - loop.time()
            if remaining <= 0:
                wanted = f" containing {contains!r}" if contains else ""
                skipped_txt = "".join(f"\n  skipped {m.render()}" for m in skipped)
                raise AssertionError(
                    f"{self.first_name} ({self.id}) received no bot message{wanted} within "
                    f"{timeout}s.{skipped_txt}\nRecent conversation:\n{self.transcript()}"
                )
            self._wakeup = asyncio.Event()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._wakeup = None

    def _find_button(self, text: str, message: ChatMessage | None) -> tuple[ChatMessage, str]:
        if message is not None:
            current = self._screen.get(message.message_id)
            if current is None:
                raise AssertionError(
                    f"message #{message.message_id} is no longer on {self.first_name}'s screen"
                )
            candidates = [current]
        else:
            candidates = list(reversed(self._screen.values()))
        for candidate in candidates:
            by_sight = {seen(label): data for label, data in candidate.button_data.items()}
            if seen(text) in by_sight:
                return candidate, by_sight[seen(text)]
            if seen(text) in {seen(label) for label in candidate.button_urls}:
                raise AssertionError(f"button {text!r} is a URL button, it opens a link")
        available = [f"#{m.message_id}: {m.buttons}" for m in candidates if m.buttons] or [
            "(no inline buttons on screen)"
        ]
        raise AssertionError(
            f"no inline button with exact text {text!r} for {self.first_name}. "
            f"Available buttons:\n  " + "\n  ".join(available)
        )

    async def press(
        self, text: str, message: ChatMessage | None = None, timeout: float = 5.0
    ) -> CallbackAnswer:
        """Press the inline button with exactly this text and return the bot's answer."""
        target, data = self._find_button(text, message)
        return await self._press(target.message_id, data, timeout)

    async def press_data(
        self, data: str, message_id: int | None = None, timeout: float = 5.0
    ) -> CallbackAnswer:
        """Send a forged callback query with arbitrary data, as a malicious client could."""
        if message_id is None:
            message_id = self.last.message_id
        return await self._press(message_id, data, timeout)

    async def _press(self, message_id: int, data: str, timeout: float) -> CallbackAnswer:
        raw_message = self._raw.get(message_id)
        query_id = str(next(_query_ids))
        query: dict[str, Any] = {
            "id": query_id,
            "from": self.user_json(),
            "chat_instance": str(-(self.id * 7919 + 17)),
            "data": data,
        }
        if raw_message is not None:
            query["message"] = raw_message
        else:
            # Telegram sends an "inaccessible message" when the original is gone.
            query["message"] = {"chat": self.chat_json(), "message_id": message_id, "date": 0}
        self.events.append(ChatEvent("pressed", self._screen.get(message_id), data=data))
        future = self._server.expect_answer(query_id)
        self._server.push_update({"callback_query": query}, chat_id=self.id)
        try:
            answer = await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            self._server.forget_query(query_id)
            raise AssertionError(
                f"the bot did not answer the callback query {data!r} of {self.first_name} "
                f"within {timeout}s (Telegram keeps the button spinning).\n"
                f"Recent conversation:\n{self.transcript()}"
            ) from None
        self.events.append(ChatEvent("answer", answer=answer))
        return answer
