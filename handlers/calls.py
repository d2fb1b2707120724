"""Calls for help (flow 2 of PRODUCT.md): the routing of every call button. Members' side
is `handlers.call_mine` (answers, /mesappels); the coordinator's screens are
`handlers.call_drafts` (/appel) and `handlers.call_management` (/appels)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.call_buttons import CallAction, CallPress
from bot.services.calls import CallService
from handlers import call_drafts, call_management, call_mine
from handlers.common import coordinator, stale

Act = CallAction


def _service(context: AppContext) -> CallService:
    return context.services.calls


async def list_calls(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    await call_management.list_calls(update, context, member, lang)


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = CallPress.parse(query.data)
    if data is not None and data.action in call_mine.MEMBER_ACTIONS:
        await call_mine.on_button(update, context, data)
        return
    coord, lang = await coordinator(update, context)  # re-checked on every press
    if coord is None:
        return
    if data is not None and data.action in call_drafts.DRAFT_ACTIONS:
        await call_drafts.on_draft_button(update, context, coord, lang, data)
    elif data is not None and data.action in call_management.MANAGE_ACTIONS:
        await call_management.on_manage_button(update, context, coord, lang, data)
    else:
        await stale(update, context, lang)


INPUTS = call_drafts.INPUTS
RESUMES = call_drafts.RESUMES


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("appel", call_drafts.new_call, filters=private),
        CommandHandler("appels", list_calls, filters=private),
        CommandHandler("mesappels", call_mine.my_calls, filters=private),
        CallbackQueryHandler(on_button, pattern=CallPress.pattern()),
    ]
