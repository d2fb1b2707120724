"""/signalements: the coordinators' queue of reports, each report's details and actions.

Every press is re-checked on the server (the service asks whether the member is a
coordinator); two coordinators acting at once: the first wins, the second is told who.
"""

from __future__ import annotations

from datetime import datetime

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import AppContext
from bot.services.reports import (
    CLOSE_FLOW,
    MESSAGE_MAX,
    QUESTION_FLOW,
    REASON_MAX,
    Acted,
    Detail,
    Outcome,
    QueuePage,
    ReportService,
)
from bot.texts import Raw
from handlers import reports as member_side
from handlers.common import (
    Cb,
    answer,
    cb,
    coordinator,
    current_member,
    denied,
    label,
    language_for,
    parse_cb,
    pattern,
    reply,
    show,
    stale,
    t,
)
from storage.conversations import Conversation
from storage.members import Member
from storage.reports import KINDS, STATUSES, Report, Status

FEATURE = member_side.FEATURE
Rows = list[list[tuple[str, str]]]
ALL = "-"
KEPT_MAX = 3000


def service_of(context: AppContext) -> ReportService:
    return context.services.reports


def _local(context: AppContext, instant: datetime) -> str:
    return instant.astimezone(context.services.settings.zone).strftime("%d/%m %H:%M")


# --- the queue -----------------------------------------------------------------------------


def _filters(args: tuple[str, ...]) -> tuple[Status, str, str, int] | None:
    """(status, territory index or "-", kind or "-", page) from a queue button."""
    defaults = ("new", ALL, ALL, "0")
    if len(args) > len(defaults):
        return None
    status, territory, kind, page = (*args, *defaults[len(args) :])
    if status not in STATUSES or (kind != ALL and kind not in KINDS):
        return None
    if territory != ALL and not territory.isdecimal():
        return None
    if not page.isdecimal() or len(page) > 4:
        return None
    return status, territory, kind, int(page)


