"""Signalements (reports): sent by a member, followed up by the coordinators, answered back.

Redevabilité is the rule: the reporter hears every change (taken in charge, a question,
turned into a call and how many came, resolved, closed with the reason). Notices to
coordinators carry the number, kind and territory, never the description: the details open
inside the bot, so that erasing a report later is not undone by copies in chats.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.inputs import Problem, check, echo
from bot.services.base import FeatureService
from bot.services.members import MemberService
from bot.services.outbox import Button, NewDelivery, OutboxService, Payload
from bot.services.report_drafts import ReportDrafts
from bot.texts import Texts, plain
from storage.db import Database
from storage.members import Member, MemberRepository
from storage.reports import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Kind,
    Report,
    ReportCounts,
    ReportMessage,
    ReportRepository,
    Status,
)

log = logging.getLogger(__name__)

PREFIX = "rep"
QUESTION_FLOW = "report_question"
ANSWER_FLOW = "report_answer"
CLOSE_FLOW = "report_close"
MESSAGE_MAX = 600
REASON_MAX = 300
PAGE_SIZE = 6
MINE_LIMIT = 10


def data(action: str, *args: object) -> str:
    """Callback data for buttons inside queued messages, in handlers.common.cb's format."""
    packed = ":".join((PREFIX, "1", action, *(str(a) for a in args)))
    if len(packed.encode()) > 64:
        raise ValueError("callback data over 64 bytes")
    return packed


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"
    STALE = "stale"
    DENIED = "denied"
    INVALID = "invalid"


@dataclass
class Acted:
    """What a coordinator's action did; on ALREADY, who got there first."""

    outcome: Outcome
    report: Report | None = None
    other: str | None = None
    error: str | None = None
    limit: int = 0
    kept_text: str | None = None
    draft: object | None = None


@dataclass
class Detail:
    report: Report
    messages: list[ReportMessage] = field(default_factory=list)
    reporter_name: str | None = None
    assignee_name: str | None = None


@dataclass
class QueuePage:
    status: Status
    items: list[Report]
    total: int
    page: int
    pages: int
    counts: dict[str, int]


def quiet_until(
    now: datetime, hours: tuple[int, int] | None, settings: Settings
) -> datetime | None:
    """The end of a coordinator's quiet hours if `now` falls inside them, else None."""
    if hours is None or hours[0] == hours[1]:
        return None
    start, end = hours
    local = now.astimezone(settings.zone)
    inside = start <= local.hour < end if start < end else local.hour >= start or local.hour < end
    if not inside:
        return None
    wake = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(now.tzinfo)


def _invalid(problem: Problem | None, limit: int, value: str) -> Acted:
    if problem is Problem.EMPTY:
        return Acted(Outcome.INVALID, error="reports.error.empty")
    return Acted(
        Outcome.INVALID, error="reports.error.too_long", limit=limit, kept_text=echo(value)
    )


