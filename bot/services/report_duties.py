"""The periodic duties of signalements: digests, reminders, outcomes of calls, retention.

Each duty reads what is due from the database and marks it done in the same transaction as
the messages it queues, so a restart never repeats or skips one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.inputs import LIST_LIMIT, fit_lines
from bot.services.outbox import Button, NewDelivery, Payload
from bot.services.report_base import ReportAction, ReportBase, ReportPress
from storage.reports import Report

log = logging.getLogger(__name__)

QUEUE_DATA = ReportPress(ReportAction.QUEUE).pack()


class ReportDuties:
    def __init__(self, service: ReportBase) -> None:
        self.service = service
        self.repo = service.sweeps
        self.settings = service.settings
        self.texts = service.texts

    async def sweep(self) -> None:
        await self.urgent_left()
        await self.digest()
        await self.raise_overdue()
        await self.remind_untouched()
        await self.tell_call_outcomes()
        await self.retention()

    def _in_day_window(self, now: datetime) -> bool:
        checkins = self.settings.checkins
        local = now.astimezone(self.settings.zone).time().replace(tzinfo=None)
        return checkins.day_start <= local < checkins.day_end

    async def _to_coordinators(
        self, kind: str, reports: list[Report], key: str, now: datetime, only: int | None = None
    ) -> None:
        """One message per coordinator listing the reports' headlines, with a queue button."""
        service = self.service
        targets = [only] if only is not None else await service._coordinators()
        known = await service.member_repo.get_many(targets)

        def render(chat_id: int) -> Payload:
            lang = service._lang(known.get(chat_id))
            shown, rest = fit_lines(
                ["• " + service.headline(lang, r) for r in reports], LIST_LIMIT
            )
            if rest:
                shown.append(self.texts.get(lang, "common.more", count=rest))
            lines = "\n".join(shown)
            from bot.texts import Raw

            text = self.texts.get(lang, key, count=len(reports), lines=Raw(lines))
            buttons = (
                service.open_button(lang, reports[0].id)
                if len(reports) == 1
                else [
                    [
                        Button(
                            text=service.label(lang, "reports.button.queue"),
                            data=ReportPress(ReportAction.QUEUE).pack(),
                        )
                    ]
                ]
            )
            return Payload(text=text, buttons=buttons)

        await service.outbox.notify(list(known), kind, render)

    async def urgent_left(self) -> None:
        """Urgent reports are told at submission; this catches any left unnoticed."""
        async with self.service.db.transaction():
            pending = await self.repo.unnoticed(urgent=True)
            if pending:
                await self.service._notify_urgent(pending, self.service.clock.now())

    async def digest(self) -> None:
        """Reports that can wait: gathered at most every few hours, inside the day window."""
        now = self.service.clock.now()
        every = timedelta(hours=self.settings.reports.digest_hours)
        async with self.service.db.transaction():
            pending = await self.repo.unnoticed(urgent=False)
            if not pending or not self._in_day_window(now):
                return
            last = await self.repo.last_digest()
            if last is not None and now - last < every:
                return
            await self._to_coordinators("report.digest", pending, "reports.notice.digest", now)
            await self.repo.mark("noticed_at", [r.id for r in pending], now)

    async def raise_overdue(self) -> None:
        """A report still new after `overdue_hours` is raised again to every coordinator."""
        now = self.service.clock.now()
        cutoff = now - timedelta(hours=self.settings.reports.overdue_hours)
        async with self.service.db.transaction():
            overdue = await self.repo.still_new(cutoff)
            if not overdue:
                return
            await self._to_coordinators("report.overdue", overdue, "reports.notice.overdue", now)
            await self.repo.mark("raised_at", [r.id for r in overdue], now)

    async def remind_untouched(self) -> None:
        """Taken but untouched for `remind_days`: its coordinator is reminded, once."""
        now = self.service.clock.now()
        cutoff = now - timedelta(days=self.settings.reports.remind_days)
        async with self.service.db.transaction():
            stale = await self.repo.untouched(cutoff)
            by_assignee: dict[int, list[Report]] = {}
            for report in stale:
                if report.assignee_id is not None:
                    by_assignee.setdefault(report.assignee_id, []).append(report)
            for assignee, reports in by_assignee.items():
                await self._to_coordinators(
                    "report.reminder", reports, "reports.notice.untouched", now, only=assignee
                )
            await self.repo.mark("reminded_at", [r.id for r in stale], now)

    async def tell_call_outcomes(self) -> None:
        """Once its call is over, the reporter hears how many people said they would come."""
        now = self.service.clock.now()
        async with self.service.db.transaction():
            outcomes = await self.repo.call_outcomes(now)
            if not outcomes:
                return
            known = await self.service.member_repo.get_many([o.reporter_id for o in outcomes])
            deliveries = []
            for outcome in outcomes:
                member = known.get(outcome.reporter_id)
                if member is None:
                    continue
                text = self.texts.get(
                    member.language,
                    "reports.told.call_outcome",
                    number=outcome.report_id,
                    count=outcome.coming,
                )
                deliveries.append(
                    NewDelivery(
                        chat_id=member.telegram_id,
                        kind="report.told",
                        ref_id=outcome.report_id,
                        payload=Payload(text=text),
                    )
                )
            await self.service.outbox.enqueue(deliveries)
            await self.repo.mark("outcome_told_at", [o.report_id for o in outcomes], now)

    async def retention(self) -> None:
        """Erase closed reports after `keep_closed_days`; close and erase any report older
        than `max_age_days`, the coordinators warned `warn_days` before."""
        now = self.service.clock.now()
        config = self.settings.reports
        async with self.service.db.transaction():
            closed = await self.repo.closed_before(now - timedelta(days=config.keep_closed_days))
            await self.repo.erase_content(closed, now)
            max_age = timedelta(days=config.max_age_days)
            to_warn = await self.repo.open_created_before(
                now - max_age + timedelta(days=config.warn_days), warned=False
            )
            if to_warn:
                await self._to_coordinators(
                    "report.expiring", to_warn, "reports.notice.expiring", now
                )
                await self.repo.mark("warned_at", [r.id for r in to_warn], now)
            expired = await self.repo.open_created_before(now - max_age, warned=True)
            for report in expired:
                await self.service.repo.change(
                    report.id, ("new", "taken", "waiting", "call"), "closed", now
                )
            await self.repo.erase_content([r.id for r in expired], now)
        if closed or expired:
            await self.service.db.after_erasure()
            log.info("reports erased: %d closed, %d too old", len(closed), len(expired))
