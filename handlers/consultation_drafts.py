"""/consulter: the coordinator's draft of a consultation, step by step, up to its preview."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.audience import AudienceStep
from bot.services.consultation_buttons import ConsultAction, ConsultPress, Every
from bot.services.consultation_drafts import (
    AUDIENCE_STEPS,
    FLOW,
    ConsultationDrafts,
    DraftView,
    Step,
)
from handlers.audience import audience_screen
from handlers.common import answer, button, coordinator, label, reply, show, stale, t, your_text
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Button, Rows

Act = ConsultAction
DRAFT_ACTIONS = frozenset(
    {Act.DRAFT_MULTIPLE, Act.DRAFT_OTHER, Act.DRAFT_ANONYMOUS, Act.DRAFT_NEXT, Act.DRAFT_DONE}
    | {Act.DRAFT_SKIP, Act.DRAFT_TOGGLE, Act.DRAFT_CONFIRM, Act.SEND_NOW, Act.SCHEDULE}
    | {Act.CANCEL_DRAFT}
)
_PROMPTS = {
    Step.TITLE: "consultations.ask.title",
    Step.INTRO: "consultations.ask.intro",
    Step.Q_TEXT: "consultations.ask.question",
    Step.Q_OPTIONS: "consultations.ask.options",
    Step.Q_KIND: "consultations.ask.kind",
    Step.Q_OTHER: "consultations.ask.other",
    Step.Q_MORE: "consultations.ask.more",
    Step.ANONYMOUS: "consultations.ask.anonymous",
    Step.CLOSES: "consultations.ask.closes",
    Step.SCHEDULE: "consultations.ask.schedule",
}


def _drafts(context: AppContext) -> ConsultationDrafts:
    return context.services.consultation_drafts


def _p(action: ConsultAction, **fields: object) -> ConsultPress:
    return ConsultPress(action, **fields)  # type: ignore[arg-type]


def _button(context: AppContext, lang: str, key: str, press: ConsultPress) -> list[Button]:
    return [button(label(context, lang, key), press)]


def _step_rows(context: AppContext, lang: str, step: Step) -> Rows:
    b = _button
    if step is Step.INTRO:
        return [b(context, lang, "consultations.button.skip", _p(Act.DRAFT_SKIP))]
    if step is Step.Q_KIND:
        return [
            b(context, lang, "consultations.button.single", _p(Act.DRAFT_MULTIPLE, flag=False)),
            b(context, lang, "consultations.button.multiple", _p(Act.DRAFT_MULTIPLE, flag=True)),
        ]
    if step in (Step.Q_OTHER, Step.ANONYMOUS):
        action = Act.DRAFT_OTHER if step is Step.Q_OTHER else Act.DRAFT_ANONYMOUS
        return [
            [
                button(label(context, lang, "consultations.button.yes"), _p(action, flag=True)),
                button(label(context, lang, "consultations.button.no"), _p(action, flag=False)),
            ]
        ]
    if step is Step.Q_MORE:
        return [
            b(context, lang, "consultations.button.another", _p(Act.DRAFT_NEXT)),
            b(context, lang, "consultations.button.enough", _p(Act.DRAFT_DONE)),
        ]
    return []


def step_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    step = view.step
    if step is None or step is Step.PREVIEW:
        raise ValueError("not a question step")
    if step in AUDIENCE_STEPS:
        text, rows = audience_screen(
            context,
            lang,
            AudienceStep(step.value),
            view.data,
            lambda i: _p(Act.DRAFT_TOGGLE, step=step.value, index=Every.ALL if i is None else i),
            _p(Act.DRAFT_CONFIRM, step=step.value),
        )
    else:
        number = len(view.data.get("questions", [])) + 1
        text = t(context, lang, _PROMPTS[step], number=number)
        rows = _step_rows(context, lang, step)
    rows.append(_button(context, lang, "common.button.cancel", _p(Act.CANCEL_DRAFT)))
    if view.error:
        error = t(context, lang, view.error, **view.error_params)
        if view.kept_text:
            error += "\n\n" + your_text(context, lang, view.kept_text)
        text = error + "\n\n" + text
    return text, rows


async def render(update: Update, context: AppContext, lang: str, view: DraftView) -> None:
    if view.step is None:
        consultation = view.consultation
        if consultation is None:
            return
        service = context.services.consultations
        if consultation.status == "scheduled" and consultation.scheduled_at is not None:
            when = service.local(consultation.scheduled_at, lang)
            text = t(context, lang, "consultations.scheduled", id=consultation.id, when=when)
        else:
            text = t(
                context,
                lang,
                "consultations.sent",
                id=consultation.id,
                count=consultation.recipients,
            )
        await show(update, context, text)
        return
    if view.step is Step.PREVIEW:
        for page in view.pages:
            await reply(update, context, page)
        text = t(context, lang, "consultations.preview", count=view.recipients)
        if view.error:
            text = t(context, lang, view.error) + "\n\n" + text
        rows: Rows = [
            _button(context, lang, "consultations.button.send_now", _p(Act.SEND_NOW)),
            _button(context, lang, "consultations.button.schedule", _p(Act.SCHEDULE)),
            _button(context, lang, "common.button.cancel", _p(Act.CANCEL_DRAFT)),
        ]
        await reply(update, context, text, rows)
        return
    text, rows = step_screen(context, lang, view)
    if update.callback_query is not None and not view.error:
        await show(update, context, text, rows)
    else:
        await reply(update, context, text, rows)


async def new_consultation(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    drafts = _drafts(context)
    existing = await drafts.draft(member.telegram_id)
    if existing is not None and existing.data.get("title"):
        # A draft in progress (after a restart, or another flow) is resumed, never replaced.
        await reply(update, context, t(context, lang, "flows.resumed.consultation"))
        await render(update, context, lang, existing)
        return
    view = await drafts.start(member.telegram_id)
    if view is not None:
        await render(update, context, lang, view)


async def on_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    coord, lang = await coordinator(update, context)
    if coord is None or message is None:
        return
    view = await _drafts(context).input(member.telegram_id, message.text)
    if view is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    await render(update, context, lang, view)


async def on_draft_button(
    update: Update, context: AppContext, coord: Member, lang: str, data: ConsultPress
) -> None:
    query = update.callback_query
    if query is None:
        return
    drafts = _drafts(context)
    who, action = coord.telegram_id, data.action
    view: DraftView | None = None
    try:
        if action is Act.DRAFT_SKIP:
            view = await drafts.skip_intro(who)
        elif action is Act.DRAFT_MULTIPLE:
            view = await drafts.flag(who, Step.Q_KIND, data.flag)
        elif action is Act.DRAFT_OTHER:
            view = await drafts.flag(who, Step.Q_OTHER, data.flag)
        elif action is Act.DRAFT_ANONYMOUS:
            view = await drafts.flag(who, Step.ANONYMOUS, data.flag)
        elif action in (Act.DRAFT_NEXT, Act.DRAFT_DONE):
            view = await drafts.more(who, another=action is Act.DRAFT_NEXT)
        elif action is Act.DRAFT_TOGGLE:
            index = None if data.index is Every.ALL else data.index
            view = await drafts.toggle(who, Step(data.step), index)
        elif action is Act.DRAFT_CONFIRM:
            view = await drafts.confirm(who, Step(data.step))
        elif action is Act.SEND_NOW:
            view = await drafts.send_now(who)
        elif action is Act.SCHEDULE:
            view = await drafts.to_schedule(who)
        elif action is Act.CANCEL_DRAFT and await drafts.cancel(who):
            await show(update, context, t(context, lang, "common.cancelled"))
            await answer(query)
            return
    except ValueError:
        view = None
    if view is None:
        await stale(update, context, lang)
        return
    await render(update, context, lang, view)
    await answer(query)


async def resume(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    view = await _drafts(context).draft(member.telegram_id)
    if view is not None:
        await render(update, context, member.language, view)


INPUTS = {FLOW: on_input}
RESUMES = {FLOW: resume}


def build_handlers(private: filters.BaseFilter) -> list[BaseHandler[Update, AppContext, None]]:
    return [CommandHandler("consulter", new_consultation, filters=private)]