class ReportService(FeatureService):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        members: MemberService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.members = members
        self.member_repo = MemberRepository(db)
        self.repo = ReportRepository(db)
        self.drafts = ReportDrafts(db, settings, clock, texts, outbox)
        # Set by the application: opens an /appel draft prefilled from a report.
        self.open_call_draft: Callable[[int, dict[str, Any]], Awaitable[object]] | None = None

    # --- texts shared by screens and notices ---------------------------------------------

    def label(self, lang: str, key: str, **params: Any) -> str:
        return plain(self.texts.get(lang, key, **params))

    def territory_label(self, lang: str, territory: str) -> str:
        if territory == "autre":
            return self.texts.get(lang, "reports.territory.other")
        return territory

    def headline(self, lang: str, report: Report) -> str:
        """Number, kind and territory: all that a notice outside the bot may say."""
        return self.texts.get(
            lang,
            "reports.headline",
            number=report.id,
            kind=self.texts.get(lang, f"reports.kind.{report.kind}"),
            territory=self.territory_label(lang, report.territory),
        )

    def _lang(self, member: Member | None) -> str:
        return member.language if member else self.settings.default_language

    def _open_button(self, lang: str, report_id: int) -> list[list[Button]]:
        return [[Button(text=self.label(lang, "reports.button.open"), data=data("op", report_id))]]

    # --- the member side -----------------------------------------------------------------

    async def submit(self, member_id: int) -> int | None:
        """Send the finished draft: the report, the urgent notices, in one transaction."""
        now = self.clock.now()
        async with self.db.transaction():
            new = await self.drafts.take_finished(member_id)
            if new is None:
                return None
            report_id = await self.repo.create(new, now)
            report = await self.repo.get(report_id)
            assert report is not None
            if report.urgent:
                await self._notify_urgent([report], now)
            log.info("report %d sent by %d (urgent=%s)", report_id, member_id, report.urgent)
            return report_id

    async def mine(self, member_id: int) -> list[Report]:
        return await self.repo.of_reporter(member_id, MINE_LIMIT)

    async def answer(self, member_id: int, report_id: int, text: str) -> Acted:
        """The reporter answers a coordinator's question; relayed to whoever follows it."""
        checked = check(text, MESSAGE_MAX)
        if not checked.ok:
            return _invalid(checked.problem, MESSAGE_MAX, checked.value)
        value = checked.value
        now = self.clock.now()
        async with self.db.transaction():
            report = await self.repo.get(report_id)
            if report is None or report.reporter_id != member_id or not report.is_open:
                await self.conversations.clear(member_id, ANSWER_FLOW)
                return Acted(Outcome.STALE)
            await self.repo.add_message(report_id, True, member_id, value, now)
            await self.repo.change(report_id, ("waiting",), "taken", now)
            await self.conversations.clear(member_id, ANSWER_FLOW)
            targets = [report.assignee_id] if report.assignee_id else await self._coordinators()
            known = await self.member_repo.get_many(targets)

            def render(chat_id: int) -> Payload:
                lang = self._lang(known.get(chat_id))
                text = self.texts.get(
                    lang, "reports.notice.answered", headline=self._raw(lang, report), text=value
                )
                return Payload(text=text, buttons=self._open_button(lang, report_id))

            await self.outbox.notify(list(known), "report.answer", render, ref_id=report_id)
            return Acted(Outcome.DONE, report)

    async def start_answer(self, member_id: int, report_id: int) -> Report | None:
        """ "Répondre" under a question: the next typed message is the answer."""
        async with self.db.transaction():
            report = await self.repo.get(report_id)
            if report is None or report.reporter_id != member_id or not report.is_open:
                return None
            await self.conversations.save(
                member_id, ANSWER_FLOW, "text", {"report_id": report_id}, self.clock.now()
            )
            return report

    # --- the coordinators' queue ---------------------------------------------------------

    async def _coordinator(self, member_id: int) -> bool:
        return await self.members.is_coordinator(member_id)

    async def _coordinators(self) -> list[int]:
        return list(await self.members.coordinator_ids())

    async def queue(
        self,
        coordinator_id: int,
        status: Status,
        territory: str | None,
        kind: Kind | None,
        page: int,
    ) -> QueuePage | None:
        if not await self._coordinator(coordinator_id):
            return None
        page = max(page, 0)
        items, total = await self.repo.queue(status, territory, kind, page * PAGE_SIZE, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if page >= pages and total:
            return await self.queue(coordinator_id, status, territory, kind, pages - 1)
        counts = await self.repo.count_by_status()
        return QueuePage(status, items, total, page, pages, counts)

    async def detail(self, coordinator_id: int, report_id: int) -> Detail | None:
        if not await self._coordinator(coordinator_id):
            return None
        report = await self.repo.get(report_id)
        if report is None:
            return None
        people = await self.member_repo.get_many(
            [i for i in (report.reporter_id, report.assignee_id) if i is not None]
        )
        reporter = people.get(report.reporter_id) if report.reporter_id else None
        assignee = people.get(report.assignee_id) if report.assignee_id else None
        return Detail(
            report=report,
            messages=await self.repo.messages(report_id),
            reporter_name=reporter.display_name if reporter and not report.reporter_left else None,
            assignee_name=assignee.display_name if assignee else None,
        )

    async def _first_wins(self, report: Report | None, coordinator_id: int) -> Acted:
        """The answer to an action that found the report already moved on."""
        if report is None:
            return Acted(Outcome.STALE)
        other = None
        if report.assignee_id and report.assignee_id != coordinator_id:
            found = await self.member_repo.get(report.assignee_id)
            other = found.display_name if found else None
        return Acted(Outcome.ALREADY, report, other=other)

    async def take(self, coordinator_id: int, report_id: int) -> Acted:
        """ "Je m'en occupe": the report is assigned to me; the reporter hears who."""
        now = self.clock.now()
        async with self.db.transaction():
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            if not await self.repo.change(
                report_id, ("new",), "taken", now, assignee_id=coordinator_id
            ):
                return await self._first_wins(await self.repo.get(report_id), coordinator_id)
            report = await self.repo.get(report_id)
            assert report is not None
            me = await self.member_repo.get(coordinator_id)
            await self._audit(coordinator_id, "report.take", report_id, now)
            await self._tell_reporter(
                report, "reports.told.taken", name=me.display_name if me else "—"
            )
            return Acted(Outcome.DONE, report)

    async def start_text(self, coordinator_id: int, report_id: int, flow: str) -> Acted:
        """ "Poser une question" or "Clore": the coordinator's next message is the text."""
        async with self.db.transaction():
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            report = await self.repo.get(report_id)
            if report is None or not report.is_open:
                return await self._first_wins(report, coordinator_id)
            if flow == QUESTION_FLOW and (report.reporter_left or report.reporter_id is None):
                return Acted(Outcome.INVALID, report, error="reports.error.reporter_left")
            await self.conversations.save(
                coordinator_id, flow, "text", {"report_id": report_id}, self.clock.now()
            )
            return Acted(Outcome.DONE, report)

    async def typed(self, coordinator_id: int, flow: str, report_id: int, text: str) -> Acted:
        """The question to relay, or the reason for closing."""
        limit = MESSAGE_MAX if flow == QUESTION_FLOW else REASON_MAX
        checked = check(text, limit)
        if not checked.ok:
            return _invalid(checked.problem, limit, checked.value)
        value = checked.value
        if flow == QUESTION_FLOW:
            return await self._ask(coordinator_id, report_id, value)
        return await self._close(coordinator_id, report_id, value)

    async def _ask(self, coordinator_id: int, report_id: int, question: str) -> Acted:
        now = self.clock.now()
        async with self.db.transaction():
            await self.conversations.clear(coordinator_id, QUESTION_FLOW)
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            report = await self.repo.get(report_id)
            if report is None or not report.is_open or report.reporter_id is None:
                return await self._first_wins(report, coordinator_id)
            if report.status in ("new", "taken"):
                await self.repo.change(
                    report_id, ("new", "taken"), "waiting", now, assignee_id=coordinator_id
                )
            else:
                await self.repo.touch(report_id, now)
            await self.repo.add_message(report_id, False, coordinator_id, question, now)
            me = await self.member_repo.get(coordinator_id)
            reporter = await self.member_repo.get(report.reporter_id)
            if reporter is not None and not report.reporter_left:
                lang = reporter.language
                text = self.texts.get(
                    lang,
                    "reports.told.question",
                    number=report.id,
                    name=me.display_name if me else "—",
                    question=question,
                )
                button = Button(
                    text=self.label(lang, "reports.button.reply"), data=data("rp", report.id)
                )
                await self.outbox.enqueue(
                    [
                        NewDelivery(
                            chat_id=reporter.telegram_id,
                            kind="report.question",
                            ref_id=report.id,
                            priority=3,
                            payload=Payload(text=text, buttons=[[button]]),
                        )
                    ]
                )
            await self._audit(coordinator_id, "report.question", report_id, now)
            return Acted(Outcome.DONE, await self.repo.get(report_id))

    async def resolve(self, coordinator_id: int, report_id: int) -> Acted:
        now = self.clock.now()
        async with self.db.transaction():
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            if not await self.repo.change(
                report_id, OPEN_STATUSES, "resolved", now, assignee_id=coordinator_id
            ):
                return await self._first_wins(await self.repo.get(report_id), coordinator_id)
            report = await self.repo.get(report_id)
            assert report is not None
            await self._audit(coordinator_id, "report.resolve", report_id, now)
            await self._tell_reporter(report, "reports.told.resolved")
            return Acted(Outcome.DONE, report)

    async def _close(self, coordinator_id: int, report_id: int, reason: str) -> Acted:
        now = self.clock.now()
        async with self.db.transaction():
            await self.conversations.clear(coordinator_id, CLOSE_FLOW)
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            if not await self.repo.change(
                report_id, OPEN_STATUSES, "closed", now, assignee_id=coordinator_id, reason=reason
            ):
                return await self._first_wins(await self.repo.get(report_id), coordinator_id)
            report = await self.repo.get(report_id)
            assert report is not None
            await self._audit(coordinator_id, "report.close", report_id, now)
            await self._tell_reporter(report, "reports.told.closed", reason=reason)
            return Acted(Outcome.DONE, report)

    async def erase_now(self, coordinator_id: int, report_id: int) -> Acted:
        """On request of the person concerned: the content goes at once, the count stays."""
        now = self.clock.now()
        async with self.db.transaction():
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            report = await self.repo.get(report_id)
            if report is None or report.erased_at is not None:
                return Acted(Outcome.STALE, report)
            if report.is_open:
                await self.repo.change(
                    report_id, OPEN_STATUSES, "closed", now, assignee_id=coordinator_id
                )
            await self.repo.erase_content([report_id], now)
            await self._audit(coordinator_id, "report.erase", report_id, now)
            erased = Acted(Outcome.DONE, await self.repo.get(report_id))
        await self.db.after_erasure()
        return erased

    async def to_call(self, coordinator_id: int, report_id: int) -> Acted:
        """Open an /appel draft with the territory and a text to edit already filled in."""
        async with self.db.transaction():
            if not await self._coordinator(coordinator_id):
                return Acted(Outcome.DENIED)
            report = await self.repo.get(report_id)
            if report is None or report.status not in ("new", "taken", "waiting"):
                return await self._first_wins(report, coordinator_id)
            if self.open_call_draft is None:
                raise RuntimeError("call drafts are not wired to reports")
            territories = (
                [report.territory] if report.territory in self.settings.territories else []
            )
            draft = await self.open_call_draft(
                coordinator_id, {"territories": territories, "report_id": report.id}
            )
            return Acted(Outcome.DONE, report, draft=draft)

    async def call_published(self, call_id: int, draft: dict[str, Any]) -> None:
        """Hook of the /appel draft, inside its transaction: link the report, tell its author."""
        report_id = draft.get("report_id")
        if not isinstance(report_id, int):
            return
        now = self.clock.now()
        if not await self.repo.link_call(report_id, call_id, now):
            return
        report = await self.repo.get(report_id)
        if report is not None:
            await self._tell_reporter(report, "reports.told.call")

    # --- telling people ------------------------------------------------------------------

    def _raw(self, lang: str, report: Report) -> Any:
        from bot.texts import Raw

        return Raw(self.headline(lang, report))

    async def _tell_reporter(self, report: Report, key: str, **params: Any) -> None:
        if report.reporter_id is None or report.reporter_left:
            return
        reporter = await self.member_repo.get(report.reporter_id)
        if reporter is None:
            return
        text = self.texts.get(reporter.language, key, number=report.id, **params)
        await self.outbox.enqueue(
            [
                NewDelivery(
                    chat_id=reporter.telegram_id,
                    kind="report.told",
                    ref_id=report.id,
                    priority=3,
                    payload=Payload(text=text),
                )
            ]
        )

    async def _notify_urgent(self, reports: list[Report], now: datetime) -> None:
        """Every coordinator at once, except during their own quiet hours (sent at the end)."""
        coordinators = await self._coordinators()
        known = await self.member_repo.get_many(coordinators)
        quiet = await self.repo.quiet_hours(list(known))
        deliveries = []
        for report in reports:
            for chat_id, member in known.items():
                lang = member.language
                text = self.texts.get(
                    lang, "reports.notice.urgent", headline=self._raw(lang, report)
                )
                deliveries.append(
                    NewDelivery(
                        chat_id=chat_id,
                        kind="report.urgent",
                        ref_id=report.id,
                        priority=2,
                        payload=Payload(text=text, buttons=self._open_button(lang, report.id)),
                        not_before=quiet_until(now, quiet.get(chat_id), self.settings),
                    )
                )
        await self.outbox.enqueue(deliveries)
        await self.repo.mark("noticed_at", [r.id for r in reports], now)

    async def _audit(self, actor_id: int, action: str, report_id: int, now: datetime) -> None:
        await self.audit.record(actor_id, action, str(report_id), now, {})

    async def figures(self) -> tuple[ReportCounts, float | None]:
        """/stats: reports by kind, territory and state, and the median hours to a first
        response (None before any response)."""
        counts = await self.repo.counts()
        seconds = sorted(counts.response_seconds)
        median = statistics.median(seconds) / 3600 if seconds else None
        return counts, median

    async def set_quiet_hours(self, coordinator_id: int, hours: tuple[int, int] | None) -> bool:
        if not await self._coordinator(coordinator_id):
            return False
        if hours is not None and not all(0 <= h <= 23 for h in hours):
            return False
        await self.repo.set_quiet_hours(coordinator_id, hours)
        return True

    async def release_member(self, member_id: int) -> None:
        """Before an erasure: open reports stay workable without the reporter's identity."""
        reports = await self.repo.open_of_reporter(member_id)
        await self.repo.mark_reporter_left(member_id)
        await self.conversations.clear(member_id, ANSWER_FLOW)
        for report in reports:
            targets = [report.assignee_id] if report.assignee_id else await self._coordinators()
            known = await self.member_repo.get_many([t for t in targets if t != member_id])

            def render(
                chat_id: int, report: Report = report, known: dict[int, Member] = known
            ) -> Payload:
                lang = self._lang(known.get(chat_id))
                text = self.texts.get(
                    lang, "reports.notice.reporter_left", headline=self._raw(lang, report)
                )
                return Payload(text=text, buttons=self._open_button(lang, report.id))

            await self.outbox.notify(list(known), "report.left", render, ref_id=report.id)


__all__ = ["FINAL_STATUSES", "Acted", "Detail", "Outcome", "QueuePage", "ReportService"]
