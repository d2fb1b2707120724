"""/inviter for coordinators: a single-use link for the technical team or the coordination.

Without a word after it, the command offers one button per team, so nobody has to remember
"/inviter technicien"."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.member_invites import INVITE_ROLES, InviteAction, InviteFor, InvitePress
from bot.texts import Raw
from handlers.common import (
    answer,
    button,
    coordinator,
    current_member,
    label,
    reply,
    show,
    stale,
    t,
)
from storage.invites import InviteRole
from storage.members import Member

WORDS: dict[str, InviteRole] = {
    "technicien": "technician",
    "technicienne": "technician",
    "technician": "technician",
    "coordinateur": "coordinator",
    "coordinatrice": "coordinator",
    "coordination": "coordinator",
    "coordinator": "coordinator",
}


async def invite(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    role = WORDS.get(context.args[0].lower()) if context.args else None
    if role is None:
        rows = [
            [
                button(
                    label(context, lang, f"invite.button.{INVITE_ROLES[choice]}"),
                    InvitePress(InviteAction.CREATE, role=choice),
                )
            ]
            for choice in InviteFor
        ]
        await reply(update, context, t(context, lang, "invite.usage"), rows)
        return
    text = await _link_text(context, member, lang, role)
    await reply(update, context, text or t(context, lang, "common.denied"))


async def _link_text(
    context: AppContext, member: Member, lang: str, role: InviteRole
) -> str | None:
    code = await context.services.members.create_invite(member.telegram_id, role)
    if code is None:
        return None
    prefix = "t" if role == "technician" else "c"
    link = f"https://t.me/{context.bot.username}?start={prefix}-{code}"
    days = t(context, lang, "invite.days", count=context.services.settings.invite_days)
    return t(context, lang, f"invite.created.{role}", link=link, days=Raw(days))


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    member, lang = await coordinator(update, context)  # re-checked on every press
    data = InvitePress.parse(query.data)
    if member is None:
        return
    if data is None:
        await stale(update, context, lang)
        return
    text = await _link_text(context, member, lang, INVITE_ROLES[data.role])
    if text is None:
        await stale(update, context, lang)
        return
    # The question's message becomes the link: the buttons go, nobody makes two by mistake.
    await show(update, context, text)
    await answer(query)


async def my_id(update: Update, context: AppContext) -> None:
    """Anyone's Telegram id, before consent too (nothing is stored): how the very first
    coordinator learns what to put in `coordinators` (check-config points here)."""
    user = update.effective_user
    if user is None:
        return
    _member, lang = await current_member(update, context)
    await reply(update, context, t(context, lang, "invite.my_id", id=user.id))


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(on_button, pattern=InvitePress.pattern()),
        CommandHandler(["monid", "myid"], my_id, filters=private),
    ]
