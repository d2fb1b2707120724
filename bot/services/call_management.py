"""The coordinator's /appels tools and the calls' own clock: detail, close, cancel, remind;
the sweepers that close calls at their deadline and send volunteers their reminders.

Every action re-checks the role and re-reads the call inside its transaction, so a double
tap (or two coordinators at once) acts once: the second press finds the call already closed,
cancelled or just reminded, and is answered as stale.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.services.call_buttons import CallAction, CallPress
from bot.services.calls import KIND_CALL, KIND_REMINDER, LIVE, CallCounts, CallService
from bot.texts import Raw, plain
from storage.calls import Answer, Call, Volunteer
from storage.outbox import Button

REMIND_AGAIN_AFTER = timedelta(minutes=10)
"""A second "Relancer" sooner than this is a double tap, not a new reminder."""


@dataclass
class CallDetail:
    call: Call
    counts: CallCounts
    volunteers: list[Volunteer]
    waiting: list[Volunteer]


class CallManagement:
    def __init__(self, calls: CallService) -> None:
        self.calls = calls
        self.db = calls.db
        self.clock = calls.clock
        self.repo = calls.repo
        self.members = calls.members
        self.outbox = calls.outbox
        self.audit = calls.audit

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.close_expired, self.send_reminders]

    async def list_calls(self, coordinator_id: int) -> list[tuple[Call, CallCounts]] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        calls = await self.repo.for_coordinator(coordinator_id)
        return [(call, await self.calls.counts(call)) for call in calls]

    async def detail(self, call_id: int, coordinator_id: int) -> CallDetail | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        call = await self.repo.get(call_id)
        if call is None:
            return None
        people = await self.repo.volunteers(call_id, ["yes", "waiting"])
        return CallDetail(
            call=call,
            counts=await self.calls.counts(call),
            volunteers=[p for p in people if p.answer == "yes"],
            waiting=[p for p in people if p.answer == "waiting"],
        )

    @staticmethod
    def volunteer_lines(people: Sequence[Volunteer]) -> list[str]:
        """Names and @usernames, escaped: safe HTML, one line per person."""
        return [
            "• "
            + html.escape(p.display_name)
            + (f" (@{html.escape(p.username)})" if p.username else "")
            for p in people
        ]

    def volunteer_list(self, people: Sequence[Volunteer]) -> Raw:
        return Raw("\n".join(self.volunteer_lines(people)) or "—")

    # --- close, cancel -------------------------------------------------------------------

    async def close(self, call_id: int, coordinator_id: int) -> Call | None:
        return await self._end(call_id, coordinator_id, "closed")

    async def cancel(self, call_id: int, coordinator_id: int) -> Call | None:
        return await self._end(call_id, coordinator_id, "cancelled")

    async def _end(self, call_id: int, coordinator_id: int, status: str) -> Call | None:
        """Close (no more answers) or cancel; unsent copies are dropped and those who said
        yes or wait are told either way (PRODUCT.md flow 2)."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        async with self.db.transaction():
            call = await self.repo.get(call_id)
            cancelled = status == "cancelled"
            if call is None or not (self.cancellable(call) if cancelled else self.closable(call)):
                return None
            await self.repo.set_status(call_id, "cancelled" if cancelled else "closed", now)
            await self.calls.broadcasts.drop(KIND_CALL, call_id)
            await self._tell_answered(call, cancelled=cancelled)
            await self.audit.record(coordinator_id, f"call.{status}", f"call:{call_id}", now)
            updated = await self.repo.get(call_id)
        self.calls.touch(call_id)
        return updated

    def closable(self, call: Call) -> bool:
        return call.status in ("open", "complete")

    def cancellable(self, call: Call) -> bool:
        """Until the event: a closed call (no more answers) can still be called off."""
        return call.status in ("open", "complete", "scheduled") or (
            call.status == "closed" and call.event_at > self.clock.now()
        )

    async def close_expired(self) -> None:
        """Sweeper: a call whose answer deadline passed is closed; its waiting list is told
        that no place came free (volunteers keep their reminders)."""
        now = self.clock.now()
        for call in await self.repo.expired(now):
            async with self.db.transaction():
                if await self.repo.close_if_live(call.id, now):
                    await self._tell_answered(call, cancelled=False, volunteers=False)
            self.calls.touch(call.id)

    async def _tell_answered(
        self, call: Call, *, cancelled: bool, volunteers: bool = True
    ) -> None:
        # Once closed, the waiting list has already been told it is not needed.
        answers: list[Answer] = ["yes"] if call.status == "closed" else ["yes", "waiting"]
        people = await self.repo.volunteers(call.id, answers)
        notices = []
        for p in people:
            if cancelled:
                key = "calls.cancelled_notice"
            elif p.answer == "waiting":
                key = "calls.closed_notice_waiting"
            elif volunteers:
                key = "calls.closed_notice_yes"
            else:
                continue
            notices.append(self.calls.notice(call, p.member_id, p.language, key))
        await self.outbox.enqueue(notices)

    # --- reminders -----------------------------------------------------------------------

    async def remind(self, call_id: int, coordinator_id: int) -> int | None:
        """Remind everyone who said yes now; returns how many, None when refused (also for
        a second press within `REMIND_AGAIN_AFTER`: a double tap reminds once)."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        async with self.db.transaction():
            call = await self.repo.get(call_id)
            if call is None or call.status not in LIVE:
                return None
            last = await self.repo.last_manual_reminder(call_id)
            if last is not None and now - last < REMIND_AGAIN_AFTER:
                return None
            await self.repo.set_manual_reminder(call_id, now)
            count = await self._remind(call)
            await self.audit.record(coordinator_id, "call.remind", f"call:{call_id}", now)
        return count

    async def send_reminders(self) -> None:
        now = self.clock.now()
        for call_id, due_at in await self.repo.due_reminders(now):
            async with self.db.transaction():
                call = await self.repo.get(call_id)
                if call is not None and call.status in LIVE and call.event_at > now:
                    await self._remind(call)
                await self.repo.mark_reminder_sent(call_id, due_at, now)

    async def _remind(self, call: Call) -> int:
        people = await self.repo.volunteers(call.id, ["yes"])
        await self.outbox.enqueue(
            [
                self.calls.notice(
                    call,
                    v.member_id,
                    v.language,
                    "calls.reminder",
                    KIND_REMINDER,
                    [[self._withdraw_button(call, v.language)]],
                )
                for v in people
            ]
        )
        return len(people)

    def _withdraw_button(self, call: Call, lang: str) -> Button:
        """On a reminder: "Je ne peux plus venir", so nobody has to find the call again."""
        press = CallPress(CallAction.WITHDRAW_REMINDED, call_id=call.id)
        return Button(
            text=plain(self.calls.texts.get(lang, "calls.button.withdraw")), data=press.pack()
        )
