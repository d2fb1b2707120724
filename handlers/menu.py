"""The command menu, per role: everyone sees the member commands, staff see theirs too."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.context import AppContext
from bot.texts import LANGUAGES, Texts, plain
from storage.members import Member

MEMBER = [
    "aide",
    "profil",
    "proposer",
    "initiatives",
    "mesinitiatives",
    "binome",
    "signaler",
    "messignalements",
    "pause",
    "reprendre",
    "langue",
    "mesdonnees",
    "oublier",
]
TECHNICIAN = ["binome", "aide", "profil", "langue", "pause", "reprendre", "mesdonnees", "oublier"]
COORDINATOR = [
    "appel",
    "appels",
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


async def set_for_member(context: AppContext, member: Member) -> None:
    """Staff get a chat-scoped menu; a failure here must never break the flow it follows."""
    if not (member.is_coordinator or member.is_technician):
        return
    texts = context.services.texts
    try:
        await context.bot.set_my_commands(
            commands(texts, member.language, names_for(member)),
            scope=BotCommandScopeChat(member.telegram_id),
        )
    except TelegramError:
        return