def queue_screen(
    context: AppContext, lang: str, page: QueuePage, territory: str, kind: str
) -> tuple[str, Rows]:
    service = service_of(context)
    tabs = [
        (
            ("• " if status == page.status else "")
            + label(context, lang, f"reports.status.{status}")
            + f" ({page.counts.get(status, 0)})",
            cb(FEATURE, "q", status, territory, kind, 0),
        )
        for status in STATUSES
    ]
    rows: Rows = [tabs[0:3], tabs[3:6]]
    for report in page.items:
        text = service.headline(lang, report)
        mark = "🆘 " if report.urgent else ""
        rows.append(
            [
                (
                    mark + _plain(text) + " · " + _local(context, report.created_at),
                    cb(FEATURE, "op", report.id),
                )
            ]
        )
    nav = []
    if page.page > 0:
        nav.append(("◀️", cb(FEATURE, "q", page.status, territory, kind, page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append(("▶️", cb(FEATURE, "q", page.status, territory, kind, page.page + 1)))
    if nav:
        rows.append(nav)
    rows.append(
        [
            (
                label(context, lang, "reports.button.filter_territory"),
                cb(FEATURE, "ft", page.status, territory, kind),
            ),
            (
                label(context, lang, "reports.button.filter_kind"),
                cb(FEATURE, "fk", page.status, territory, kind),
            ),
        ]
    )
    territory_name = (
        context.services.settings.territories[int(territory)] if territory != ALL else None
    )
    text = t(
        context,
        lang,
        "reports.queue.title",
        status=t(context, lang, f"reports.status.{page.status}"),
        total=page.total,
        page=page.page + 1,
        pages=page.pages,
        territory=territory_name or t(context, lang, "reports.filter.all"),
        kind=t(context, lang, f"reports.kind.{kind}")
        if kind != ALL
        else t(context, lang, "reports.filter.all"),
    )
    if not page.items:
        text += "\n\n" + t(context, lang, "reports.queue.empty")
    return text, rows


def _plain(html_text: str) -> str:
    from bot.texts import plain

    return plain(html_text)


async def _show_queue(
    update: Update, context: AppContext, member: Member, lang: str, args: tuple[str, ...]
) -> bool:
    found = _filters(args)
    if found is None:
        return False
    status, territory, kind, number = found
    territories = context.services.settings.territories
    if territory != ALL and int(territory) >= len(territories):
        return False
    page = await service_of(context).queue(
        member.telegram_id,
        status,
        territories[int(territory)] if territory != ALL else None,
        kind if kind != ALL else None,  # type: ignore[arg-type]
        number,
    )
    if page is None:
        await denied(update, context, lang)
        return True
    text, rows = queue_screen(context, lang, page, territory, kind)
    await show(update, context, text, rows)
    return True


def filter_screen(
    context: AppContext, lang: str, which: str, status: str, territory: str, kind: str
) -> tuple[str, Rows]:
    rows: Rows = [
        [
            (
                label(context, lang, "reports.filter.all"),
                cb(
                    FEATURE,
                    "q",
                    status,
                    ALL if which == "ft" else territory,
                    ALL if which == "fk" else kind,
                    0,
                ),
            )
        ]
    ]
    if which == "ft":
        for index, name in enumerate(context.services.settings.territories):
            rows.append([(name, cb(FEATURE, "q", status, index, kind, 0))])
    else:
        for value in KINDS:
            rows.append(
                [
                    (
                        label(context, lang, f"reports.kind.{value}"),
                        cb(FEATURE, "q", status, territory, value, 0),
                    )
                ]
            )
    return t(context, lang, f"reports.filter.{which}"), rows


async def queue_command(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    page = await service_of(context).queue(member.telegram_id, "new", None, None, 0)
    if page is None:
        await denied(update, context, lang)
        return
    text, rows = queue_screen(context, lang, page, ALL, ALL)
    await reply(update, context, text, rows)


# --- one report ----------------------------------------------------------------------------


def detail_screen(context: AppContext, lang: str, detail: Detail) -> tuple[str, Rows]:
    service = service_of(context)
    report = detail.report
    parts = [
        t(
            context,
            lang,
            "reports.detail",
            headline=Raw(service.headline(lang, report)),
            urgency=t(
                context, lang, "reports.urgency.now" if report.urgent else "reports.urgency.later"
            ),
            created=_local(context, report.created_at),
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
    for message in detail.messages[-6:]:
        key = (
            "reports.detail.from_reporter"
            if message.from_reporter
            else "reports.detail.to_reporter"
        )
        parts.append(
            t(context, lang, key, when=_local(context, message.created_at), text=message.text)
        )
    return "\n\n".join(parts), _detail_rows(context, lang, report)


def _detail_rows(context: AppContext, lang: str, report: Report) -> Rows:
    def button(key: str, action: str) -> list[tuple[str, str]]:
        return [(label(context, lang, key), cb(FEATURE, action, report.id))]

    rows: Rows = []
    if report.latitude is not None:
        rows.append(button("reports.button.location", "loc"))
    if report.photo:
        rows.append(button("reports.button.photo", "pho"))
    if report.status == "new":
        rows.append(button("reports.button.take", "tk"))
    if report.is_open and report.reporter_id is not None and not report.reporter_left:
        rows.append(button("reports.button.ask", "qs"))
    if report.status in ("new", "taken", "waiting"):
        rows.append(button("reports.button.to_call", "ca"))
    if report.is_open:
        rows.append(button("reports.button.resolve", "rs"))
        rows.append(button("reports.button.close", "cl"))
    if report.erased_at is None:
        rows.append(button("reports.button.erase", "er"))
    rows.append([(label(context, lang, "reports.button.queue"), cb(FEATURE, "q", report.status))])
    return rows


async def _open(
    update: Update, context: AppContext, member: Member, lang: str, report_id: int
) -> bool:
    detail = await service_of(context).detail(member.telegram_id, report_id)
    if detail is None:
        return False
    text, rows = detail_screen(context, lang, detail)
    await show(update, context, text, rows)
    return True


async def _media(
    update: Update, context: AppContext, member: Member, action: str, report_id: int
) -> bool:
    detail = await service_of(context).detail(member.telegram_id, report_id)
    chat = update.effective_chat
    if detail is None or chat is None:
        return False
    report = detail.report
    if action == "loc" and report.latitude is not None and report.longitude is not None:
        await context.bot.send_location(chat.id, report.latitude, report.longitude)
        return True
    if action == "pho" and report.photo:
        await context.bot.send_photo(chat.id, report.photo)
        return True
    return False


async def _told(
    update: Update, context: AppContext, member: Member, lang: str, acted: Acted
) -> bool | str:
    """The result of an action: the report's new screen, or why nothing changed."""
    if acted.outcome is Outcome.DENIED:
        await denied(update, context, lang)
        return True
    if acted.outcome is Outcome.ALREADY:
        if acted.report is not None:
            await _open(update, context, member, lang, acted.report.id)
        if acted.other:
            return t(context, lang, "reports.already_by", name=acted.other)
        return t(context, lang, "reports.already")
    if acted.outcome is Outcome.INVALID and acted.error:
        return t(context, lang, acted.error)
    if acted.outcome is not Outcome.DONE or acted.report is None:
        return False
    await _open(update, context, member, lang, acted.report.id)
    return True


async def _coordinator_press(
    update: Update, context: AppContext, member: Member, lang: str, data: Cb
) -> bool | str:
    service = service_of(context)
    if data.action == "q":
        return await _show_queue(update, context, member, lang, data.args)
    if data.action in ("ft", "fk"):
        found = _filters(data.args)
        if found is None:
            return False
        text, rows = filter_screen(context, lang, data.action, found[0], found[1], found[2])
        await show(update, context, text, rows)
        return True
    report_id = member_side.report_id_of(data)
    if report_id is None:
        return False
    me = member.telegram_id
    if data.action == "op":
        return await _open(update, context, member, lang, report_id)
    if data.action in ("loc", "pho"):
        return await _media(update, context, member, data.action, report_id)
    if data.action == "tk":
        return await _told(update, context, member, lang, await service.take(me, report_id))
    if data.action == "rs":
        return await _told(update, context, member, lang, await service.resolve(me, report_id))
    if data.action in ("qs", "cl"):
        flow = QUESTION_FLOW if data.action == "qs" else CLOSE_FLOW
        acted = await service.start_text(me, report_id, flow)
        if acted.outcome is not Outcome.DONE:
            return await _told(update, context, member, lang, acted)
        key = "reports.ask.question" if flow == QUESTION_FLOW else "reports.ask.reason"
        limit = MESSAGE_MAX if flow == QUESTION_FLOW else REASON_MAX
        await reply(update, context, t(context, lang, key, number=report_id, limit=limit))
        return True
    if data.action == "ca":
        acted = await service.to_call(me, report_id)
        if acted.outcome is not Outcome.DONE or acted.draft is None:
            return await _told(update, context, member, lang, acted)
        from handlers.calls import step_screen

        suggestion = acted.report.description if acted.report else None
        if suggestion:
            await reply(
                update, context, t(context, lang, "reports.call_suggestion", text=suggestion)
            )
        text, rows = step_screen(context, lang, acted.draft)  # type: ignore[arg-type]
        await reply(update, context, text, rows)
        return True
    if data.action == "er":
        rows = [
            [
                (
                    label(context, lang, "reports.button.erase_confirm"),
                    cb(FEATURE, "erok", report_id),
                )
            ],
            [(label(context, lang, "reports.button.back"), cb(FEATURE, "op", report_id))],
        ]
        await show(
            update, context, t(context, lang, "reports.erase.confirm", number=report_id), rows
        )
        return True
    if data.action == "erok":
        acted = await service.erase_now(me, report_id)
        if acted.outcome is Outcome.STALE and acted.report is not None:
            return t(context, lang, "reports.erase.already")
        return await _told(update, context, member, lang, acted)
    return False


COORDINATOR_ACTIONS = (
    "q",
    "ft",
    "fk",
    "op",
    "loc",
    "pho",
    "tk",
    "rs",
    "qs",
    "cl",
    "ca",
    "er",
    "erok",
)


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    member, lang = await current_member(update, context)
    data = parse_cb(query.data, FEATURE)
    if member is None or data is None:
        await stale(update, context, lang)
        return
    handled: bool | str
    if data.action in COORDINATOR_ACTIONS:
        if not member.is_coordinator or member.status == "blocked":
            await denied(update, context, lang)
            return
        handled = await _coordinator_press(update, context, member, lang, data)
    else:
        handled = await member_side.on_member_press(update, context, member, lang, data)
        if handled:
            return
    if handled is False:
        await stale(update, context, lang)
    elif isinstance(handled, str):
        await answer(query, handled, alert=True)
    elif data.action in COORDINATOR_ACTIONS:
        await answer(query)


async def on_text(
    update: Update, context: AppContext, member: Member, conversation: Conversation
) -> None:
    """The question to relay, or the reason for closing, typed by a coordinator."""
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
    acted = await service_of(context).typed(
        member.telegram_id, conversation.flow, report_id, message.text
    )
    if acted.outcome is Outcome.INVALID:
        text = t(context, lang, acted.error or "reports.error.empty", limit=acted.limit)
        if acted.kept_text:
            text += "\n\n" + t(context, lang, "common.your_text", text=acted.kept_text[:KEPT_MAX])
        await reply(update, context, text)
        return
    if acted.outcome is Outcome.DONE and acted.report is not None:
        key = (
            "reports.question_sent"
            if conversation.flow == QUESTION_FLOW
            else "reports.closed_done"
        )
        await reply(update, context, t(context, lang, key, number=report_id))
        detail = await service_of(context).detail(member.telegram_id, report_id)
        if detail is not None:
            text, rows = detail_screen(context, lang, detail)
            await reply(update, context, text, rows)
        return
    if acted.outcome is Outcome.ALREADY:
        await reply(update, context, t(context, lang, "reports.already"))
        return
    await reply(update, context, t(context, lang, "common.stale"))


async def report_figures(context: AppContext, lang: str) -> str:
    """The signalements section of /stats: by kind, territory and state, and response time."""
    counts, median = await service_of(context).figures()

    def lines(prefix: str | None, figures: dict[str, int]) -> str:
        if not figures:
            return "—"
        return "\n".join(
            f"• {t(context, lang, prefix + key) if prefix else key} : {value}"
            for key, value in figures.items()
        )

    return t(
        context,
        lang,
        "reports.stats",
        kinds=Raw(lines("reports.kind.", counts.by_kind)),
        states=Raw(lines("reports.status.", counts.by_status)),
        territories=Raw(lines(None, counts.by_territory)),
        median="—" if median is None else f"{median:.1f}",
    )


# --- quiet hours ---------------------------------------------------------------------------


def parse_hours(text: str) -> tuple[int, int] | bool | None:
    """ "22-7" -> (22, 7); "off" / "non" -> None; anything else -> False."""
    value = text.strip().lower().replace("h", "")
    if value in ("off", "non", "no", "aucun", "none"):
        return None
    parts = value.replace(" ", "").split("-")
    if len(parts) != 2 or not all(p.isdecimal() and len(p) <= 2 for p in parts):
        return False
    start, end = int(parts[0]), int(parts[1])
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        return False
    return start, end


async def quiet_command(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    args = context.args or []
    if not args:
        await reply(update, context, t(context, lang, "reports.quiet.help"))
        return
    hours = parse_hours(" ".join(args))
    if hours is False:
        await reply(update, context, t(context, lang, "reports.quiet.help"))
        return
    assert hours is not True
    await service_of(context).set_quiet_hours(member.telegram_id, hours)
    if hours is None:
        await reply(update, context, t(context, lang, "reports.quiet.off"))
    else:
        await reply(
            update, context, t(context, lang, "reports.quiet.on", start=hours[0], end=hours[1])
        )


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


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("signalements", queue_command, filters=private),
        CommandHandler("silence", quiet_command, filters=private),
        CallbackQueryHandler(on_button, pattern=pattern(FEATURE)),
    ]


__all__ = ["INPUTS", "build_handlers"]
