"""The command menu, per role: everyone sees the member commands, staff see theirs too."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.callbacks import Layout, Press
from bot.context import AppContext
from bot.texts import LANGUAGES, Texts, plain
from handlers.common import answer, button, current_member, label, stale
from storage.members import Member
from storage.outbox import Rows

MEMBER = [
    "aide",
    "profil",
    "mesappels",
    "proposer",
    "initiatives",
    "mesinitiatives",
    "cercles",
    "decider",
    "binome",
    "signaler",
    "messignalements",
    "pause",
    "reprendre",
    "langue",
    "mesdonnees",
    "oublier",
]
TECHNICIAN = [
    "binome",
    "cercles",
    "aide",
    "profil",
    "langue",
    "pause",
    "reprendre",
    "mesdonnees",
    "oublier",
]
COORDINATOR = [
    "appel",
    "appels",
    "consulter",
    "consultations",
    "propositions",
    "signalements",
    "binomes",
    "stats",
    "export",
    "inviter",
    "silence",
    *MEMBER,
]


def commands(texts: Texts, lang: str, names: list[str]) -> list[BotCommand]:
    return [BotCommand(name, plain(texts.get(lang, f"menu.{name}"))) for name in names]


def names_for(member: Member) -> list[str]:
    if member.is_coordinator:
        return COORDINATOR
    if member.is_technician:
        return list(dict.fromkeys([*TECHNICIAN, *MEMBER]))
    return MEMBER


async def set_default(context_bot: object, texts: Texts) -> None:
    """The menu every private chat sees, in each language plus the default one."""
    from telegram import Bot

    assert isinstance(context_bot, Bot)
    await context_bot.set_my_commands(commands(texts, texts.default, MEMBER))
    for lang in LANGUAGES:
        await context_bot.set_my_commands(
            commands(texts, lang, MEMBER), scope=BotCommandScopeDefault(), language_code=lang
        )


async def set_for_member(
    context: AppContext, member: Member, *, language_chosen: bool = False
) -> None:
    """Staff get a chat-scoped menu; a failure here must never break the flow it follows.

    Other members see the default menu in their Telegram app's language, until they pick a
    language with /langue: from then on their chat has its own menu, in that language.
    """
    if not (member.is_coordinator or member.is_technician or language_chosen):
        return
    texts = context.services.texts
    try:
        await context.bot.set_my_commands(
            commands(texts, member.language, names_for(member)),
            scope=BotCommandScopeChat(member.telegram_id),
        )
    except TelegramError:
        return


# --- shortcuts: what a member can do now, as buttons (a free message outside any flow) ---


class MenuAction(StrEnum):
    GO = "go"


@dataclass(frozen=True)
class MenuPress(Press):
    """A shortcut button: run this command, as if the member had typed it."""

    PREFIX: ClassVar[str] = "menu"
    LAYOUT: ClassVar[Layout] = {MenuAction.GO: "command"}
    action: MenuAction
    command: str = ""


def shortcuts(member: Member) -> list[str]:
    """A few commands for this member's role, most useful first."""
    if member.is_coordinator:
        return ["appel", "propositions", "binomes", "aide"]
    paired = ["binome"] if member.is_citizen_gardener or member.is_technician else []
    if member.is_technician:
        return [*paired, "profil", "aide"]
    return ["initiatives", "proposer", *paired, "profil", "aide"]


def shortcut_rows(context: AppContext, lang: str, member: Member) -> Rows:
    return [
        [button(label(context, lang, f"menu.{name}"), MenuPress(MenuAction.GO, command=name))]
        for name in shortcuts(member)
    ]


async def go(update: Update, context: AppContext) -> None:
    """A shortcut button runs its command, as if the member had typed it."""
    query = update.callback_query
    member, lang = await current_member(update, context)
    data = MenuPress.parse(query.data if query else None)
    name = data.command if data else None
    if query is None or member is None or name not in shortcuts(member):
        await stale(update, context, lang)
        return
    for group in context.application.handlers.values():
        for handler in group:
            if isinstance(handler, CommandHandler) and name in handler.commands:
                await handler.callback(update, context)
                await answer(query)
                return
    await stale(update, context, lang)
