"""Consultations on the member side (one question at a time, one-tap options) and the
routing of every consultation button; the coordinator's screens are
`handlers.consultation_drafts` (/consulter) and `handlers.consultation_admin`
(/consultations)."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, filters

from bot.context import AppContext
from bot.inputs import check, utf16_len
from bot.services.consultation_buttons import ConsultAction, ConsultPress
from bot.services.consultation_engine import OTHER_MAX, MemberView, Seen
from bot.services.consultations import OTHER_FLOW, OUTCOME_FLOW, ConsultationService
from handlers import consultation_admin, consultation_drafts
from handlers.checklist import checklist_rows
from handlers.common import (
    answer,
    button,
    coordinator,
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

Act = ConsultAction
BUTTON_MAX = 24
"""Longer options are numbered in the text, and the buttons carry the numbers."""
OUTCOME_MAX = 600
MEMBER_ACTIONS = frozenset({Act.START, Act.AGAIN, Act.PICK, Act.CONFIRM, Act.OTHER})


def _service(context: AppContext) -> ConsultationService:
    return context.services.consultations


def _press(action: ConsultAction, cid: int, question: int = 0, option: int = 0) -> ConsultPress:
    return ConsultPress(action, consultation_id=cid, question=question, option=option)


def question_screen(context: AppContext, lang: str, view: MemberView) -> tuple[str, Rows]:
    consultation = view.consultation
    if consultation is None:
        raise ValueError("no consultation")
    index = view.index
    question = consultation.questions[index]
    numbered = any(utf16_len(o) > BUTTON_MAX for o in question.options)
    parts = [
        t(
            context,
            lang,
            "consultations.question",
            title=consultation.title,
            number=index + 1,
            total=len(consultation.questions),
            text=question.text,
        )
    ]
    if numbered:
        parts.append(
            "\n".join(f"{i + 1}. {html.escape(o)}" for i, o in enumerate(question.options))
        )
    hint = "consultations.hint_multiple" if question.multiple else "consultations.hint_single"
    parts.append(t(context, lang, hint))
    chosen = view.answer.choices if view.answer else []
    if view.answer is not None and view.answer.other:
        parts.append(t(context, lang, "consultations.your_other", text=view.answer.other))
    if view.error:
        parts.insert(0, t(context, lang, view.error))
    labels = [str(i + 1) if numbered else o for i, o in enumerate(question.options)]
    cid = consultation.id
    rows = checklist_rows(
        labels,
        [i in chosen for i in range(len(labels))],
        lambda i: _press(Act.PICK, cid, index, i),
    )
    if not question.multiple:
        # A single choice shows the current answer ticked, the others plain.
        rows = [
            [button(("✅ " if i in chosen else "") + text, _press(Act.PICK, cid, index, i))]
            for i, text in enumerate(labels)
        ]
    if question.other:
        rows.append(
            [
                button(
                    label(context, lang, "consultations.button.other"),
                    _press(Act.OTHER, cid, index),
                )
            ]
        )
    if question.multiple:
        rows.append(
            [
                button(
                    label(context, lang, "common.button.confirm"), _press(Act.CONFIRM, cid, index)
                )
            ]
        )
    return "\n\n".join(parts), rows


def done_screen(context: AppContext, lang: str, view: MemberView) -> tuple[str, Rows]:
    consultation = view.consultation
    if consultation is None:
        raise ValueError("no consultation")
    service = _service(context)
    text = t(
        context, lang, "consultations.thanks", closes=service.local(consultation.closes_at, lang)
    )
    rows: Rows = []
    if service.engine.is_open(consultation):
        rows.append(
            [
                button(
                    label(context, lang, "consultations.button.again"),
                    _press(Act.AGAIN, consultation.id),
                )
            ]
        )
    return text, rows


async def render_member(
    update: Update, context: AppContext, lang: str, view: MemberView, *, new_message: bool
) -> None:
    query = update.callback_query
    if view.seen is Seen.UNKNOWN:
        if query is not None:
            await stale(update, context, lang)
        else:
            await reply(update, context, t(context, lang, "common.stale"))
        return
    if view.seen is Seen.CLOSED:
        closed = t(context, lang, "consultations.closed")
        if query is not None:
            await answer(query, closed, alert=True)
        else:
            await reply(update, context, closed)
        return
    if view.seen is Seen.OTHER:
        await reply(update, context, t(context, lang, "consultations.ask_other", limit=OTHER_MAX))
        if query is not None:
            await answer(query)
        return
    screen = (
        question_screen(context, lang, view)
        if view.seen is Seen.QUESTION
        else done_screen(context, lang, view)
    )
    if query is not None:
        # The answer is stored: the spinner stops now. The next question is a message that
        # waits its turn within the bot's 30 a second, which takes seconds when thousands
        # answer at once (benchmarks/bench_consultations.py); the press must not wait too.
        await answer(query)
    if new_message:
        await reply(update, context, *screen)
    else:
        await show(update, context, *screen)


async def _member_press(
    update: Update, context: AppContext, member: Member, lang: str, data: ConsultPress
) -> None:
    service = _service(context)
    who, cid = member.telegram_id, data.consultation_id
    if data.action in (Act.START, Act.AGAIN):
        view = await service.start(cid, who, again=data.action is Act.AGAIN)
        # The invitation stays as it is; the questions come in a message of their own.
        await render_member(update, context, lang, view, new_message=data.action is Act.START)
        return
    if data.action is Act.PICK:
        view = await service.pick(cid, who, data.question, data.option)
    elif data.action is Act.CONFIRM:
        view = await service.confirm(cid, who, data.question)
    else:
        view = await service.ask_other(cid, who, data.question)
    await render_member(update, context, lang, view, new_message=False)


async def on_other(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """The typed "another answer"."""
    message = update.effective_message
    lang = member.language
    text = message.text if message is not None else None
    body = check(text, OTHER_MAX)
    if not body.ok:
        key = "consultations.error.other_length"
        error = t(context, lang, key, limit=OTHER_MAX)
        if body.value:
            error += "\n\n" + your_text(context, lang, body.value)
        await reply(update, context, error)
        return
    view = await _service(context).other_text(member.telegram_id, body.value)
    await render_member(update, context, lang, view, new_message=True)


async def on_outcome(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """The coordinator's "what we will do with it" after a consultation closed."""
    coord, lang = await coordinator(update, context)
    message = update.effective_message
    if coord is None or message is None:
        return
    body = check(message.text, OUTCOME_MAX)
    if not body.ok:
        error = t(context, lang, "consultations.error.outcome_length", limit=OUTCOME_MAX)
        if body.value:
            error += "\n\n" + your_text(context, lang, body.value)
        await reply(update, context, error)
        return
    results = context.services.consultation_results
    done = await results.set_outcome(coord.telegram_id, None, body.value)
    key = "consultations.results_sent" if done else "common.stale"
    await reply(update, context, t(context, lang, key))
    if done:
        await results.send_results()


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    data = ConsultPress.parse(query.data)
    if data is not None and data.action in MEMBER_ACTIONS:
        member, lang = await onboarded_member(update, context)
        if member is not None:
            await _member_press(update, context, member, lang, data)
        return
    coord, lang = await coordinator(update, context)  # re-checked on every press
    if coord is None:
        return
    if data is not None and data.action in consultation_drafts.DRAFT_ACTIONS:
        await consultation_drafts.on_draft_button(update, context, coord, lang, data)
    elif data is not None and data.action in consultation_admin.ADMIN_ACTIONS:
        await consultation_admin.on_admin_button(update, context, coord, lang, data)
    else:
        await stale(update, context, lang)


INPUTS = {OTHER_FLOW: on_other, OUTCOME_FLOW: on_outcome, **consultation_drafts.INPUTS}
RESUMES = consultation_drafts.RESUMES


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        *consultation_drafts.build_handlers(private),
        *consultation_admin.build_handlers(private),
        CallbackQueryHandler(on_button, pattern=ConsultPress.pattern()),
    ]
