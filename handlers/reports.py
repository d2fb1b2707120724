"""/signaler and /messignalements: a member tells the coordinators about a need (signalements).

The coordinators' side (/signalements, the queue and its actions) is handlers/report_queue.py,
under the same callback prefix.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.callbacks import Pick
from bot.context import AppContext
from bot.services.report_base import ANSWER_FLOW, MESSAGE_MAX, ReportAction, ReportPress
from bot.services.report_drafts import DESCRIPTION_MAX, FLOW, DraftView, Step
from bot.services.reports import ReportService
from bot.texts import Raw
from handlers.common import (
    button,
    label,
    language_for,
    onboarded_member,
    reply,
    show,
    t,
)
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Button, Rows
from storage.reports import Report

P = ReportPress
A = ReportAction
# What a press did: False = does not apply (stale), True = done, str = an alert to show.
Handled = bool | str
OnReportPress = Callable[[Update, AppContext, Member, str, ReportPress], Awaitable[Handled]]
_PROMPTS = {
    Step.KIND: "reports.ask.kind",
    Step.URGENCY: "reports.ask.urgency",
    Step.TERRITORY: "reports.ask.territory",
    Step.DESCRIPTION: "reports.ask.description",
    Step.LOCATION: "reports.ask.location",
    Step.PHOTO: "reports.ask.photo",
}


def service_of(context: AppContext) -> ReportService:
    return context.services.reports


# --- the draft -----------------------------------------------------------------------------


def card(context: AppContext, lang: str, values: dict[str, object]) -> str:
    service = service_of(context)
    kind = values.get("kind")
    return t(
        context,
        lang,
        "reports.card",
        kind=t(context, lang, f"reports.kind.{kind}") if kind else "—",
        urgency=t(
            context,
            lang,
            "reports.urgency.now" if values.get("urgent") else "reports.urgency.later",
        ),
        territory=service.territory_label(lang, str(values.get("territory", "—"))),
        description=str(values.get("description", "—")),
        location=t(context, lang, "common.yes" if "latitude" in values else "common.no"),
        photo=t(context, lang, "common.yes" if values.get("photo") else "common.no"),
    )


def _row(context: AppContext, lang: str, key: str, press: ReportPress) -> list[Button]:
    return [button(label(context, lang, key), press)]


def _step_rows(context: AppContext, lang: str, step: Step) -> Rows:
    """The buttons of a question of the draft (none for the description, which is typed)."""
    if step is Step.KIND:
        return [
            _row(context, lang, f"reports.kind.{kind}", P(A.KIND, kind=kind))
            for kind in ("isolated", "need", "other")
        ]
    if step is Step.URGENCY:
        return [
            _row(context, lang, "reports.button.urgent", P(A.URGENCY, urgent=True)),
            _row(context, lang, "reports.button.can_wait", P(A.URGENCY, urgent=False)),
        ]
    if step is Step.TERRITORY:
        territories = context.services.settings.territories
        rows = [[button(name, P(A.TERRITORY, territory=i))] for i, name in enumerate(territories)]
        other = P(A.TERRITORY, territory=Pick.OTHER)
        return [*rows, _row(context, lang, "reports.territory.other", other)]
    if step in (Step.LOCATION, Step.PHOTO):
        return [_row(context, lang, "reports.button.skip", P(A.SKIP, step=step))]
    return []


def draft_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    if view.step is Step.PREVIEW:
        text = t(context, lang, "reports.preview") + "\n\n" + card(context, lang, view.values)
        rows = [_row(context, lang, "reports.button.send", P(A.SEND))]
        for step in (Step.KIND, Step.URGENCY, Step.TERRITORY, Step.DESCRIPTION):
            rows.append(_row(context, lang, f"reports.button.edit_{step}", P(A.EDIT, step=step)))
    else:
        text = t(context, lang, _PROMPTS[view.step], limit=DESCRIPTION_MAX)
        rows = _step_rows(context, lang, view.step)
    rows.append(_row(context, lang, "common.button.cancel", P(A.CANCEL)))
    if view.error:
        error = t(context, lang, view.error, limit=view.limit)
        if view.kept_text:
            error += "\n\n" + t(context, lang, "common.your_text", text=view.kept_text)
        text = error + "\n\n" + text
    return text, rows


async def render_draft(update: Update, context: AppContext, lang: str, view: DraftView) -> None:
    text, rows = draft_screen(context, lang, view)
    if update.callback_query is not None and not view.error:
        await show(update, context, text, rows)
    else:
        await reply(update, context, text, rows)


async def report_command(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    view = await service_of(context).drafts.start(member.telegram_id)
    if view is None:
        await reply(update, context, t(context, lang, "common.start_first"))
        return
    await reply(update, context, t(context, lang, "reports.intro"))
    await render_draft(update, context, lang, view)


async def on_draft_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = language_for(context, member, update.effective_user)
    drafts = service_of(context).drafts
    member_id = member.telegram_id
    view: DraftView | None
    if message.text is not None:
        view = await drafts.type_text(member_id, message.text)
    elif message.location is not None and message.venue is None:
        view = await drafts.give_location(
            member_id, message.location.latitude, message.location.longitude
        )
    elif message.photo:
        view = await drafts.give_photo(member_id, message.photo[-1].file_id)
    else:
        view = await drafts.draft(member_id)
        if view is not None:
            view.error = _wrong_input(view.step)
    if view is not None:
        await render_draft(update, context, lang, view)


def _wrong_input(step: Step) -> str:
    if step is Step.DESCRIPTION:
        return "reports.error.text_expected"
    if step in (Step.LOCATION, Step.PHOTO):
        return f"reports.error.{step}_expected"
    return "reports.error.use_buttons"


async def _draft_step(
    update: Update, context: AppContext, lang: str, view: DraftView | None
) -> Handled:
    if view is None:
        return False
    await render_draft(update, context, lang, view)
    return True


async def _kind(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    view = await service_of(context).drafts.choose_kind(member.telegram_id, data.kind)
    return await _draft_step(update, context, lang, view)


async def _urgency(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    view = await service_of(context).drafts.choose_urgency(member.telegram_id, data.urgent)
    return await _draft_step(update, context, lang, view)


async def _territory(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    if data.territory is Pick.ALL:
        return False
    index = None if data.territory is Pick.OTHER else int(data.territory)
    view = await service_of(context).drafts.choose_territory(member.telegram_id, index)
    return await _draft_step(update, context, lang, view)


def _step(raw: str) -> Step | None:
    try:
        return Step(raw)
    except ValueError:
        return None


async def _skip_or_edit(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """ "Passer" on an optional step, or "Changer…" from the preview."""
    step = _step(data.step)
    if step is None:
        return False
    drafts = service_of(context).drafts
    change = drafts.skip if data.action is A.SKIP else drafts.edit
    return await _draft_step(update, context, lang, await change(member.telegram_id, step))


async def _send(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    report_id = await service_of(context).submit(member.telegram_id)
    if report_id is None:
        return False
    await show(update, context, t(context, lang, "reports.sent", number=report_id))
    return True


async def _cancel(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    if not await service_of(context).drafts.cancel(member.telegram_id):
        return False
    await show(update, context, t(context, lang, "reports.cancelled"))
    return True


async def _reply(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """ "Répondre" under a coordinator's question: the next typed message is the answer."""
    if await service_of(context).start_answer(member.telegram_id, data.report_id) is None:
        return False
    await reply(update, context, t(context, lang, "reports.ask.answer", limit=MESSAGE_MAX))
    return True


