"""/signaler and /messignalements: a member tells the coordinators about a need (signalements).

The coordinators' side (/signalements, the queue and its actions) is handlers/report_queue.py,
under the same callback prefix.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.report_drafts import DESCRIPTION_MAX, FLOW, DraftView, Step
from bot.services.reports import ANSWER_FLOW, MESSAGE_MAX, ReportService
from handlers.common import (
    Cb,
    answer,
    cb,
    label,
    language_for,
    onboarded_member,
    reply,
    show,
    stale,
    t,
)
from storage.conversations import Conversation
from storage.members import Member

FEATURE = "rep"
Rows = list[list[tuple[str, str]]]
KEPT_MAX = 3000
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


def report_id_of(data: Cb) -> int | None:
    """The report number a button names, if it can be one (forged data can hold anything)."""
    raw = data.args[0] if data.args else ""
    if not raw.isascii() or not raw.isdecimal() or len(raw) > 12:
        return None
    return int(raw) or None


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


def draft_screen(context: AppContext, lang: str, view: DraftView) -> tuple[str, Rows]:
    settings = context.services.settings
    cancel = [(label(context, lang, "common.button.cancel"), cb(FEATURE, "cx"))]
    rows: Rows = []
    if view.step is Step.PREVIEW:
        text = t(context, lang, "reports.preview") + "\n\n" + card(context, lang, view.values)
        rows = [[(label(context, lang, "reports.button.send"), cb(FEATURE, "send"))]]
        for step in (Step.KIND, Step.URGENCY, Step.TERRITORY, Step.DESCRIPTION):
            rows.append(
                [(label(context, lang, f"reports.button.edit_{step}"), cb(FEATURE, "ed", step))]
            )
    else:
        text = t(context, lang, _PROMPTS[view.step], limit=DESCRIPTION_MAX)
        if view.step is Step.KIND:
            for kind in ("isolated", "need", "other"):
                rows.append(
                    [(label(context, lang, f"reports.kind.{kind}"), cb(FEATURE, "k", kind))]
                )
        elif view.step is Step.URGENCY:
            rows = [
                [(label(context, lang, "reports.button.urgent"), cb(FEATURE, "u", 1))],
                [(label(context, lang, "reports.button.can_wait"), cb(FEATURE, "u", 0))],
            ]
        elif view.step is Step.TERRITORY:
            rows = [[(name, cb(FEATURE, "t", i))] for i, name in enumerate(settings.territories)]
            rows.append([(label(context, lang, "reports.territory.other"), cb(FEATURE, "t", "x"))])
        elif view.step in (Step.LOCATION, Step.PHOTO):
            rows = [[(label(context, lang, "reports.button.skip"), cb(FEATURE, "sk", view.step))]]
    rows.append(cancel)
    if view.error:
        error = t(context, lang, view.error, limit=view.limit)
        if view.kept_text:
            error += "\n\n" + t(context, lang, "common.your_text", text=view.kept_text[:KEPT_MAX])
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


async def _draft_press(context: AppContext, member_id: int, data: Cb) -> DraftView | None:
    drafts = service_of(context).drafts
    arg = data.args[0] if data.args else ""
    if data.action == "k":
        return await drafts.choose_kind(member_id, arg)
    if data.action == "u" and arg in ("0", "1"):
        return await drafts.choose_urgency(member_id, arg == "1")
    if data.action == "t":
        index = None if arg == "x" else data.int_arg(0)
        if index is None and arg != "x":
            return None
        return await drafts.choose_territory(member_id, index)
    if data.action in ("sk", "ed"):
        try:
            step = Step(arg)
        except ValueError:
            return None
        if data.action == "sk":
            return await drafts.skip(member_id, step)
        return await drafts.edit(member_id, step)
    return None


DRAFT_ACTIONS = ("k", "u", "t", "sk", "ed")


async def on_member_press(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> bool:
    """Presses of the reporter: the draft, sending, cancelling, answering a question."""
    query = update.callback_query
    assert query is not None
    service = service_of(context)
    member_id = member.telegram_id
    if data.action in DRAFT_ACTIONS:
        view = await _draft_press(context, member_id, data)
        if view is None:
            return False
        await render_draft(update, context, lang, view)
        await answer(query)
        return True
    if data.action == "send":
        report_id = await service.submit(member_id)
        if report_id is None:
            return False
        await show(update, context, t(context, lang, "reports.sent", number=report_id))
        await answer(query)
        return True
    if data.action == "cx":
        if not await service.drafts.cancel(member_id):
            return False
        await show(update, context, t(context, lang, "reports.cancelled"))
        await answer(query)
        return True
    if data.action == "rp":
        report_id = report_id_of(data)
        found = await service.start_answer(member_id, report_id) if report_id else None
        if found is None:
            return False
        await reply(update, context, t(context, lang, "reports.ask.answer", limit=MESSAGE_MAX))
        await answer(query)
        return True
    return False


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
            text += "\n\n" + t(context, lang, "common.your_text", text=acted.kept_text[:KEPT_MAX])
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


def _headline_raw(service: ReportService, lang: str, report: object) -> object:
    from bot.texts import Raw
    from storage.reports import Report

    assert isinstance(report, Report)
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


__all__ = ["FEATURE", "INPUTS", "build_handlers", "on_member_press", "stale"]
