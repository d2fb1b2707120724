"""Signalements, the member's side: send a report, follow it, answer a coordinator's question.

The coordinators' side is bot/services/report_followup.py; the periodic duties (digests,
reminders, retention) are bot/services/report_duties.py.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from bot.inputs import check
from bot.services.outbox import Payload
from bot.services.report_base import (
    ANSWER_FLOW,
    MESSAGE_MAX,
    MINE_LIMIT,
    Acted,
    Outcome,
    ReportBase,
    invalid,
)
from bot.services.report_drafts import ReportDrafts
from storage.members import Member
from storage.report_sweeps import ReportCounts
from storage.reports import Report

log = logging.getLogger(__name__)


class ReportService(ReportBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drafts = ReportDrafts(self.db, self.settings, self.clock, self.texts, self.outbox)

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
            return invalid(checked.problem, MESSAGE_MAX, checked.value)
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
                return Payload(text=text, buttons=self.open_button(lang, report_id))

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

    async def figures(self) -> tuple[ReportCounts, float | None]:
        """/stats: reports by kind, territory and state, and the median hours to a first
        response (None before any response)."""
        counts = await self.sweeps.counts()
        seconds = sorted(counts.response_seconds)
        median = statistics.median(seconds) / 3600 if seconds else None
        return counts, median

    async def set_quiet_hours(self, coordinator_id: int, hours: tuple[int, int] | None) -> bool:
        if not await self._coordinator(coordinator_id):
            return False
        if hours is not None and not all(0 <= h <= 23 for h in hours):
            return False
        await self.sweeps.set_quiet_hours(coordinator_id, hours)
        return True

    async def release_member(self, member_id: int) -> None:
        """Before an erasure: open reports stay workable without the reporter's identity."""
        reports = await self.sweeps.open_of_reporter(member_id)
        await self.sweeps.mark_reporter_left(member_id)
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
                return Payload(text=text, buttons=self.open_button(lang, report.id))

            await self.outbox.notify(list(known), "report.left", render, ref_id=report.id)
