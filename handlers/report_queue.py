"""/signalements and /silence: the coordinators' queue of reports, its filters, quiet hours.

One report's screen and its actions are handlers/report_detail.py. Every press under the
"rep" prefix enters here (`on_button`) and goes through a table from action to function;
coordinators' actions are re-checked on the server at each press.
"""

from __future__ import annotations

import dataclasses

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.callbacks import Pick
from bot.context import AppContext
from bot.services.report_base import QueuePage, ReportAction, ReportPress
from bot.services.report_followup import ReportFollowUp
from bot.texts import Raw, plain
from handlers import report_detail
from handlers import reports as member_side
from handlers.common import (
    answer,
    button,
    coordinator,
    current_member,
    denied,
    label,
    reply,
    show,
    stale,
    t,
)
from handlers.report_detail import local_time
from handlers.reports import Handled, OnReportPress
from storage.members import Member
from storage.outbox import Rows
from storage.reports import KINDS, STATUSES, Kind, Status

P = ReportPress
A = ReportAction
ALL = "-"


def followup_of(context: AppContext) -> ReportFollowUp:
    return context.services.report_followup


# --- the queue -----------------------------------------------------------------------------


def _view(context: AppContext, data: ReportPress) -> tuple[Status, str | None, Kind | None] | None:
    """The state, territory and kind a queue button asks for, checked against the config."""
    if data.status not in STATUSES or (data.kind != ALL and data.kind not in KINDS):
        return None
    territories = context.services.settings.territories
    territory: str | None = None
    if data.territory is Pick.OTHER:
        return None
    if data.territory is not Pick.ALL:
        if int(data.territory) >= len(territories):
            return None
        territory = territories[int(data.territory)]
    status = next(s for s in STATUSES if s == data.status)
    kind = next((k for k in KINDS if k == data.kind), None)
    return status, territory, kind


def _to(data: ReportPress, action: ReportAction, **changes: object) -> ReportPress:
    """The same queue view under another action, with some fields changed."""
    return dataclasses.replace(data, action=action, page=0, **changes)  # type: ignore[arg-type]


