"""Calls for help (flow 2 of PRODUCT.md): sending, members' answers, relays, the summary.

The coordinator's /appel draft is `bot.services.call_drafts`; it ends in `publish` here. The
coordinator's /appels tools (detail, close, cancel, remind) and the sweepers that close calls
and send reminders are `bot.services.call_management`. Sending a call writes the call, one
outbox row and one recipient row per member in ONE transaction (transactional outbox): it
is fully queued or not at all. Members' answers are idempotent and re-checked (call state,
deadline, that the member really received the call). The coordinator's live summary is the
shared throttled `LiveSummary`, fed by the dispatcher's observer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.dates import spoken
from bot.services.audience import AudienceService
from bot.services.base import FeatureService
from bot.services.broadcasts import Broadcasts
from bot.services.call_answers import AnswerResult, CallAnswers, Outcome
from bot.services.call_buttons import CallAction, CallPress, CallReply
from bot.services.call_times import reminder_times
from bot.services.live_summary import Editor, LiveSummary, Located
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.texts import Raw, Texts, plain
from storage.calls import Call, CallRepository, CallStatus, NewCall
from storage.db import Database
from storage.outbox import Button, NewDelivery, Payload

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


class CallService(FeatureService):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        members: MemberService,
        broadcasts: Broadcasts,
        audience: AudienceService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.members = members
        self.broadcasts = broadcasts
        self.audience = audience
        broadcasts.register(KIND_CALL)
        self.repo = CallRepository(db)
        self.answers = CallAnswers(db, self.repo, clock, self._notify_promoted, self.touch)
        self.promoted_hooks: list[Callable[[Call, int], Awaitable[None]]] = []
        """Also told of a promotion from the waiting list (the member's copy follows it)."""
        self.editor: Editor | None = None
        self.stoppers: list[Callable[[], Awaitable[None]]] = []
        self.summary = LiveSummary(
            name="call",
            summary_kind=KIND_SUMMARY,
            item_kinds=[KIND_CALL],
            every=settings.calls.summary_edit_seconds,
            remember=self.repo.set_summary,
            render=self._locate_summary,
        )

    # --- wiring ------------------------------------------------------------------------

    @property
    def summary_edit_seconds(self) -> float:
        return self.summary.every

    @summary_edit_seconds.setter
    def summary_edit_seconds(self, seconds: float) -> None:
        self.summary.every = seconds

    def attach(self, observe: Callable[[Any], None], editor: Editor) -> None:
        """Follow the dispatcher's results (live summary) and edit through `editor`."""
        observe(self.summary.on_results)
        self.summary.attach(editor)
        self.editor = editor

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.send_scheduled]

    async def stop(self) -> None:
        await self.summary.stop()
        for stop in self.stoppers:
            await stop()

    def touch(self, call_id: int) -> None:
        """Something the coordinator's summary shows changed."""
        self.summary.touch(call_id)

    # --- texts -------------------------------------------------------------------------

    def _t(self, lang: str, key: str, **params: Any) -> str:
        return self.texts.get(lang, key, **params)

    def local(self, instant: datetime, lang: str) -> str:
        """A date as people read it, with its weekday ("samedi 2 décembre, 10 h")."""
        return spoken(instant, self.settings.zone, lang)

    def render_call(self, call: NewCall, lang: str) -> str:
        """The call exactly as members see it (the preview shows this same text)."""
        return self._t(
            lang,
            "calls.message",
            text=call.text,
            place=call.place,
            when=self.local(call.event_at, lang),
            needed=Raw(self._t(lang, "calls.needed", count=call.needed)),
            deadline=self.local(call.deadline_at, lang),
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
        return await self.audience.count(call.audience, call.coordinator_id)

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
        recipients = await self.audience.recipients(call.audience, call.coordinator_id)
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
                    expires_at=call.deadline_at,
                )
            )
        await self.repo.mark_sent(call_id, len(recipients), now)
        await self.broadcasts.queue(KIND_CALL, call_id, deliveries)
        coordinator = await self.members.get(call.coordinator_id)
        lang = coordinator.language if coordinator else self.settings.default_language
        stored = await self.repo.get(call_id)
        if stored is not None:
            summary = await self._summary_payload(stored, lang)
            await self.outbox.enqueue(
                [
                    NewDelivery(
                        chat_id=call.coordinator_id,
                        kind=KIND_SUMMARY,
                        ref_id=call_id,
                        priority=PRIORITY_SUMMARY,
                        payload=summary,
                    )
                ]
            )
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

    def notice(
        self,
        call: Call,
        member_id: int,
        lang: str,
        key: str,
        kind: str = KIND_NOTICE,
        buttons: Sequence[Sequence[Button]] = (),
    ) -> NewDelivery:
        """A message to one member about a call (its title, place and time), in their language."""
        text = self._t(
            lang,
            key,
            title=self.title(call),
            place=call.place,
            when=self.local(call.event_at, lang),
        )
        return NewDelivery(
            chat_id=member_id,
            kind=kind,
            ref_id=call.id,
            priority=PRIORITY_NOTICE,
            payload=Payload(text=text, buttons=[list(row) for row in buttons]),
            expires_at=call.event_at,
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
        await self.outbox.enqueue([self.notice(call, member_id, lang, "calls.promoted")])
        for hook in self.promoted_hooks:
            await hook(call, member_id)

    async def relay(self, call_id: int, member_id: int) -> tuple[Call, str] | None:
        """The call and the member's referral code, if they received this call."""
        call = await self.repo.get(call_id)
        member = await self.members.get(member_id)
        if (
            call is None
            or member is None
            or not await self.broadcasts.was_sent_to(KIND_CALL, call_id, member_id)
        ):
            return None
        return call, member.referral_code

    def relay_text(self, call: Call, lang: str, link: str) -> str:
        return self._t(
            lang,
            "calls.relay",
            title=self.title(call),
            place=call.place,
            when=self.local(call.event_at, lang),
            link=link,
        )

    # --- the coordinator's summary -----------------------------------------------------

    async def counts(self, call: Call) -> CallCounts:
        delivery = await self.broadcasts.counts(KIND_CALL, call.id)
        answers = await self.repo.answer_counts(call.id)
        return CallCounts(
            recipients=call.recipients,
            sent=delivery.get("sent", 0),
            failed=delivery.get("failed", 0),
            blocked=delivery.get("blocked", 0),
            pending=delivery.get("queued", 0),
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

    async def _locate_summary(self, call_id: int) -> Located | None:
        call = await self.repo.get(call_id)
        if call is None or call.summary_chat_id is None or call.summary_message_id is None:
            return None
        coordinator = await self.members.get(call.coordinator_id)
        lang = coordinator.language if coordinator else self.settings.default_language
        return (
            call.summary_chat_id,
            call.summary_message_id,
            await self._summary_payload(call, lang),
        )
