"""/mesdonnees and /oublier: a member's data given back as a file, or erased after a yes."""

from __future__ import annotations

import json

from telegram import InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.privacy import PrivacyAction, PrivacyPress
from handlers.common import (
    answer,
    button,
    current_member,
    label,
    reply,
    show,
    stale,
    t,
)
from handlers.onboarding import summary_text


async def my_data(update: Update, context: AppContext) -> None:
    member, lang = await current_member(update, context)
    chat = update.effective_chat
    if chat is None:
        return
    mine = await context.services.privacy.export(member.telegram_id, lang) if member else None
    if member is None or mine is None:
        await reply(update, context, t(context, lang, "privacy.nothing_stored"))
        return
    referrals = await context.services.members.referrals(member.telegram_id)
    parts = [
        t(context, lang, "privacy.summary.title"),
        summary_text(context, lang, mine.member, referrals),
    ]
    if mine.sections:
        lines = [
            t(context, lang, "privacy.summary.line", name=n, count=c) for n, c in mine.sections
        ]
        parts.append(t(context, lang, "privacy.summary.also") + "\n" + "\n".join(lines))
    await reply(update, context, "\n\n".join(parts))
    body = json.dumps(mine.data, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    await context.bot.send_document(
        chat.id,
        InputFile(body, filename="mes-donnees-essaim.json"),
        caption=t(context, lang, "privacy.export_caption"),
    )


async def forget(update: Update, context: AppContext) -> None:
    """Erasure works at any point after consent, in the middle of onboarding too."""
    member, lang = await current_member(update, context)
    if member is None:
        await reply(update, context, t(context, lang, "privacy.nothing_stored"))
        return
    rows = [
        [
            button(
                label(context, lang, "privacy.button.confirm"),
                PrivacyPress(PrivacyAction.ERASE, member_id=member.telegram_id),
            )
        ],
        [button(label(context, lang, "common.button.cancel"), PrivacyPress(PrivacyAction.KEEP))],
    ]
    text = t(context, lang, "privacy.confirm")
    if await context.services.circles.has_circles(member.telegram_id):
        text += "\n\n" + t(context, lang, "circles.forget_note")  # honest about copies
    await reply(update, context, text, rows)


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    member, lang = await current_member(update, context)
    data = PrivacyPress.parse(query.data)
    # The button names whose data it erases; only that very member may press it.
    if data is None or member is None or data.member_id not in (0, member.telegram_id):
        await stale(update, context, lang)
        return
    if data.action is PrivacyAction.KEEP:
        await show(update, context, t(context, lang, "privacy.kept"))
        await answer(query)
        return
    if data.action is PrivacyAction.ERASE and data.member_id == member.telegram_id:
        await context.services.privacy.erase(member.telegram_id)
        await show(update, context, t(context, lang, "privacy.erased"))
        await answer(query)
        return
    await stale(update, context, lang)


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler(["mesdonnees", "mydata"], my_data, filters=private),
        CommandHandler(["oublier", "forget"], forget, filters=private),
        CallbackQueryHandler(on_button, pattern=PrivacyPress.pattern()),
    ]