def queue_screen(
    context: AppContext, lang: str, page: QueuePage, data: ReportPress
) -> tuple[str, Rows]:
    service = followup_of(context)
    tabs = [
        button(
            ("• " if status == page.status else "")
            + label(context, lang, f"reports.status.{status}")
            + f" ({page.counts.get(status, 0)})",
            _to(data, A.QUEUE, status=status),
        )
        for status in STATUSES
    ]
    rows: Rows = [tabs[0:2], tabs[2:4], tabs[4:6]]
    for report in page.items:
        mark = "🆘 " if report.urgent else ""
        line = mark + plain(service.headline(lang, report))
        line += " · " + local_time(context, report.created_at)
        rows.append([button(line, P(A.OPEN, report_id=report.id))])
    nav = []
    if page.page > 0:
        nav.append(button("◀️", _to(data, A.QUEUE, page=page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append(button("▶️", _to(data, A.QUEUE, page=page.page + 1)))
    if nav:
        rows.append(nav)
    rows.append(
        [
            button(
                label(context, lang, "reports.button.filter_territory"),
                _to(data, A.FILTER_TERRITORY),
            ),
            button(label(context, lang, "reports.button.filter_kind"), _to(data, A.FILTER_KIND)),
        ]
    )
    return _queue_title(context, lang, page, data), rows


def _queue_title(context: AppContext, lang: str, page: QueuePage, data: ReportPress) -> str:
    every = t(context, lang, "reports.filter.all")
    territories = context.services.settings.territories
    territory = every if data.territory is Pick.ALL else territories[int(data.territory)]
    text = t(
        context,
        lang,
        "reports.queue.title",
        status=t(context, lang, f"reports.status.{page.status}"),
        total=page.total,
        page=page.page + 1,
        pages=page.pages,
        territory=territory,
        kind=every if data.kind == ALL else t(context, lang, f"reports.kind.{data.kind}"),
    )
    if not page.items:
        text += "\n\n" + t(context, lang, "reports.queue.empty")
    return text


async def _queue(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    found = _view(context, data)
    if found is None:
        return False
    status, territory, kind = found
    page = await followup_of(context).queue(member.telegram_id, status, territory, kind, data.page)
    if page is None:
        return t(context, lang, "common.denied")
    view = P(A.QUEUE, status=status, territory=data.territory, kind=data.kind)
    text, rows = queue_screen(context, lang, page, view)
    await show(update, context, text, rows)
    return True


async def _filter(
    update: Update, context: AppContext, member: Member, lang: str, data: ReportPress
) -> Handled:
    if _view(context, data) is None:
        return False
    by_territory = data.action is A.FILTER_TERRITORY
    every = {"territory": Pick.ALL} if by_territory else {"kind": ALL}
    rows: Rows = [
        [button(label(context, lang, "reports.filter.all"), _to(data, A.QUEUE, **every))]
    ]
    if by_territory:
        for index, name in enumerate(context.services.settings.territories):
            rows.append([button(name, _to(data, A.QUEUE, territory=index))])
    else:
        for value in KINDS:
            kind_label = label(context, lang, f"reports.kind.{value}")
            rows.append([button(kind_label, _to(data, A.QUEUE, kind=value))])
    key = "reports.filter.ft" if by_territory else "reports.filter.fk"
    await show(update, context, t(context, lang, key), rows)
    return True


async def queue_command(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    page = await followup_of(context).queue(member.telegram_id, "new", None, None, 0)
    if page is None:
        await denied(update, context, lang)
        return
    text, rows = queue_screen(context, lang, page, P(A.QUEUE))
    await reply(update, context, text, rows)


# --- every press under the prefix ----------------------------------------------------------

COORDINATOR_ROUTES: dict[ReportAction, OnReportPress] = {
    A.QUEUE: _queue,
    A.FILTER_TERRITORY: _filter,
    A.FILTER_KIND: _filter,
    **report_detail.ROUTES,
}


async def on_button(update: Update, context: AppContext) -> None:
    query = update.callback_query
    if query is None:
        return
    member, lang = await current_member(update, context)
    data = ReportPress.parse(query.data)
    if member is None or data is None:
        await stale(update, context, lang)
        return
    route = member_side.MEMBER_ROUTES.get(data.action)
    if route is None:
        if not member.is_coordinator or member.status == "blocked":
            await denied(update, context, lang)
            return
        route = COORDINATOR_ROUTES[data.action]
    handled = await route(update, context, member, lang, data)
    if handled is False:
        await stale(update, context, lang)
    elif isinstance(handled, str):
        await answer(query, handled, alert=True)
    else:
        await answer(query)


# --- /stats and quiet hours ----------------------------------------------------------------


async def report_figures(context: AppContext, lang: str) -> str:
    """The signalements section of /stats: by kind, territory and state, and response time."""
    counts, median = await context.services.reports.figures()

    def lines(prefix: str | None, figures: dict[str, int]) -> Raw:
        if not figures:
            return Raw("—")
        return Raw(
            "\n".join(
                t(
                    context,
                    lang,
                    "common.figure",
                    label=t(context, lang, prefix + key) if prefix else key,
                    value=value,
                )
                for key, value in figures.items()
            )
        )

    return t(
        context,
        lang,
        "reports.stats",
        kinds=lines("reports.kind.", counts.by_kind),
        states=lines("reports.status.", counts.by_status),
        territories=lines(None, counts.by_territory),
        median="—" if median is None else f"{median:.1f}",
    )


def parse_hours(text: str) -> tuple[int, int] | bool | None:
    """ "22-7" -> (22, 7); "off" / "non" -> None; anything else -> False."""
    value = text.strip().lower().replace("h", "")
    if value in ("off", "non", "no", "aucun", "none"):
        return None
    parts = value.replace(" ", "").split("-")
    if len(parts) != 2 or not all(p.isascii() and p.isdecimal() and len(p) <= 2 for p in parts):
        return False
    start, end = int(parts[0]), int(parts[1])
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        return False
    return start, end


async def quiet_command(update: Update, context: AppContext) -> None:
    member, lang = await coordinator(update, context)
    if member is None:
        return
    hours = parse_hours(" ".join(context.args or []))
    if hours is False or hours is True:
        await reply(update, context, t(context, lang, "reports.quiet.help"))
        return
    await context.services.reports.set_quiet_hours(member.telegram_id, hours)
    if hours is None:
        await reply(update, context, t(context, lang, "reports.quiet.off"))
        return
    text = t(context, lang, "reports.quiet.on", start=hours[0], end=hours[1])
    await reply(update, context, text)


INPUTS = report_detail.INPUTS
RESUMES = report_detail.RESUMES


def build_handlers() -> list[BaseHandler[Update, AppContext, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("signalements", queue_command, filters=private),
        CommandHandler("silence", quiet_command, filters=private),
        CallbackQueryHandler(on_button, pattern=ReportPress.pattern()),
    ]
