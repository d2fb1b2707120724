"""/propositions: the coordinators' moderation queue, with a reason for every refusal.

Shares the `ini` callback prefix with handlers/initiatives.py, with its own model
(ModerationPress); its handler is registered first and only takes the moderation actions. Every
press is re-checked by the service (role, and the proposal still pending), so a forged or late
press changes nothing.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.initiatives import (
    MESSAGE_MAX,
    MOD_FLOW,
    ModerationAction,
    ModerationPress,
    ModKind,
    ModResult,
    Outcome,
)
from handlers.common import (
    Routes,
    answer,
    button,
    coordinator,
    denied,
    label,
    language_for,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.initiatives import Initiative
from storage.members import Member
from storage.outbox import Button, Rows

Act = ModerationAction


def _queue_at(position: int) -> ModerationPress:
    return ModerationPress(Act.QUEUE, position=position)


def queue_screen(
    context: AppContext,
    lang: str,
    items: list[Initiative],
    position: int,
    names: dict[int, str],
) -> tuple[str, Rows]:
    if not items:
        return t(context, lang, "initiatives.queue_empty"), []
    position = min(max(position, 0), len(items) - 1)
    service = context.services.initiatives
    item = items[position]
    text = t(context, lang, "initiatives.queue_head", position=position + 1, total=len(items))
    text += "\n\n" + service.moderation_card(lang, item, names)
    rows: Rows = [[b] for row in service.moderation_buttons(lang, item.id) for b in row]
    nav: list[Button] = []
    if position > 0:
        nav.append(button(label(context, lang, "common.button.previous"), _queue_at(position - 1)))
    if position + 1 < len(items):
        nav.append(button(label(context, lang, "common.button.next"), _queue_at(position + 1)))
    if nav:
        rows.append(nav)
    return text, rows


def _back_to_queue(context: AppContext, lang: str) -> Rows:
    return [[button(label(context, lang, "initiatives.button.queue"), _queue_at(0))]]


async def proposals(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    items = await context.services.initiatives.queue(member.telegram_id) or []
    names = await context.services.initiatives.author_names(items)
    text, rows = queue_screen(context, lang, items, 0, names)
    await reply(update, context, text, rows)


async def _moderate(
    update: Update, context: AppContext, member: Member, lang: str, data: ModerationPress
) -> None:
    query = update.callback_query
    assert query is not None
    service = context.services.initiatives
    initiative_id = data.initiative_id
    if data.action is Act.PUBLISH:
        result = await service.publish(member.telegram_id, initiative_id)
    else:
        kind = ModKind.CHANGES if data.action is Act.ASK_CHANGES else ModKind.DECLINE
        result = await service.begin_decision(member.telegram_id, initiative_id, kind)
    if result.outcome is Outcome.DENIED:
        await denied(update, context, lang)
        return
    if result.outcome is Outcome.ALREADY:
        await answer(query, t(context, lang, "initiatives.already_handled"), alert=True)
        return
    if result.outcome is not Outcome.DONE or result.initiative is None:
        await stale(update, context, lang)
        return
    if data.action is Act.PUBLISH:
        text = t(context, lang, "initiatives.mod.published", title=result.initiative.title)
        await show(update, context, text, _back_to_queue(context, lang))
    else:
        await _ask_message(update, context, lang, result)
    await answer(query)


async def _ask_message(
    update: Update, context: AppContext, lang: str, result: ModResult, error: str = ""
) -> None:
    assert result.initiative is not None and result.kind is not None
    key = f"initiatives.mod.ask_{result.kind}"
    text = t(context, lang, key, title=result.initiative.title, limit=MESSAGE_MAX)
    if error:
        text = error + "\n\n" + text
    rows = [[button(label(context, lang, "common.button.cancel"), ModerationPress(Act.CANCEL))]]
    await reply(update, context, text, rows)


async def on_moderation_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    lang = language_for(context, member, update.effective_user)
    service = context.services.initiatives
    if message is None:
        return
    if message.text is None:
        pending = await service.pending_decision(member.telegram_id)
        if pending is not None and pending.initiative is not None:
            error = t(context, lang, "common.text_expected")
            await _ask_message(update, context, lang, pending, error)
        else:
            await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    result = await service.decision_text(member.telegram_id, message.text)
    if result.outcome is Outcome.DENIED:
        await denied(update, context, lang)
        return
    if result.outcome is Outcome.ALREADY:
        await reply(update, context, t(context, lang, "initiatives.already_handled"))
        return
    if result.outcome is not Outcome.DONE or result.initiative is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    if result.error:
        error = t(context, lang, result.error, limit=MESSAGE_MAX)
        if result.kept_text:
            error += "\n\n" + your_text(context, lang, result.kept_text)
        await _ask_message(update, context, lang, result, error)
        return
    key = f"initiatives.mod.done_{result.kind}"
    text = t(context, lang, key, title=result.initiative.title)
    await reply(update, context, text, _back_to_queue(context, lang))


async def _cancel(
    update: Update, context: AppContext, member: Member, lang: str, data: ModerationPress
) -> None:
    query = update.callback_query
    assert query is not None
    if not await context.services.initiatives.cancel_decision(member.telegram_id):
        await stale(update, context, lang)
        return
    await show(update, context, t(context, lang, "common.cancelled"))
    await answer(query)


async def _queue(
    update: Update, context: AppContext, member: Member, lang: str, data: ModerationPress
) -> None:
    query = update.callback_query
    assert query is not None
    items = await context.services.initiatives.queue(member.telegram_id) or []
    names = await context.services.initiatives.author_names(items)
    text, rows = queue_screen(context, lang, items, data.position, names)
    await show(update, context, text, rows)
    await answer(query)


ROUTES: Routes[ModerationPress] = {
    Act.PUBLISH: _moderate,
    Act.ASK_CHANGES: _moderate,
    Act.DECLINE: _moderate,
    Act.QUEUE: _queue,
    Act.CANCEL: _cancel,
}


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = ModerationPress.parse(query.data)
    member, lang = await coordinator(update, context)
    if member is None:
        return
    if data is None:
        await stale(update, context, lang)
        return
    await ROUTES[data.action](update, context, member, lang, data)


async def resume(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    pending = await context.services.initiatives.pending_decision(member.telegram_id)
    if pending is not None and pending.initiative is not None:
        lang = language_for(context, member, update.effective_user)
        await _ask_message(update, context, lang, pending)


INPUTS = {MOD_FLOW: on_moderation_input}
RESUMES = {MOD_FLOW: resume}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("propositions", proposals, filters=private),
        CallbackQueryHandler(on_button, pattern=ModerationPress.matches),
    ]
