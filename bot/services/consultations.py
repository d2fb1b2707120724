"""Consultations put to an audience (issue 19): sending, members' answers, the live summary,
closing, and the results given back to those who answered.

Sending reuses what calls use: the audience rule, `Broadcasts.queue` (one outbox row and one
recipient row per member, in one transaction) and the throttled `LiveSummary`. Answers go
through the `ConsultationEngine`, which any other audience (an initiative circle) can use;
this service adds who may answer (a member it was sent to) and who may act on it (a
coordinator). Closing and giving the results back are `bot.services.consultation_results`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.dates import spoken
from bot.services.audience import AudienceService
from bot.services.base import FeatureService
from bot.services.broadcasts import Broadcasts
from bot.services.consultation_buttons import ConsultAction, ConsultPress
from bot.services.consultation_engine import ConsultationEngine, MemberView, Seen, share
from bot.services.live_summary import Editor, LiveSummary, Located
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.texts import Texts, plain
from storage.consultations import Consultation, ConsultationStatus, NewConsultation
from storage.db import Database
from storage.outbox import Button, NewDelivery, Payload

log = logging.getLogger(__name__)

KIND = "consultation"
KIND_SUMMARY = "consultation_summary"
KIND_RESULTS = "consultation_results"
KIND_REMINDER = "consultation_reminder"
OTHER_FLOW = "consultation_other"
OUTCOME_FLOW = "consultation_outcome"
PRIORITY_SUMMARY = 1
PRIORITY_MEMBER = 5


class ConsultationService(FeatureService):
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
        broadcasts.register(KIND)
        self.engine = ConsultationEngine(db, clock)
        self.repo = self.engine.repo
        self.summary = LiveSummary(
            name="consultation",
            summary_kind=KIND_SUMMARY,
            item_kinds=[KIND],
            every=settings.consultations.summary_edit_seconds,
            remember=self.repo.set_summary,
            render=self._locate_summary,
        )

    def attach(self, observe: Callable[[Any], None], editor: Editor) -> None:
        observe(self.summary.on_results)
        self.summary.attach(editor)

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.send_scheduled]

    async def stop(self) -> None:
        await self.summary.stop()

    def _t(self, lang: str, key: str, **params: Any) -> str:
        return self.texts.get(lang, key, **params)

    def local(self, instant: datetime, lang: str) -> str:
        """A date as people read it, with its weekday ("samedi 2 décembre, 10 h")."""
        return spoken(instant, self.settings.zone, lang)

    async def language(self, member_id: int) -> str:
        member = await self.members.get(member_id)
        return member.language if member else self.settings.default_language

    # --- sending -----------------------------------------------------------------------

    def invitation(self, consultation: Consultation, lang: str) -> Payload:
        """The message members receive: title, introduction, what it is, a Répondre button."""
        key = (
            "consultations.invite_anonymous" if consultation.anonymous else "consultations.invite"
        )
        text = self._t(
            lang,
            key,
            title=consultation.title,
            intro=consultation.intro or "",
            count=len(consultation.questions),
            closes=self.local(consultation.closes_at, lang),
        )
        data = ConsultPress(ConsultAction.START, consultation_id=consultation.id).pack()
        button = Button(text=plain(self._t(lang, "consultations.button.start")), data=data)
        return Payload(text=text, buttons=[[button]])

    async def publish(
        self, new: NewConsultation, scheduled_at: datetime | None = None
    ) -> Consultation:
        """Store a consultation and, unless scheduled, queue it for its audience with the
        coordinator's summary, in one transaction."""
        now = self.clock.now()
        async with self.db.transaction():
            status: ConsultationStatus = "scheduled" if scheduled_at else "open"
            consultation_id = await self.repo.create(
                new, status=status, now=now, scheduled_at=scheduled_at
            )
            if scheduled_at is None:
                await self._dispatch(consultation_id, now)
            action = "consultation.schedule" if scheduled_at else "consultation.send"
            await self.audit.record(
                new.coordinator_id, action, f"consultation:{consultation_id}", now
            )
            stored = await self.repo.get(consultation_id)
        if stored is None:
            raise RuntimeError("consultation vanished inside its transaction")
        return stored

    async def _dispatch(self, consultation_id: int, now: datetime) -> int:
        consultation = await self.repo.get(consultation_id)
        if consultation is None:
            return 0
        recipients = await self.audience.recipients(
            consultation.audience, consultation.coordinator_id
        )
        payloads: dict[str, Payload] = {}
        copies = []
        for r in recipients:
            payload = payloads.get(r.language)
            if payload is None:
                payload = payloads[r.language] = self.invitation(consultation, r.language)
            copies.append(
                NewDelivery(
                    chat_id=r.telegram_id,
                    kind=KIND,
                    ref_id=consultation_id,
                    priority=PRIORITY_MEMBER,
                    payload=payload,
                    # An invitation arriving after the closing would only disappoint.
                    expires_at=consultation.closes_at,
                )
            )
        await self.repo.mark_sent(consultation_id, len(recipients), now)
        await self.broadcasts.queue(KIND, consultation_id, copies)
        fresh = await self.repo.get(consultation_id)
        if fresh is not None:
            lang = await self.language(fresh.coordinator_id)
            await self.outbox.enqueue(
                [
                    NewDelivery(
                        chat_id=fresh.coordinator_id,
                        kind=KIND_SUMMARY,
                        ref_id=consultation_id,
                        priority=PRIORITY_SUMMARY,
                        payload=Payload(text=await self.summary_text(fresh, lang)),
                    )
                ]
            )
        return len(recipients)

    async def send_scheduled(self) -> None:
        now = self.clock.now()
        for consultation in await self.repo.due_scheduled(now):
            async with self.db.transaction():
                fresh = await self.repo.get(consultation.id)
                if fresh is None or fresh.status != "scheduled":
                    continue
                await self._dispatch(consultation.id, now)

    # --- members' answers --------------------------------------------------------------

    async def _reachable(self, consultation_id: int, member_id: int) -> Consultation | None:
        consultation = await self.repo.get(consultation_id)
        if consultation is None or consultation.status == "scheduled":
            return None
        if not await self.broadcasts.was_sent_to(KIND, consultation_id, member_id):
            return None
        return consultation

    async def start(self, consultation_id: int, member_id: int, again: bool) -> MemberView:
        async with self.db.transaction():
            consultation = await self._reachable(consultation_id, member_id)
            if consultation is None:
                return MemberView(Seen.UNKNOWN)
            view = await self.engine.start(consultation, member_id, again)
        # A member (re)starting refreshes the summary too (after a restart, its last edits
        # may not have been made).
        self.summary.touch(consultation_id)
        return view

    async def pick(
        self, consultation_id: int, member_id: int, index: int, option: int
    ) -> MemberView:
        async with self.db.transaction():
            consultation = await self._reachable(consultation_id, member_id)
            if consultation is None:
                return MemberView(Seen.UNKNOWN)
            view = await self.engine.pick(consultation, member_id, index, option)
        self._touched(view)
        return view

    async def confirm(self, consultation_id: int, member_id: int, index: int) -> MemberView:
        async with self.db.transaction():
            consultation = await self._reachable(consultation_id, member_id)
            if consultation is None:
                return MemberView(Seen.UNKNOWN)
            return await self.engine.confirm(consultation, member_id, index)

    async def ask_other(self, consultation_id: int, member_id: int, index: int) -> MemberView:
        """ "Autre réponse": the next text the member types is that answer."""
        async with self.db.transaction():
            consultation = await self._reachable(consultation_id, member_id)
            if consultation is None:
                return MemberView(Seen.UNKNOWN)
            view = await self.engine.view_at(consultation, member_id, index)
            if not self.engine.is_open(consultation):
                return MemberView(Seen.CLOSED, consultation)
            progress = await self.repo.progress(consultation_id, member_id)
            question_ok = 0 <= index < len(consultation.questions)
            if not question_ok or progress is None or index > progress[0]:
                return MemberView(Seen.UNKNOWN)
            if not consultation.questions[index].other:
                return MemberView(Seen.UNKNOWN)
            data = {"consultation_id": consultation_id, "question": index}
            await self.conversations.save(member_id, OTHER_FLOW, "text", data, self.clock.now())
        view.seen = Seen.OTHER
        return view

    async def other_text(self, member_id: int, text: str) -> MemberView:
        """The typed other answer (cleaned and measured by the caller)."""
        async with self.db.transaction():
            conversation = await self.conversations.get(member_id, OTHER_FLOW)
            if conversation is None:
                return MemberView(Seen.UNKNOWN)
            consultation_id = int(conversation.data.get("consultation_id", 0))
            index = int(conversation.data.get("question", -1))
            consultation = await self._reachable(consultation_id, member_id)
            await self.conversations.clear(member_id, OTHER_FLOW)
            if consultation is None:
                return MemberView(Seen.UNKNOWN)
            view = await self.engine.other(consultation, member_id, index, text)
        self._touched(view)
        return view

    def _touched(self, view: MemberView) -> None:
        if view.consultation is not None and view.changed:
            self.summary.touch(view.consultation.id)

    # --- the coordinator's summary -----------------------------------------------------

    async def summary_text(self, consultation: Consultation, lang: str) -> str:
        copies = await self.broadcasts.counts(KIND, consultation.id)
        results = await self.engine.results(consultation)
        sent = copies.get("sent", 0)
        lines = [
            self._t(
                lang,
                "consultations.summary",
                id=consultation.id,
                title=consultation.title,
                status=self._t(lang, f"consultations.status.{consultation.status}"),
                recipients=consultation.recipients,
                sent=sent,
                pending=copies.get("queued", 0),
                blocked=copies.get("blocked", 0),
                failed=copies.get("failed", 0),
                answered=results.respondents,
                share=share(results.respondents, sent),
            )
        ]
        for number, (question, result) in enumerate(
            zip(consultation.questions, results.questions, strict=True), start=1
        ):
            counts = " · ".join(f"{i + 1}) {n}" for i, n in enumerate(result.counts))
            if question.other:
                counts += " · " + self._t(
                    lang, "consultations.summary_other", count=len(result.others)
                )
            lines.append(f"Q{number} : {counts}")
        if results.by_territory:  # only territories where enough people answered
            where = " · ".join(f"{name} {n}" for name, n in results.by_territory.items())
            lines.append(self._t(lang, "consultations.summary_territories", where=where))
        return "\n".join(lines)

    async def _locate_summary(self, consultation_id: int) -> Located | None:
        consultation = await self.repo.get(consultation_id)
        if consultation is None or consultation.summary_chat_id is None:
            return None
        if consultation.summary_message_id is None:
            return None
        lang = await self.language(consultation.coordinator_id)
        payload = Payload(text=await self.summary_text(consultation, lang))
        return consultation.summary_chat_id, consultation.summary_message_id, payload
