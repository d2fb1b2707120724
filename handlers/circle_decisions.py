"""Decisions put to an initiative circle: /decider (the proposer's draft) and the members'
one-tap answers."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.circle_decision_buttons import DecisionAction, DecisionPress
from bot.services.circle_decision_drafts import (
    FLOW,
    OPTION_MAX,
    QUESTION_MAX,
    DecisionDrafts,
    DraftView,
    Step,
)
from bot.services.circle_decisions import CircleDecisions
from bot.services.consultation_engine import Seen
from handlers.common import (
    answer,
    button,
    label,
    onboarded_member,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Rows

Act = DecisionAction
_PROMPTS = {
    Step.QUESTION: "decisions.ask.question",
    Step.OPTIONS: "decisions.ask.options",
    Step.CLOSES: "decisions.ask.closes",
}


def _decisions(context: AppContext) -> CircleDecisions:
    return context.services.circle_decisions


def _drafts(context: AppContext) -> DecisionDrafts:
    return context.services.decision_drafts


def draft_screen(context: AppContext, lang: str, view: DraftView, name: str) -> tuple[str, Rows]:
    cancel = [button(label(context, lang, "common.button.cancel"), DecisionPress(Act.CANCEL))]
    if view.step is Step.CIRCLE:
        rows: Rows = [
            [button(title[:60], DecisionPress(Act.CIRCLE, circle_id=circle_id))]
            for circle_id, title in view.circles
        ]
        text = t(context, lang, "decisions.ask.circle")
    elif view.step is Step.PREVIEW:
        new = _drafts(context).new(0, view.data)
        shown = _decisions(context).text(
            lang, name, new.title, new.questions[0], new.closes_at, numbered=True
        )
        text = shown + "\n\n" + t(context, lang, "decisions.preview", count=view.recipients)
        rows = [[button(label(context, lang, "decisions.button.send"), DecisionPress(Act.SEND))]]
    else:
        assert view.step is not None
        limits = {"limit": QUESTION_MAX if view.step is Step.QUESTION else OPTION_MAX}
        text = t(context, lang, _PROMPTS[view.step], circle=view.data.get("circle", ""), **limits)
        rows = []
    rows.append(cancel)
    if view.error:
        error = t(context, lang, view.error, **view.error_params)
        if view.kept_text:
            error += "\n\n" + your_text(context, lang, view.kept_text)
        text = error + "\n\n" + text
    return text, rows


async def render_draft(
    update: Update, context: AppContext, member: Member, view: DraftView
) -> None:
    lang = member.language
    if view.step is None:
        if view.decision is None:
            await reply(update, context, t(context, lang, view.error or "common.stale"))
            return
        text = t(
            context,
            lang,
            "decisions.sent",
            circle=view.decision.title,
            count=view.recipients,
            closes=context.services.consultations.local(view.decision.closes_at, lang),
        )
        await show(update, context, text)
        return
    text, rows = draft_screen(context, lang, view, member.display_name)
    if update.callback_query is not None and not view.error:
        await show(update, context, text, rows)
    else:
        await reply(update, context, text, rows)


async def new_decision(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    drafts = _drafts(context)
    existing = await drafts.draft(member.telegram_id)
    if existing is not None and existing.step is not Step.CIRCLE:
        await reply(update, context, t(context, lang, "flows.resumed.circle_decision"))
        await render_draft(update, context, member, existing)
        return
    await render_draft(update, context, member, await drafts.start(member.telegram_id))


async def on_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    text = message.text if message is not None else None
    view = await _drafts(context).input(member.telegram_id, text)
    if view is None:
        await reply(update, context, t(context, member.language, "common.nothing_expected"))
        return
    await render_draft(update, context, member, view)


async def resume(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    view = await _drafts(context).draft(member.telegram_id)
    if view is not None:
        await render_draft(update, context, member, view)


async def _pick(
    update: Update, context: AppContext, member: Member, lang: str, data: DecisionPress
) -> None:
    query = update.callback_query
    if query is None:
        return
    decisions = _decisions(context)
    view = await decisions.pick(data.decision_id, member.telegram_id, data.option)
    if view.seen is Seen.UNKNOWN or view.decision is None:
        await stale(update, context, lang)
        return
    if view.seen is Seen.CLOSED:
        await answer(query, t(context, lang, "decisions.closed"), alert=True)
        return
    note = "decisions.changed" if view.changed else "decisions.unchanged"
    # Answered first, as for consultations: the spinner stops as soon as the choice is kept.
    await answer(query, t(context, lang, note))
    if view.changed:
        proposer = await decisions.proposer_name(view.decision)
        payload = decisions.screen(view.decision, lang, proposer, view.choice)
        await show(update, context, payload.text or "", payload.buttons)


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = DecisionPress.parse(query.data)
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    if data is None:
        await stale(update, context, lang)
        return
    if data.action is Act.PICK:
        await _pick(update, context, member, lang, data)
        return
    drafts = _drafts(context)
    who = member.telegram_id
    view: DraftView | None = None
    if data.action is Act.CIRCLE:
        view = await drafts.choose_circle(who, data.circle_id)
    elif data.action is Act.SEND:
        view = await drafts.send(who)
    elif data.action is Act.CANCEL and await drafts.cancel(who):
        await show(update, context, t(context, lang, "common.cancelled"))
        await answer(query)
        return
    if view is None:
        await stale(update, context, lang)
        return
    await render_draft(update, context, member, view)
    await answer(query)


INPUTS = {FLOW: on_input}
RESUMES = {FLOW: resume}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("decider", new_decision, filters=private),
        CallbackQueryHandler(on_button, pattern=DecisionPress.pattern()),
    ]
