"""Calls for help (flow 2 of PRODUCT.md): members' answers, and the routing of every call
button. The coordinator's screens are `handlers.call_drafts` (/appel) and
`handlers.call_management` (/appels)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.call_answers import Outcome
from bot.services.call_buttons import CallAction, CallPress, CallReply
from bot.services.calls import CallService
from handlers import call_drafts, call_management
from handlers.common import answer, coordinator, onboarded_member, reply, stale, t
from storage.members import Member

Act = CallAction


def _service(context: AppContext) -> CallService:
    return context.services.calls


async def list_calls(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    await call_management.list_calls(update, context, member, lang)


# --- members -------------------------------------------------------------------------------

_ANSWERS = {
    Outcome.YES: ("calls.answer.yes", False),
    Outcome.WAITING: ("calls.answer.waiting", True),
    Outcome.NO: ("calls.answer.no", False),
    Outcome.CLOSED: ("calls.answer.closed", True),
    Outcome.CANCELLED: ("calls.answer.cancelled", True),
}


async def _member_action(
    update: Update,
    context: AppContext,
    member: Member,
    lang: str,
    data: CallPress,
) -> None:
    query = update.callback_query
    if query is None:
        return
    service = _service(context)
    call_id = data.call_id
    if data.action is Act.ANSWER:
        result = await service.answer(call_id, member.telegram_id, data.reply is CallReply.YES)
        if result.outcome is Outcome.UNKNOWN:
            await stale(update, context, lang)
            return
        if result.outcome is Outcome.SAME:
            await answer(query, t(context, lang, f"calls.answer.same_{result.answer}"))
            return
        key, alert = _ANSWERS[result.outcome]
        await answer(query, t(context, lang, key), alert)
        return
    if data.action is Act.RELAY:
        found = await service.relay(call_id, member.telegram_id)
        if found is None:
            await stale(update, context, lang)
            return
        call, code = found
        link = f"https://t.me/{context.bot.username}?start=r-{code}"
        await reply(update, context, service.relay_text(call, lang, link))
        await answer(query)
        return
    await stale(update, context, lang)


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = CallPress.parse(query.data)
    if data is not None and data.action in (Act.ANSWER, Act.RELAY):
        member, lang = await onboarded_member(update, context)
        if member is not None:
            await _member_action(update, context, member, lang, data)
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
        CallbackQueryHandler(on_button, pattern=CallPress.pattern()),
    ]
