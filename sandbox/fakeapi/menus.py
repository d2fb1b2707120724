"""The rest of a chat's life: callback answers, the command menu and chat actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sandbox.fakeapi.media import MediaMessages
from sandbox.fakeapi.models import CallbackAnswer
from sandbox.fakeapi.protocol import (
    _COMMAND_RE,
    CHAT_ACTIONS,
    JSON,
    QUERY_TOO_OLD,
    _as_bool,
    _as_json,
    _bad,
)

if TYPE_CHECKING:
    from sandbox.fakeapi.users import FakeUser


class ChatExtras(MediaMessages):
    """Part of FakeTelegram: answerCallbackQuery, the command menus, sendChatAction."""

    def _init_menus(self) -> None:
        self._commands: dict[tuple[str, int, str], list[JSON]] = {}

    def commands_for(self, user: FakeUser) -> list[tuple[str, str]]:
        """Resolve the menu like Telegram: chat > all_private_chats > default, language first."""
        lang = user.language_code or ""
        keys = [
            ("chat", user.id, lang),
            ("chat", user.id, ""),
            ("all_private_chats", 0, lang),
            ("all_private_chats", 0, ""),
            ("default", 0, lang),
            ("default", 0, ""),
        ]
        for key in keys:
            commands = self._commands.get(key)
            if commands:
                return [(c["command"], c["description"]) for c in commands]
        return []

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        pending = self._queries.pop(query_id, None)
        if (
            pending is None
            or pending.future.done()
            or time.monotonic() - pending.created > self.callback_query_ttl
        ):
            raise _bad(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=query_id,
            text=str(text) if text else None,
            show_alert=_as_bool(params.get("show_alert")),
            url=str(params["url"]) if params.get("url") else None,
            cache_time=int(params.get("cache_time") or 0),
        )
        pending.future.set_result(answer)
        if self._subscribers:
            self._emit(
                "answer",
                None,
                {"query_id": query_id, "text": answer.text, "show_alert": answer.show_alert},
            )
        return True

    def _command_key(self, params: JSON) -> tuple[str, int, str]:
        scope = _as_json(params, "scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = str(scope["type"])
        chat_id = 0
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat_id = self._chat(scope).id
        elif kind not in {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
        }:
            raise _bad("wrong bot command scope type specified")
        return kind, chat_id, str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSON) -> bool:
        commands = _as_json(params, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        clean: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", ""))
            if not _COMMAND_RE.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        if len(clean) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        key = self._command_key(params)
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return list(self._commands.get(self._command_key(params), []))

    def _delete_my_commands(self, params: JSON) -> bool:
        self._commands.pop(self._command_key(params), None)
        return True

    def _send_chat_action(self, params: JSON) -> bool:
        user = self._writable_chat(params)
        action = str(params.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        if self._subscribers:
            self._emit("chat_action", user.id, {"action": action})
        return True
