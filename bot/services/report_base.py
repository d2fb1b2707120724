"""What the member side and the coordinators' side of signalements share: the button model,
the results of actions, the texts of notices, and how the reporter and coordinators are told.

Redevabilité is the rule: the reporter hears every change (taken in charge, a question,
turned into a call and how many came, resolved, closed with the reason). Notices to
coordinators carry the number, kind and territory, never the description: the details open
inside the bot, so that erasing a report later is not undone by copies in chats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from bot.callbacks import Layout, Pick, Press
from bot.clock import Clock
from bot.config import Settings
from bot.inputs import Problem, echo
from bot.services.base import FeatureService
from bot.services.members import MemberService
from bot.services.outbox import Button, NewDelivery, OutboxService, Payload
from bot.texts import Raw, Texts, plain
from storage.db import Database
from storage.members import OTHER_TERRITORY, Member, MemberRepository
from storage.report_sweeps import ReportSweepRepository
from storage.reports import (
    Report,
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


class ReportAction(StrEnum):
    """What a button of the signalements does (short codes on the wire)."""

    KIND = "k"
    URGENCY = "u"
    TERRITORY = "t"
    SKIP = "sk"
    EDIT = "ed"
    SEND = "send"
    CANCEL = "cx"
    REPLY = "rp"
    QUEUE = "q"
    FILTER_TERRITORY = "ft"
    FILTER_KIND = "fk"
    OPEN = "op"
    LOCATION = "loc"
    PHOTO = "pho"
    TAKE = "tk"
    RESOLVE = "rs"
    ASK = "qs"
    CLOSE = "cl"
    TO_CALL = "ca"
    ERASE = "er"
    ERASE_CONFIRM = "erok"


_ONE_REPORT = "report_id"
_QUEUE = "status? territory? kind? page?"


@dataclass(frozen=True)
class ReportPress(Press):
    PREFIX: ClassVar[str] = "rep"
    LAYOUT: ClassVar[Layout] = {
        ReportAction.KIND: "kind",
        ReportAction.URGENCY: "urgent",
        ReportAction.TERRITORY: "territory",
        ReportAction.SKIP: "step",
        ReportAction.EDIT: "step",
        ReportAction.REPLY: _ONE_REPORT,
        ReportAction.QUEUE: _QUEUE,
        ReportAction.FILTER_TERRITORY: _QUEUE,
        ReportAction.FILTER_KIND: _QUEUE,
        ReportAction.OPEN: _ONE_REPORT,
        ReportAction.LOCATION: _ONE_REPORT,
        ReportAction.PHOTO: _ONE_REPORT,
        ReportAction.TAKE: _ONE_REPORT,
        ReportAction.RESOLVE: _ONE_REPORT,
        ReportAction.ASK: _ONE_REPORT,
        ReportAction.CLOSE: _ONE_REPORT,
        ReportAction.TO_CALL: _ONE_REPORT,
        ReportAction.ERASE: _ONE_REPORT,
        ReportAction.ERASE_CONFIRM: _ONE_REPORT,
    }
    action: ReportAction
    report_id: int = 0
    # A kind of report (draft) or a queue filter ("-" for every kind).
    kind: str = "-"
    urgent: bool = False
    # A territory: index into the configured list, or Pick.OTHER / Pick.ALL.
    territory: int | Pick = Pick.ALL
    step: str = ""
    status: str = "new"
    page: int = 0


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


def invalid(problem: Problem | None, limit: int, value: str) -> Acted:
    if problem is Problem.EMPTY:
        return Acted(Outcome.INVALID, error="reports.error.empty")
    return Acted(
        Outcome.INVALID, error="reports.error.too_long", limit=limit, kept_text=echo(value)
    )


class ReportBase(FeatureService):
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
        self.sweeps = ReportSweepRepository(db)

    # --- texts shared by screens and notices ---------------------------------------------

    def label(self, lang: str, key: str, **params: Any) -> str:
        return plain(self.texts.get(lang, key, **params))

    def territory_label(self, lang: str, territory: str) -> str:
        if territory == OTHER_TERRITORY:
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

    def open_button(self, lang: str, report_id: int) -> list[list[Button]]:
        return [
            [
                Button(
                    text=self.label(lang, "reports.button.open"),
                    data=ReportPress(ReportAction.OPEN, report_id=report_id).pack(),
                )
            ]
        ]

    # --- who is a coordinator -----------------------------------------------------------

    async def _coordinator(self, member_id: int) -> bool:
        return await self.members.is_coordinator(member_id)

    async def _coordinators(self) -> list[int]:
        return list(await self.members.coordinator_ids())

    # --- telling people ------------------------------------------------------------------

    def _raw(self, lang: str, report: Report) -> Raw:
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
        quiet = await self.sweeps.quiet_hours(list(known))
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
                        payload=Payload(text=text, buttons=self.open_button(lang, report.id)),
                        not_before=quiet_until(now, quiet.get(chat_id), self.settings),
                    )
                )
        await self.outbox.enqueue(deliveries)
        await self.sweeps.mark("noticed_at", [r.id for r in reports], now)

    async def _audit(self, actor_id: int, action: str, report_id: int, now: datetime) -> None:
        await self.audit.record(actor_id, action, str(report_id), now, {})
