"""Calls for help (flow 2 of PRODUCT.md): sending, audience, answers, reminders, summary.

The coordinator's /appel draft is `bot.services.call_drafts`; it ends in `publish` here.
Sending a call writes the call and one delivery per recipient in ONE transaction
(transactional outbox): it is fully queued or not at all. Members' answers are idempotent and
re-checked here (call state, deadline, that the member really received the call); coordinator
actions re-check the role. The coordinator's live summary is edited by a throttled task fed by
the dispatcher's observer, at most every `summary_edit_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from bot.callbacks import Layout, Press
from bot.clock import Clock
from bot.config import Settings
from bot.services.base import FeatureService
from bot.services.call_answers import AnswerResult, CallAnswers, Outcome
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.texts import Raw, Texts, plain
from storage.calls import Answer, Call, CallRepository, CallStatus, NewCall, Volunteer
from storage.db import Database
from storage.outbox import Button, Delivery, DeliveryResult, NewDelivery, Payload

log = logging.getLogger(__name__)

FEATURE = "call"
KIND_CALL = "call"
KIND_SUMMARY = "call_summary"
KIND_NOTICE = "call_notice"  # promotion from the waiting list, cancellation
KIND_REMINDER = "call_reminder"
PRIORITY_SUMMARY = 1
PRIORITY_NOTICE = 2
PRIORITY_AMBASSADOR = 3
PRIORITY_MEMBER = 5
LIVE = ("open", "complete", "closed")
"""Calls whose event still takes place: closed only means no more answers."""

Editor = Callable[[int, int, Payload], Awaitable[None]]


class CallAction(StrEnum):
    ANSWER = "a"
    RELAY = "r"
    CANCEL_DRAFT = "x"
    DEADLINE = "dl"
    TOGGLE = "tg"
    CONFIRM = "ok"
    AUDIENCE = "au"
    SEND_NOW = "go"
    SCHEDULE = "sc"
    LIST = "ls"
    VIEW = "v"
    REMIND = "rm"
    CLOSE = "cl"
    ASK_CANCEL = "ca"
    CANCEL = "cy"


class CallReply(StrEnum):
    YES = "y"
    NO = "n"


class Every(StrEnum):
    ALL = "all"


@dataclass(frozen=True)
class CallPress(Press):
    """A press on a call button: members' answers, the /appel draft, the /appels screens.

    `step` and `preset` are the draft's Step and DeadlinePreset values (call_drafts.py imports
    this module, so they travel as strings and the handler reads them back).
    """

    PREFIX: ClassVar[str] = FEATURE
    LAYOUT: ClassVar[Layout] = {
        CallAction.ANSWER: "call_id reply",
        CallAction.RELAY: "call_id",
        CallAction.DEADLINE: "preset",
        CallAction.TOGGLE: "step index",
        CallAction.CONFIRM: "step",
        CallAction.AUDIENCE: "ambassadors",
        CallAction.VIEW: "call_id",
        CallAction.REMIND: "call_id",
        CallAction.CLOSE: "call_id",
        CallAction.ASK_CANCEL: "call_id",
        CallAction.CANCEL: "call_id",
    }
    action: CallAction
    call_id: int = 0
    reply: CallReply = CallReply.YES
    preset: str = ""
    step: str = ""
    index: int | Every = Every.ALL
    ambassadors: bool = False


@dataclass
class CallCounts:
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    pending: int = 0
    yes: int = 0
    no: int = 0
    waiting: int = 0


@dataclass
class CallDetail:
    call: Call
    counts: CallCounts
    volunteers: list[Volunteer]
    waiting: list[Volunteer]


def reminder_times(
    event_at: datetime,
    hours: Sequence[int],
    now: datetime,
    zone: ZoneInfo,
    day_start: time,
    day_end: time,
) -> list[datetime]:
    """When to remind volunteers: `hours` before the event, moved into the day window.

    Too early in the morning moves to that morning's start if still before the event, else
    to the evening before; too late moves back to that evening. Never after the event;
    reminders already in the past are dropped.
    """
    found: set[datetime] = set()
    for h in hours:
        due = (event_at - timedelta(hours=h)).astimezone(zone)
        if due.time() < day_start:
            morning = datetime.combine(due.date(), day_start, tzinfo=zone)
            if morning < event_at:
                due = morning
            else:
                due = datetime.combine(due.date() - timedelta(days=1), day_end, tzinfo=zone)
        elif due.time() > day_end:
            due = datetime.combine(due.date(), day_end, tzinfo=zone)
        utc = due.astimezone(now.tzinfo)
        if now < utc < event_at:
            found.add(utc)
    return sorted(found)


class CallService(FeatureService):
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
        self.repo = CallRepository(db)
        self.answers = CallAnswers(db, self.repo, clock, self._notify_promoted, self._touch)
        self.summary_edit_seconds = settings.calls.summary_edit_seconds
        self._editor: Editor | None = None
        self._dirty: set[int] = set()
        self._last_edit = float("-inf")
        self._edit_task: asyncio.Task[None] | None = None

    # --- wiring ------------------------------------------------------------------------

    def attach(self, observe: Callable[[Any], None], editor: Editor) -> None:
        """Follow the dispatcher's results (live summary) and edit through `editor`."""
        observe(self._on_results)
        self._editor = editor

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.send_scheduled, self.close_expired, self.send_reminders]

    async def stop(self) -> None:
        task, self._edit_task = self._edit_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- texts -------------------------------------------------------------------------

    def _t(self, lang: str, key: str, **params: Any) -> str:
        return self.texts.get(lang, key, **params)

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.settings.zone).strftime("%d/%m/%Y %H:%M")

    def render_call(self, call: NewCall, lang: str) -> str:
        """The call exactly as members see it (the preview shows this same text)."""
        return self._t(
            lang,
            "calls.message",
            text=call.text,
            place=call.place,
            when=self.local(call.event_at),
            needed=Raw(self._t(lang, "calls.needed", count=call.needed)),
            deadline=self.local(call.deadline_at),
        )

    def member_payload(self, call: NewCall, call_id: int, lang: str) -> Payload:
        return Payload(
            text=self.render_call(call, lang),
            photo=call.photo,
            buttons=[
                [
                    Button(
                        text=plain(self._t(lang, "calls.button.yes")),
                        data=CallPress(
                            CallAction.ANSWER, call_id=call_id, reply=CallReply.YES
                        ).pack(),
                    ),
                    Button(
                        text=plain(self._t(lang, "calls.button.no")),
                        data=CallPress(
                            CallAction.ANSWER, call_id=call_id, reply=CallReply.NO
                        ).pack(),
                    ),
                ],
                [
                    Button(
                        text=plain(self._t(lang, "calls.button.relay")),
                        data=CallPress(CallAction.RELAY, call_id=call_id).pack(),
                    )
                ],
            ],
        )

    def title(self, call: NewCall) -> str:
        first = call.text.strip().splitlines()[0] if call.text.strip() else ""
        return first[:60] + ("…" if len(first) > 60 else "")

    # --- sending -----------------------------------------------------------------------

    async def audience_size(self, call: NewCall) -> int:
        """How many members `publish` would send this call to (the draft's preview count)."""
        return await self.repo.count_audience(
            call.territories, call.themes, call.ambassadors_only, call.coordinator_id
        )

    async def publish(self, call: NewCall, scheduled_at: datetime | None = None) -> Call:
        """Store a call and, unless scheduled, queue one delivery per recipient plus the
        coordinator's summary, in one transaction: fully queued or not at all. Public for
        scripts and benchmarks; the /appel draft (`CallDrafts`) ends here too."""
        now = self.clock.now()
        async with self.db.transaction():
            status: CallStatus = "scheduled" if scheduled_at else "open"
            call_id = await self.repo.create(
                call, status=status, now=now, scheduled_at=scheduled_at
            )
            if scheduled_at is None:
                await self._dispatch(call_id, call, now)
            await self.audit.record(
                call.coordinator_id,
                "call.schedule" if scheduled_at else "call.send",
                f"call:{call_id}",
                now,
            )
            stored = await self.repo.get(call_id)
        if stored is None:
            raise RuntimeError("call vanished inside its transaction")
        return stored

    async def _dispatch(self, call_id: int, call: NewCall, now: datetime) -> int:
        """Queue the call for its audience (inside the caller's transaction)."""
        recipients = await self.repo.audience(
            call.territories, call.themes, call.ambassadors_only, call.coordinator_id
        )
        payloads: dict[str, Payload] = {}
        deliveries: list[NewDelivery] = []
        for r in recipients:
            payload = payloads.get(r.language)
            if payload is None:
                payload = payloads[r.language] = self.member_payload(call, call_id, r.language)
            first = r.is_ambassador and (not call.territories or r.territory in call.territories)
            deliveries.append(
                NewDelivery(
                    chat_id=r.telegram_id,
                    kind=KIND_CALL,
                    ref_id=call_id,
                    priority=PRIORITY_AMBASSADOR if first else PRIORITY_MEMBER,
                    payload=payload,
                )
            )
        await self.repo.mark_sent(call_id, len(recipients), now)
        coordinator = await self.members.get(call.coordinator_id)
        lang = coordinator.language if coordinator else self.settings.default_language
        stored = await self.repo.get(call_id)
        if stored is not None:
            summary = await self._summary_payload(stored, lang)
            deliveries.insert(
                0,
                NewDelivery(
                    chat_id=call.coordinator_id,
                    kind=KIND_SUMMARY,
                    ref_id=call_id,
                    priority=PRIORITY_SUMMARY,
                    payload=summary,
                ),
            )
        await self.outbox.enqueue(deliveries)
        checkins = self.settings.checkins
        await self.repo.add_reminders(
            call_id,
            reminder_times(
                call.event_at,
                self.settings.calls.reminder_hours,
                now,
                self.settings.zone,
                checkins.day_start,
                checkins.day_end,
            ),
        )
        return len(recipients)

    # --- sweepers ----------------------------------------------------------------------

    async def send_scheduled(self) -> None:
        """Send every scheduled call whose time has come (survives restarts: read from SQLite)."""
        now = self.clock.now()
        for call in await self.repo.due_scheduled(now):
            async with self.db.transaction():
                fresh = await self.repo.get(call.id)
                if fresh is None or fresh.status != "scheduled":
                    continue
                count = await self._dispatch(call.id, call, now)
            log.info("scheduled call %d sent to %d members", call.id, count)

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
                self._notice(call, v.member_id, v.language, "calls.reminder", KIND_REMINDER)
                for v in people
            ]
        )
        return len(people)

    def _notice(
        self, call: Call, member_id: int, lang: str, key: str, kind: str = KIND_NOTICE
    ) -> NewDelivery:
        """A message to one member about a call (its title, place and time), in their language."""
        text = self._t(
            lang, key, title=self.title(call), place=call.place, when=self.local(call.event_at)
        )
        return NewDelivery(
            chat_id=member_id,
            kind=kind,
            ref_id=call.id,
            priority=PRIORITY_NOTICE,
            payload=Payload(text=text),
        )

    # --- members' answers --------------------------------------------------------------

    async def release_member(self, member_id: int) -> int:
        """A member who leaves (/oublier) withdraws from the open calls they said yes to, so
        the first on each waiting list is promoted and told, as for any withdrawal."""
        released = 0
        for call_id in await self.repo.open_calls_answered_yes(member_id):
            result = await self.answer(call_id, member_id, False)
            released += int(result.outcome is Outcome.NO)
        return released

    async def answer(self, call_id: int, member_id: int, yes: bool) -> AnswerResult:
        """Je viens / Pas cette fois: idempotent, changeable until the deadline."""
        return await self.answers.answer(call_id, member_id, yes)

    async def _notify_promoted(self, call: Call, member_id: int) -> None:
        member = await self.members.get(member_id)
        lang = member.language if member else self.settings.default_language
        await self.outbox.enqueue([self._notice(call, member_id, lang, "calls.promoted")])

    async def relay(self, call_id: int, member_id: int) -> tuple[Call, str] | None:
        """The call and the member's referral code, if they received this call."""
        call = await self.repo.get(call_id)
        member = await self.members.get(member_id)
        if call is None or member is None or not await self.repo.was_sent_to(call_id, member_id):
            return None
        return call, member.referral_code

    def relay_text(self, call: Call, lang: str, link: str) -> str:
        return self._t(
            lang,
            "calls.relay",
            title=self.title(call),
            place=call.place,
            when=self.local(call.event_at),
            link=link,
        )

    # --- coordinators ------------------------------------------------------------------

    async def counts(self, call: Call) -> CallCounts:
        delivery = await self.outbox.repo.counts(KIND_CALL, call.id)
        answers = await self.repo.answer_counts(call.id)
        return CallCounts(
            recipients=call.recipients,
            sent=delivery.get("sent", 0),
            failed=delivery.get("failed", 0),
            blocked=delivery.get("blocked", 0),
            pending=delivery.get("queued", 0) + delivery.get("sending", 0),
            yes=answers.get("yes", 0),
            no=answers.get("no", 0),
            waiting=answers.get("waiting", 0),
        )

    async def summary_text(self, call: Call, lang: str) -> str:
        c = await self.counts(call)
        return self._t(
            lang,
            "calls.summary",
            id=call.id,
            title=self.title(call),
            status=self._t(lang, f"calls.status.{call.status}"),
            recipients=c.recipients,
            sent=c.sent,
            failed=c.failed,
            blocked=c.blocked,
            pending=c.pending,
            yes=c.yes,
            needed=call.needed,
            no=c.no,
            waiting=c.waiting,
        )

    async def _summary_payload(self, call: Call, lang: str) -> Payload:
        return Payload(text=await self.summary_text(call, lang))

    async def list_calls(self, coordinator_id: int) -> list[tuple[Call, CallCounts]] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        calls = await self.repo.for_coordinator(coordinator_id)
        return [(call, await self.counts(call)) for call in calls]

    async def detail(self, call_id: int, coordinator_id: int) -> CallDetail | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        call = await self.repo.get(call_id)
        if call is None:
            return None
        people = await self.repo.volunteers(call_id, ["yes", "waiting"])
        return CallDetail(
            call=call,
            counts=await self.counts(call),
            volunteers=[p for p in people if p.answer == "yes"],
            waiting=[p for p in people if p.answer == "waiting"],
        )

    def volunteer_list(self, people: Sequence[Volunteer]) -> Raw:
        """Names and @usernames, escaped: safe HTML for a Raw placeholder."""
        lines = [
            "• "
            + html.escape(p.display_name)
            + (f" (@{html.escape(p.username)})" if p.username else "")
            for p in people
        ]
        return Raw("\n".join(lines) or "—")

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
            await self.outbox.repo.drop_for_ref(KIND_CALL, call_id)
            await self._tell_answered(call, cancelled=cancelled)
            await self.audit.record(coordinator_id, f"call.{status}", f"call:{call_id}", now)
            updated = await self.repo.get(call_id)
        self._touch(call_id)
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
            self._touch(call.id)

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
            notices.append(self._notice(call, p.member_id, p.language, key))
        await self.outbox.enqueue(notices)

    async def remind(self, call_id: int, coordinator_id: int) -> int | None:
        """Remind everyone who said yes now; returns how many, None when refused."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        async with self.db.transaction():
            call = await self.repo.get(call_id)
            if call is None or call.status not in LIVE:
                return None
            count = await self._remind(call)
            await self.audit.record(
                coordinator_id, "call.remind", f"call:{call_id}", self.clock.now()
            )
        return count

    # --- live summary ------------------------------------------------------------------

    async def _on_results(self, results: Sequence[tuple[Delivery, DeliveryResult]]) -> None:
        for delivery, result in results:
            if delivery.ref_id is None:
                continue
            if delivery.kind == KIND_SUMMARY and result.status == "sent" and result.message_id:
                await self.repo.set_summary(delivery.ref_id, delivery.chat_id, result.message_id)
                self._dirty.add(delivery.ref_id)
            elif delivery.kind == KIND_CALL:
                self._dirty.add(delivery.ref_id)
        self._kick()

    def _touch(self, call_id: int) -> None:
        self._dirty.add(call_id)
        self._kick()

    def _kick(self) -> None:
        if self._dirty and self._editor and (self._edit_task is None or self._edit_task.done()):
            # A fresh context: `_touch` may run inside a transaction, which this long-lived
            # task must not believe it has joined.
            self._edit_task = asyncio.create_task(
                self._edit_loop(), name="essaim-call-summary", context=contextvars.Context()
            )

    async def _edit_loop(self) -> None:
        """Edit summaries of changed calls, at most once every `summary_edit_seconds`."""
        loop = asyncio.get_running_loop()
        while self._dirty and self._editor is not None:
            wait = self._last_edit + self.summary_edit_seconds - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            dirty, self._dirty = self._dirty, set()
            self._last_edit = loop.time()
            for call_id in sorted(dirty):
                try:
                    await self._edit_summary(call_id)
                except Exception:
                    log.exception("summary of call %d not updated", call_id)

    async def _edit_summary(self, call_id: int) -> None:
        call = await self.repo.get(call_id)
        if call is None or call.summary_chat_id is None or call.summary_message_id is None:
            return
        coordinator = await self.members.get(call.coordinator_id)
        lang = coordinator.language if coordinator else self.settings.default_language
        if self._editor is not None:
            await self._editor(
                call.summary_chat_id,
                call.summary_message_id,
                await self._summary_payload(call, lang),
            )
