"""/appel: the coordinator's draft of a call for help, step by step, up to its preview."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot.context import AppContext
from bot.services.audience import AudienceStep
from bot.services.call_buttons import CallAction, CallPress, Every
from bot.services.call_drafts import (
    AUDIENCE_STEPS,
    FLOW,
    CallDrafts,
    DeadlinePreset,
    DraftView,
    Step,
)
from handlers.audience import audience_screen
from handlers.common import answer, button, coordinator, label, reply, show, stale, t, your_text
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Button, Rows

Act = CallAction
DRAFT_ACTIONS = frozenset(
    {Act.DEADLINE, Act.TOGGLE, Act.CONFIRM, Act.AUDIENCE, Act.SEND_NOW, Act.SCHEDULE}
    | {Act.CANCEL_DRAFT}
)

_PROMPTS = {
    Step.TEXT: "calls.ask.text",
    Step.PLACE: "calls.ask.place",
    Step.WHEN: "calls.ask.when",
    Step.NEEDED: "calls.ask.needed",
    Step.DEADLINE: "calls.ask.deadline",
    Step.SCHEDULE: "calls.ask.schedule",
}


def _drafts(context: AppContext) -> CallDrafts:
    return context.services.call_drafts


def _cancel_row(context: AppContext, lang: str) -> list[Button]:
    return [button(label(context, lang, "common.button.cancel"), CallPress(Act.CANCEL_DRAFT))]


def _toggle(step: Step, index: int | None) -> CallPress:
    where: int | Every = Every.ALL if index is None else index
    return CallPress(Act.TOGGLE, step=step.value, index=where)


def _deadline(preset: DeadlinePreset) -> CallPress:
    return CallPress(Act.DEADLINE, preset=preset.value)


def step_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    step = view.step
    if step is None or step is Step.PREVIEW:
        raise ValueError("not a question step")
    rows: Rows = []
    if step in AUDIENCE_STEPS:
        text, rows = audience_screen(
            context,
            lang,
            AudienceStep(step.value),
            view.data,
            lambda i: _toggle(step, i),
            CallPress(Act.CONFIRM, step=step.value),
        )
    else:
        text = t(context, lang, _PROMPTS[step])
    if step is Step.DEADLINE:
        rows = [
            [
                button(
                    label(context, lang, "calls.button.deadline_2h"),
                    _deadline(DeadlinePreset.TWO_HOURS),
                ),
                button(
                    label(context, lang, "calls.button.deadline_eve"),
                    _deadline(DeadlinePreset.EVE),
                ),
            ]
        ]
    rows.append(_cancel_row(context, lang))
    if view.error:
        error = t(context, lang, view.error, **view.error_params)
        if view.kept_text:
            error += "\n\n" + your_text(context, lang, view.kept_text)
        text = error + "\n\n" + text
    return text, rows


async def render(update: Update, context: AppContext, lang: str, view: DraftView) -> None:
    """The next screen of /appel: a question, the preview, or the confirmation."""
    if view.step is None:
        call = view.call
        if call is None:
            return
        if call.status == "scheduled" and call.scheduled_at is not None:
            text = t(
                context,
                lang,
                "calls.scheduled",
                id=call.id,
                when=context.services.calls.local(call.scheduled_at, lang),
            )
        else:
            text = t(context, lang, "calls.sent", id=call.id, count=call.recipients)
        await show(update, context, text)
        return
    if view.step is Step.PREVIEW:
        await _preview(update, context, lang, view)
        return
    text, rows = step_screen(context, lang, view)
    if update.callback_query is not None and not view.error:
        await show(update, context, text, rows)
    else:
        await reply(update, context, text, rows)


def _preview_actions(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    text = t(context, lang, "calls.preview", count=view.recipients)
    if view.error:
        text = t(context, lang, view.error, **view.error_params) + "\n\n" + text
    rows: Rows = [
        [button(label(context, lang, "calls.button.send_now"), CallPress(Act.SEND_NOW))],
        [button(label(context, lang, "calls.button.schedule"), CallPress(Act.SCHEDULE))],
        _cancel_row(context, lang),
    ]
    return text, rows


async def _preview(update: Update, context: AppContext, lang: str, view: DraftView) -> None:
    """First the call exactly as members will see it, then the count and the actions."""
    chat = update.effective_chat
    if chat is None or view.preview is None:
        return
    if view.photo:
        await context.bot.send_photo(
            chat.id, view.photo, caption=view.preview, parse_mode=ParseMode.HTML
        )
    else:
        await reply(update, context, view.preview)
    await reply(update, context, *_preview_actions(context, lang, view))


async def new_call(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    view = await _drafts(context).start_draft(member.telegram_id)
    if view is None:
        return
    await render(update, context, lang, view)


async def on_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """Typed answers of the /appel flow; at the text step a photo with a caption too."""
    message = update.effective_message
    if message is None:
        return
    coord, lang = await coordinator(update, context)
    if coord is None:
        return
    photo = message.photo[-1].file_id if message.photo else None
    # A caption counts with a photo only: a document or a video is not the call's text.
    text = message.text if message.text is not None else (message.caption if photo else None)
    drafts = _drafts(context)
    view = await drafts.draft_input(member.telegram_id, text, photo)
    if view is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    await render(update, context, lang, view)


async def on_draft_button(
    update: Update, context: AppContext, coord: Member, lang: str, data: CallPress
) -> None:
    query = update.callback_query
    if query is None:
        return
    drafts = _drafts(context)
    action = data.action
    who = coord.telegram_id
    view: DraftView | None = None
    try:
        if action is Act.DEADLINE:
            view = await drafts.draft_deadline(who, DeadlinePreset(data.preset))
        elif action is Act.TOGGLE:
            index = None if data.index is Every.ALL else data.index
            view = await drafts.draft_toggle(who, Step(data.step), index)
        elif action is Act.CONFIRM:
            view = await drafts.draft_confirm(who, Step(data.step))
        elif action is Act.AUDIENCE:
            view = await drafts.draft_audience(who, data.ambassadors)
        elif action is Act.SEND_NOW:
            view = await drafts.send_now(who)
        elif action is Act.SCHEDULE:
            view = await drafts.draft_schedule(who)
        elif action is Act.CANCEL_DRAFT and await drafts.cancel_draft(who):
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