MEMBER_ROUTES: dict[ReportAction, OnReportPress] = {
    A.KIND: _kind,
    A.URGENCY: _urgency,
    A.TERRITORY: _territory,
    A.SKIP: _skip_or_edit,
    A.EDIT: _skip_or_edit,
    A.SEND: _send,
    A.CANCEL: _cancel,
    A.REPLY: _reply,
}


async def on_answer_input(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = language_for(context, member, update.effective_user)
    if message.text is None:
        await reply(update, context, t(context, lang, "reports.error.text_expected"))
        return
    report_id = conversation.data.get("report_id")
    if not isinstance(report_id, int):
        return
    acted = await service_of(context).answer(member.telegram_id, report_id, message.text)
    if acted.error:
        text = t(context, lang, acted.error, limit=acted.limit)
        if acted.kept_text:
            text += "\n\n" + t(context, lang, "common.your_text", text=acted.kept_text)
        await reply(update, context, text)
        return
    key = "reports.answer_sent" if acted.report else "common.stale"
    await reply(update, context, t(context, lang, key))


# --- /messignalements ----------------------------------------------------------------------


async def my_reports(update: Update, context: AppContext) -> None:
    member, lang = await onboarded_member(update, context)
    if member is None:
        return
    service = service_of(context)
    reports = await service.mine(member.telegram_id)
    if not reports:
        await reply(update, context, t(context, lang, "reports.mine.none"))
        return
    lines = [
        t(
            context,
            lang,
            "reports.mine.line",
            headline=_headline_raw(service, lang, report),
            status=t(context, lang, f"reports.status.{report.status}"),
        )
        for report in reports
    ]
    await reply(
        update, context, t(context, lang, "reports.mine.title") + "\n\n" + "\n".join(lines)
    )


def _headline_raw(service: ReportService, lang: str, report: Report) -> Raw:
    return Raw(service.headline(lang, report))


async def resume_draft(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    view = await service_of(context).drafts.draft(member.telegram_id)
    if view is not None:
        lang = language_for(context, member, update.effective_user)
        await render_draft(update, context, lang, view)


async def resume_answer(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    lang = language_for(context, member, update.effective_user)
    await reply(update, context, t(context, lang, "reports.ask.answer", limit=MESSAGE_MAX))


INPUTS = {FLOW: on_draft_input, ANSWER_FLOW: on_answer_input}
RESUMES = {FLOW: resume_draft, ANSWER_FLOW: resume_answer}


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("signaler", report_command, filters=private),
        CommandHandler("messignalements", my_reports, filters=private),
    ]
