"""One report as a coordinator sees it, and what they can do with it.

The details (description, location, photo, messages) open only here, inside the bot: the
notices in coordinators' chats carry the number, kind and territory alone. Two coordinators
acting at once: the first wins, the second is told who did it (the service decides).
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update

from bot.context import AppContext
from bot.services.report_base import (
    CLOSE_FLOW,
    MESSAGE_MAX,
    QUESTION_FLOW,
    REASON_MAX,
    Acted,
    Detail,
    Outcome,
    ReportAction,
    ReportPress,
)
from bot.services.report_followup import ReportFollowUp
from bot.texts import Raw
from handlers.common import button, label, language_for, reply, show, t
from handlers.reports import Handled, OnReportPress
from storage.conversations import Conversation
from storage.members import Member
from storage.outbox import Button, Rows
from storage.reports import Report

P = ReportPress
A = ReportAction
SHOWN_MESSAGES = 6


def followup_of(context: AppContext) -> ReportFollowUp:
    return context.services.report_followup


def local_time(context: AppContext, instant: datetime) -> str:
    return instant.astimezone(context.services.settings.zone).strftime("%d/%m %H:%M")


def detail_screen(context: AppContext, lang: str, detail: Detail) -> tuple[str, Rows]:
    report = detail.report
    urgency = "reports.urgency.now" if report.urgent else "reports.urgency.later"
    parts = [
        t(
            context,
            lang,
            "reports.detail",
            headline=Raw(followup_of(context).headline(lang, report)),
            urgency=t(context, lang, urgency),
            created=local_time(context, report.created_at),
            status=t(context, lang, f"reports.status.{report.status}"),
            assignee=detail.assignee_name or "—",
            reporter=detail.reporter_name or t(context, lang, "reports.reporter_gone"),
        )
    ]
    if report.erased_at is not None:
        parts.append(t(context, lang, "reports.detail.erased"))
    elif report.description:
        parts.append(t(context, lang, "reports.detail.description", text=report.description))
    if report.close_reason:
        parts.append(t(context, lang, "reports.detail.reason", text=report.close_reason))
    for message in detail.messages[-SHOWN_MESSAGES:]:
        key = f"reports.detail.{'from' if message.from_reporter else 'to'}_reporter"
        when = local_time(context, message.created_at)
        parts.append(t(context, lang, key, when=when, text=message.text))
    return "\n\n".join(parts), _detail_rows(context, lang, report)


def _detail_rows(context: AppContext, lang: str, report: Report) -> Rows:
    def choice(key: str, action: ReportAction) -> list[Button]:
        return [button(label(context, lang, key), P(action, report_id=report.id))]

    rows: Rows = []
    if report.latitude is not None:
        rows.append(choice("reports.button.location", A.LOCATION))
    if report.photo:
        rows.append(choice("reports.button.photo", A.PHOTO))
    if report.status == "new":
        rows.append(choice("reports.button.take", A.TAKE))
    if report.is_open and report.reporter_id is not None and not report.reporter_left:
        rows.append(choice("reports.button.ask", A.ASK))
    if report.status in ("new", "taken", "waiting"):
        rows.append(choice("reports.button.to_call", A.TO_CALL))
    if report.is_open:
        rows.append(choice("reports.button.resolve", A.RESOLVE))
        rows.append(choice("reports.button.close", A.CLOSE))
    if report.erased_at is None:
        rows.append(choice("reports.button.erase", A.ERASE))
    back = P(A.QUEUE, status=report.status)
    rows.append([button(label(context, lang, "reports.button.queue"), back)])
    return rows


async def show_report(
    update: Update, context: AppContext, member: Member, lang: str, report_id: int
) -> bool:
    detail = await followup_of(context).detail(member.telegram_id, report_id)
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail)
    await show(update, context, text, rows)
    return True


async def _open(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    return await show_report(update, context, member, lang, data.report_id)


async def _media(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """The location or the photo, sent on request as a message of their own."""
    detail = await followup_of(context).detail(member.telegram_id, data.report_id)
    chat = update.effective_chat
    if detail is None or chat is None:
        return False
    report = detail.report
    if data.action is A.LOCATION and report.latitude is not None and report.longitude is not None:
        await context.bot.send_location(chat.id, report.latitude, report.longitude)
        return True
    if data.action is A.PHOTO and report.photo:
        await context.bot.send_photo(chat.id, report.photo)
        return True
    return False


async def told(
    update: Update, context: AppContext, member: Member, lang: str, acted: Acted
) -> Handled:
    """The result of an action: the report's new screen, or why nothing changed."""
    if acted.outcome is Outcome.DENIED:
        return t(context, lang, "common.denied")
    if acted.outcome is Outcome.ALREADY:
        if acted.report is not None:
            await show_report(update, context, member, lang, acted.report.id)
        if acted.other:
            return t(context, lang, "reports.already_by", name=acted.other)
        return t(context, lang, "reports.already")
    if acted.outcome is Outcome.INVALID and acted.error:
        return t(context, lang, acted.error)
    if acted.outcome is not Outcome.DONE or acted.report is None:
        return False
    await show_report(update, context, member, lang, acted.report.id)
    return True


