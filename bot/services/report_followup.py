"""Signalements, the coordinators' side: the queue, one report's details, and the actions
on it (take, ask, turn into a call, resolve, close, erase). Every action is a conditional
UPDATE: when two coordinators act at once the first wins and the second is told who did.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.inputs import check
from bot.services.outbox import Button, NewDelivery, Payload
from bot.services.report_base import (
    CLOSE_FLOW,
    MESSAGE_MAX,
    PAGE_SIZE,
    QUESTION_FLOW,
    REASON_MAX,
    Acted,
    Detail,
    Outcome,
    QueuePage,
    ReportAction,
    ReportBase,
    ReportPress,
    invalid,
)
from storage.reports import (
    OPEN_STATUSES,
    Kind,
    Report,
    Status,
)

log = logging.getLogger(__name__)


class ReportFollowUp(ReportBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by the application: opens an /appel draft prefilled from a report.
        self.open_call_draft: Callable[[int, dict[str, Any]], Awaitable[object]] | None = None

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
            return invalid(checked.problem, limit, checked.value)
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
                    text=self.label(lang, "reports.button.reply"),
                    data=ReportPress(ReportAction.REPLY, report_id=report.id).pack(),
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
            await self.sweeps.erase_content([report_id], now)
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
