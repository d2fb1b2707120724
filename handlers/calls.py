"""/appel, /appels and members' answers to calls for help (flow 2 of PRODUCT.md)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.call_answers import Outcome
from bot.services.call_drafts import FLOW, CallDrafts, DeadlinePreset, DraftView, Step
from bot.services.calls import CallAction, CallCounts, CallPress, CallReply, CallService, Every
from bot.texts import Raw
from handlers.common import (
    answer,
    coordinator,
    label,
    onboarded_member,
    reply,
    show,
    stale,
    t,
    your_text,
)
from storage.calls import Call, Volunteer
from storage.conversations import Conversation
from storage.members import Member

Act = CallAction
Rows = list[list[tuple[str, str]]]
VOLUNTEERS_SHOWN = 60

_PROMPTS = {
    Step.TEXT: "calls.ask.text",
    Step.PLACE: "calls.ask.place",
    Step.WHEN: "calls.ask.when",
    Step.NEEDED: "calls.ask.needed",
    Step.DEADLINE: "calls.ask.deadline",
    Step.TERRITORIES: "calls.ask.territories",
    Step.THEMES: "calls.ask.themes",
    Step.AUDIENCE: "calls.ask.audience",
    Step.SCHEDULE: "calls.ask.schedule",
}


def _service(context: AppContext) -> CallService:
    service = context.services.calls
    if service is None:
        raise RuntimeError("calls service not built")
    return service


def _drafts(context: AppContext) -> CallDrafts:
    return context.services.call_drafts


def _deadline(preset: DeadlinePreset) -> str:
    return CallPress(Act.DEADLINE, preset=preset.value).pack()


def _toggle(step: Step, index: int | Every) -> str:
    return CallPress(Act.TOGGLE, step=step.value, index=index).pack()


def _audience(ambassadors: bool) -> str:
    return CallPress(Act.AUDIENCE, ambassadors=ambassadors).pack()


def _on(action: CallAction, call_id: int) -> str:
    return CallPress(action, call_id=call_id).pack()


def _cancel_row(context: AppContext, lang: str) -> list[tuple[str, str]]:
    return [(label(context, lang, "common.button.cancel"), CallPress(Act.CANCEL_DRAFT).pack())]


def step_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    step = view.step
    if step is None or step is Step.PREVIEW:
        raise ValueError("not a question step")
    text = t(context, lang, _PROMPTS[step])
    rows: Rows = []
    if step is Step.DEADLINE:
        rows = [
            [
                (
                    label(context, lang, "calls.button.deadline_2h"),
                    _deadline(DeadlinePreset("2h")),
                ),
                (
                    label(context, lang, "calls.button.deadline_eve"),
                    _deadline(DeadlinePreset("eve")),
                ),
            ]
        ]
    elif step in (Step.TERRITORIES, Step.THEMES):
        chosen = view.data.get(step.value, [])
        rows = [
            [(("✅ " if name in chosen else "▫️ ") + name, _toggle(step, i))]
            for i, name in enumerate(_drafts(context).options(step))
        ]
        every = (
            "calls.button.all_territories"
            if step is Step.TERRITORIES
            else "calls.button.all_themes"
        )
        rows.append([(label(context, lang, every), _toggle(step, Every.ALL))])
        rows.append(
            [
                (
                    label(context, lang, "common.button.confirm"),
                    CallPress(Act.CONFIRM, step=step.value).pack(),
                )
            ]
        )
    elif step is Step.AUDIENCE:
        rows = [
            [(label(context, lang, "calls.button.ambassadors"), _audience(True))],
            [(label(context, lang, "calls.button.everyone"), _audience(False))],
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
                when=_service(context).local(call.scheduled_at),
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
    text = t(context, lang, "calls.preview", count=view.recipients)
    if view.error:
        text = t(context, lang, view.error, **view.error_params) + "\n\n" + text
    rows: Rows = [
        [(label(context, lang, "calls.button.send_now"), CallPress(Act.SEND_NOW).pack())],
        [(label(context, lang, "calls.button.schedule"), CallPress(Act.SCHEDULE).pack())],
        _cancel_row(context, lang),
    ]
    await reply(update, context, text, rows)


# --- coordinator: /appel -----------------------------------------------------------------


async def new_call(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    existing = await _drafts(context).draft(member.telegram_id)
    if existing is not None and existing.data.get("text"):
        # A draft in progress (after a restart, or another flow) is resumed, never replaced.
        await reply(update, context, t(context, lang, "flows.resumed.call"))
        await render(update, context, lang, existing)
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
    text = message.text if message.text is not None else message.caption
    view = await _drafts(context).draft_input(member.telegram_id, text, photo)
    if view is None:
        await reply(update, context, t(context, lang, "common.nothing_expected"))
        return
    await render(update, context, lang, view)


async def _coordinator_action(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    data: CallPress,
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
        elif action is Act.CANCEL_DRAFT:
            if await drafts.cancel_draft(who):
                await show(update, context, t(context, lang, "common.cancelled"))
                await answer(query)
                return
        else:
            await _manage(update, context, coord, lang, data)
            return
    except ValueError:
        view = None
    if view is None:
        await stale(update, context, lang)
        return
    await render(update, context, lang, view)
    await answer(query)


# --- coordinator: /appels ----------------------------------------------------------------


def _list_screen(
    context: AppContext, lang: str, calls: Sequence[tuple[Call, CallCounts]]
) -> tuple[str, Rows]:
    service = _service(context)
    if not calls:
        return t(context, lang, "calls.list.empty"), []
    lines = [t(context, lang, "calls.list.header")]
    rows: Rows = []
    for call, counts in calls:
        lines.append(
            t(
                context,
                lang,
                "calls.list.item",
                id=call.id,
                title=service.title(call),
                when=service.local(call.event_at),
                status=t(context, lang, f"calls.status.{call.status}"),
                yes=counts.yes,
                needed=call.needed,
            )
        )
        rows.append([(f"#{call.id} · {service.title(call)[:40]}", _on(Act.VIEW, call.id))])
    return "\n\n".join(lines), rows


async def list_calls(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    calls = await _service(context).list_calls(member.telegram_id)
    if calls is None:
        return
    text, rows = _list_screen(context, lang, calls)
    await reply(update, context, text, rows)


async def _detail_screen(
    context: AppContext, lang: str, call_id: int, coord: Member
) -> tuple[str, Rows] | None:
    service = _service(context)
    detail = await service.detail(call_id, coord.telegram_id)
    if detail is None:
        return None
    call, c = detail.call, detail.counts
    text = t(
        context,
        lang,
        "calls.detail",
        id=call.id,
        title=service.title(call),
        place=call.place,
        when=service.local(call.event_at),
        deadline=service.local(call.deadline_at),
        status=t(context, lang, f"calls.status.{call.status}"),
        recipients=c.recipients,
        sent=c.sent,
        failed=c.failed,
        blocked=c.blocked,
        yes=c.yes,
        needed=call.needed,
        no=c.no,
        waiting=c.waiting,
        volunteers=_people(context, lang, detail.volunteers),
        waiting_list=_people(context, lang, detail.waiting),
    )
    rows: Rows = []
    if call.status in ("open", "complete"):
        rows.append(
            [
                (label(context, lang, "calls.button.remind"), _on(Act.REMIND, call.id)),
                (label(context, lang, "calls.button.close"), _on(Act.CLOSE, call.id)),
            ]
        )
    elif call.status == "closed" and call.event_at > service.clock.now():
        rows.append([(label(context, lang, "calls.button.remind"), _on(Act.REMIND, call.id))])
    if service.cancellable(call):
        rows.append(
            [(label(context, lang, "calls.button.cancel_call"), _on(Act.ASK_CANCEL, call.id))]
        )
    rows.append([(label(context, lang, "common.button.back"), CallPress(Act.LIST).pack())])
    return text, rows


async def _cancel_screen(
    context: AppContext, lang: str, call_id: int, coord: Member
) -> tuple[str, Rows] | None:
    service = _service(context)
    detail = await service.detail(call_id, coord.telegram_id)
    if detail is None or not service.cancellable(detail.call):
        return None
    waiting = detail.counts.waiting if detail.call.status != "closed" else 0  # told already
    count = detail.counts.yes + waiting
    key = "calls.cancel_confirm" if count else "calls.cancel_confirm_nobody"
    text = t(context, lang, key, title=service.title(detail.call), count=count)
    rows: Rows = [
        [(label(context, lang, "calls.button.cancel_confirm"), _on(Act.CANCEL, call_id))],
        [(label(context, lang, "common.button.back"), _on(Act.VIEW, call_id))],
    ]
    return text, rows


def _people(context: AppContext, lang: str, people: Sequence[Volunteer]) -> Raw:
    shown = _service(context).volunteer_list(people[:VOLUNTEERS_SHOWN])
    if len(people) > VOLUNTEERS_SHOWN:
        more = t(context, lang, "calls.more", count=len(people) - VOLUNTEERS_SHOWN)
        return Raw(shown.value + "\n" + more)
    return shown


async def _manage(
    update: Update,
    context: AppContext,
    coord: Member,
    lang: str,
    data: CallPress,
) -> None:
    query = update.callback_query
    if query is None:
        return
    service = _service(context)
    action = data.action
    if action is Act.LIST:
        calls = await service.list_calls(coord.telegram_id)
        if calls is None:
            await stale(update, context, lang)
            return
        text, rows = _list_screen(context, lang, calls)
        await show(update, context, text, rows)
        await answer(query)
        return
    call_id = data.call_id
    note: str | None = None
    if action is Act.CLOSE:
        if await service.close(call_id, coord.telegram_id) is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.closed_done")
    elif action is Act.ASK_CANCEL:
        # Cancelling tells everyone who answered: one more tap to be sure.
        confirm = await _cancel_screen(context, lang, call_id, coord)
        if confirm is None:
            await stale(update, context, lang)
            return
        await show(update, context, *confirm)
        await answer(query)
        return
    elif action is Act.CANCEL:
        if await service.cancel(call_id, coord.telegram_id) is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.cancel_done")
    elif action is Act.REMIND:
        count = await service.remind(call_id, coord.telegram_id)
        if count is None:
            await stale(update, context, lang)
            return
        note = t(context, lang, "calls.remind_done", count=count)
    screen = await _detail_screen(context, lang, call_id, coord)
    if screen is None:
        await stale(update, context, lang)
        return
    await show(update, context, *screen)
    await answer(query, note)


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
    if data is None:
        await stale(update, context, lang)
        return
    await _coordinator_action(update, context, coord, lang, data)


async def resume(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    view = await _drafts(context).draft(member.telegram_id)
    if view is not None:
        await render(update, context, member.language, view)


INPUTS = {FLOW: on_input}
RESUMES = {FLOW: resume}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("appel", new_call, filters=private),
        CommandHandler("appels", list_calls, filters=private),
        CallbackQueryHandler(on_button, pattern=CallPress.pattern()),
    ]