async def _take(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    acted = await followup_of(context).take(member.telegram_id, data.report_id)
    return await told(update, context, member, lang, acted)


async def _resolve(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    acted = await followup_of(context).resolve(member.telegram_id, data.report_id)
    return await told(update, context, member, lang, acted)


async def _start_text(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """ "Poser une question" or "Clore": the coordinator's next message is the text."""
    question = data.action is A.ASK
    flow = QUESTION_FLOW if question else CLOSE_FLOW
    acted = await followup_of(context).start_text(member.telegram_id, data.report_id, flow)
    if acted.outcome is not Outcome.DONE:
        return await told(update, context, member, lang, acted)
    key = "reports.ask.question" if question else "reports.ask.reason"
    limit = MESSAGE_MAX if question else REASON_MAX
    await reply(update, context, t(context, lang, key, number=data.report_id, limit=limit))
    return True


async def _to_call(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """Opens the /appel draft with the report's territory; its text is offered to copy."""
    acted = await followup_of(context).to_call(member.telegram_id, data.report_id)
    if acted.outcome is not Outcome.DONE or acted.draft is None:
        return await told(update, context, member, lang, acted)
    from bot.services.call_drafts import DraftView
    from handlers.call_drafts import step_screen

    assert isinstance(acted.draft, DraftView)
    if acted.report is not None and acted.report.description:
        text = t(context, lang, "reports.call_suggestion", text=acted.report.description)
        await reply(update, context, text)
    text, rows = step_screen(context, lang, acted.draft)
    await reply(update, context, text, rows)
    return True


async def _erase(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    """Erasing cannot be undone: one more tap to confirm."""
    detail = await followup_of(context).detail(member.telegram_id, data.report_id)
    if detail is None or detail.report.erased_at is not None:
        return False
    confirm = P(A.ERASE_CONFIRM, report_id=data.report_id)
    back = P(A.OPEN, report_id=data.report_id)
    rows = [
        [button(label(context, lang, "reports.button.erase_confirm"), confirm)],
        [button(label(context, lang, "reports.button.back"), back)],
    ]
    text = t(context, lang, "reports.erase.confirm", number=data.report_id)
    await show(update, context, text, rows)
    return True


async def _erase_confirmed(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    acted = await followup_of(context).erase_now(member.telegram_id, data.report_id)
    if acted.outcome is Outcome.STALE and acted.report is not None:
        return t(context, lang, "reports.erase.already")
    return await told(update, context, member, lang, acted)


ROUTES: dict[ReportAction, OnReportPress] = {
    A.OPEN: _open,
    A.LOCATION: _media,
    A.PHOTO: _media,
    A.TAKE: _take,
    A.RESOLVE: _resolve,
    A.ASK: _start_text,
    A.CLOSE: _start_text,
    A.TO_CALL: _to_call,
    A.ERASE: _erase,
    A.ERASE_CONFIRM: _erase_confirmed,
}


# --- what a coordinator types: a question to relay, a reason for closing --------------------


async def on_text(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    message = update.effective_message
    if message is None:
        return
    lang = language_for(context, member, update.effective_user)
    report_id = conversation.data.get("report_id")
    if message.text is None or not isinstance(report_id, int):
        await reply(update, context, t(context, lang, "reports.error.text_expected"))
        return
    acted = await followup_of(context).typed(
        member.telegram_id, conversation.flow, report_id, message.text
    )
    if acted.outcome is Outcome.INVALID:
        text = t(context, lang, acted.error or "reports.error.empty", limit=acted.limit)
        if acted.kept_text:
            text += "\n\n" + t(context, lang, "common.your_text", text=acted.kept_text)
        await reply(update, context, text)
        return
    if acted.outcome is not Outcome.DONE or acted.report is None:
        key = "reports.already" if acted.outcome is Outcome.ALREADY else "common.stale"
        await reply(update, context, t(context, lang, key))
        return
    question = conversation.flow == QUESTION_FLOW
    key = "reports.question_sent" if question else "reports.closed_done"
    await reply(update, context, t(context, lang, key, number=report_id))
    detail = await followup_of(context).detail(member.telegram_id, report_id)
    if detail is not None:
        text, rows = detail_screen(context, lang, detail)
        await reply(update, context, text, rows)


async def resume_text(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """Back to a question or a reason left half-typed: ask for it again."""
    lang = language_for(context, member, update.effective_user)
    question = conversation.flow == QUESTION_FLOW
    key = "reports.ask.question" if question else "reports.ask.reason"
    number = conversation.data.get("report_id", "?")
    limit = MESSAGE_MAX if question else REASON_MAX
    await reply(update, context, t(context, lang, key, number=number, limit=limit))


INPUTS = {QUESTION_FLOW: on_text, CLOSE_FLOW: on_text}
RESUMES = {QUESTION_FLOW: resume_text, CLOSE_FLOW: resume_text}
