"""Deciding in small groups (issue 21): a circle member puts a question with 2 to 6 options
(a decision, or a meeting: "mardi 18h / jeudi 18h") to their initiative's circle, with a
closing time; members answer with one tap and can change until closing; at closing everyone
it was sent to sees the result.

It is a consultation underneath (`owner_kind` "circle", `owner_id` the circle, the proposer
in `coordinator_id`) with one single-choice question, answered through the same
`ConsultationEngine`: the rules (one answer per member, changes until closing, a double tap
changes nothing, late answers refused) are the engine's, not written twice. What this module
adds is the audience (the circle's members, through `CircleDirectory`), who may answer (a
member it was sent to) and the result told to everyone, as a short text: a circle is a few
people in a chat, not an audience waiting for a picture.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.inputs import utf16_len
from bot.services.circle_decision_buttons import DecisionAction, DecisionPress
from bot.services.consultation_engine import MemberView, Seen, share
from bot.services.consultations import PRIORITY_MEMBER, ConsultationService
from bot.texts import Raw
from storage.consultations import Consultation, Question
from storage.outbox import Button, NewDelivery, Payload

log = logging.getLogger(__name__)

OWNER_KIND = "circle"
KIND = "circle_decision"
KIND_RESULT = "circle_decision_result"
BUTTON_MAX = 24
"""Longer options are numbered in the text, and the buttons carry the numbers."""


def needs_numbers(question: Question) -> bool:
    return any(utf16_len(o) > BUTTON_MAX for o in question.options)


class CircleDirectory(Protocol):
    """What decisions need to know of circles (kept by `bot.services.circles`)."""

    async def circles_of(self, member_id: int) -> list[tuple[int, str]]:
        """The circles the member is in: (circle id, its initiative's title)."""
        ...

    async def listeners(self, circle_id: int) -> list[int]:
        """Who a decision put to the circle goes to: its active members who did not mute it."""
        ...


@dataclass
class DecisionView:
    """What a member sees of a decision now (their copy, after a tap too)."""

    seen: Seen
    decision: Consultation | None = None
    choice: int | None = None
    changed: bool = False


class CircleDecisions:
    def __init__(self, consultations: ConsultationService) -> None:
        self.service = consultations
        self.db = consultations.db
        self.clock = consultations.clock
        self.texts = consultations.texts
        self.repo = consultations.repo
        self.engine = consultations.engine
        self.members = consultations.members
        self.outbox = consultations.outbox
        self.broadcasts = consultations.broadcasts
        self.directory: CircleDirectory | None = None
        consultations.broadcasts.register(KIND)

    def attach(self, directory: CircleDirectory) -> None:
        self.directory = directory

    def sweepers(self) -> list[Callable[[], Awaitable[None]]]:
        return [self.close_expired]

    def _t(self, lang: str, key: str, **params: Any) -> str:
        return self.texts.get(lang, key, **params)

    async def circles_of(self, member_id: int) -> list[tuple[int, str]]:
        if self.directory is None:
            return []
        return await self.directory.circles_of(member_id)

    async def circle_title(self, member_id: int, circle_id: int) -> str | None:
        """The circle's title if the member is in it (re-checked at every step)."""
        return dict(await self.circles_of(member_id)).get(circle_id)

    # --- what members see -------------------------------------------------------------

    def text(
        self,
        lang: str,
        proposer: str,
        circle: str,
        question: Question,
        closes_at: datetime,
        choice: int | None = None,
        numbered: bool = False,
    ) -> str:
        """The decision as its members read it: who proposes it, the question, the options
        numbered when too long for a button (or `numbered`, for a preview), their choice."""
        parts = [
            self._t(
                lang,
                "decisions.invite",
                name=proposer,
                circle=circle,
                question=question.text,
                closes=self.service.local(closes_at, lang),
            )
        ]
        if numbered or needs_numbers(question):
            parts.append(
                "\n".join(f"{i}. {html.escape(o)}" for i, o in enumerate(question.options, 1))
            )
        if choice is not None:
            parts.append(self._t(lang, "decisions.your_choice", choice=question.options[choice]))
        return "\n\n".join(parts)

    def screen(
        self, decision: Consultation, lang: str, proposer: str, choice: int | None = None
    ) -> Payload:
        question = decision.questions[0]
        text = self.text(lang, proposer, decision.title, question, decision.closes_at, choice)
        numbered = needs_numbers(question)
        rows = []
        for i, option in enumerate(question.options):
            tick = "✅ " if i == choice else ""
            press = DecisionPress(DecisionAction.PICK, decision_id=decision.id, option=i)
            rows.append(
                [Button(text=tick + (str(i + 1) if numbered else option), data=press.pack())]
            )
        return Payload(text=text, buttons=rows)

    async def proposer_name(self, decision: Consultation) -> str:
        member = await self.members.get(decision.coordinator_id)
        return member.display_name if member is not None else "—"

    # --- sending ----------------------------------------------------------------------

    async def dispatch(self, decision_id: int) -> int:
        """Queue the decision for the circle's members (inside the caller's transaction)."""
        decision = await self.repo.get(decision_id)
        if decision is None or decision.owner_id is None or self.directory is None:
            return 0
        listeners = await self.directory.listeners(decision.owner_id)
        proposer = await self.proposer_name(decision)
        copies = []
        for member_id in listeners:
            lang = await self.service.language(member_id)
            copies.append(
                NewDelivery(
                    chat_id=member_id,
                    kind=KIND,
                    ref_id=decision_id,
                    priority=PRIORITY_MEMBER,
                    payload=self.screen(decision, lang, proposer),
                    expires_at=decision.closes_at,
                )
            )
        await self.repo.mark_sent(decision_id, len(copies), self.clock.now())
        await self.broadcasts.queue(KIND, decision_id, copies)
        return len(copies)

    # --- answers ----------------------------------------------------------------------

    async def pick(self, decision_id: int, member_id: int, option: int) -> DecisionView:
        """One tap: the member's choice, recorded by the engine (a second tap on the same
        option changes nothing; another option changes the answer until closing)."""
        async with self.db.transaction():
            decision = await self.repo.get(decision_id)
            if decision is None or decision.owner_kind != OWNER_KIND:
                return DecisionView(Seen.UNKNOWN)
            if not await self.broadcasts.was_sent_to(KIND, decision_id, member_id):
                return DecisionView(Seen.UNKNOWN)
            if decision.owner_id is None or not await self.circle_title(
                member_id, decision.owner_id
            ):
                return DecisionView(Seen.UNKNOWN)  # left or removed from the circle since
            started = await self.engine.start(decision, member_id, again=False)
            if started.seen is Seen.CLOSED:
                return DecisionView(Seen.CLOSED, decision)
            view: MemberView = await self.engine.pick(decision, member_id, 0, option)
            if view.seen in (Seen.UNKNOWN, Seen.CLOSED):
                return DecisionView(view.seen, decision)
            mine = (await self.repo.answers_of(decision_id, member_id)).get(0)
        choice = mine.choices[0] if mine and mine.choices else None
        return DecisionView(Seen.DONE, decision, choice, changed=view.changed)

    # --- closing ----------------------------------------------------------------------

    async def close_expired(self) -> None:
        now = self.clock.now()
        for decision in await self.repo.expired(now, OWNER_KIND):
            try:
                await self._close(decision)
            except Exception:
                log.exception("decision %d not closed", decision.id)

    async def _close(self, decision: Consultation) -> None:
        """Close it and tell the result to everyone it reached, once."""
        now = self.clock.now()
        async with self.db.transaction():
            if not await self.repo.close_if_open(decision.id, now):
                return  # closed by another sweep meanwhile
            await self.broadcasts.drop(KIND, decision.id)
            results = await self.engine.results(decision)
            counts = results.questions[0].counts
            reached = await self.broadcasts.recipients.reached(KIND, decision.id)
            copies = []
            for member_id in reached:
                lang = await self.service.language(member_id)
                copies.append(
                    NewDelivery(
                        chat_id=member_id,
                        kind=KIND_RESULT,
                        ref_id=decision.id,
                        priority=PRIORITY_MEMBER,
                        payload=Payload(
                            text=self.result_text(decision, lang, counts, len(reached))
                        ),
                    )
                )
            await self.outbox.enqueue(copies)
            await self.repo.mark_results_sent(decision.id, "", now)

    def result_text(
        self, decision: Consultation, lang: str, counts: list[int], reached: int
    ) -> str:
        question = decision.questions[0]
        answered = sum(counts)
        top = max(counts) if answered else 0
        lines = []
        for option, n in zip(question.options, counts, strict=True):
            line = self._t(
                lang, "decisions.result_line", option=option, count=n, share=share(n, answered)
            )
            lines.append(f"<b>{line}</b>" if n == top and n else line)
        winners = [o for o, n in zip(question.options, counts, strict=True) if n == top and n]
        if not winners:
            verdict = self._t(lang, "decisions.result_nobody")
        elif len(winners) > 1:
            verdict = self._t(lang, "decisions.result_tie")
        else:
            verdict = self._t(lang, "decisions.result_chosen", option=winners[0])
        return self._t(
            lang,
            "decisions.result",
            circle=decision.title,
            question=question.text,
            lines=Raw("\n".join(lines)),
            verdict=Raw(verdict),
            count=answered,
            reached=reached,
        )
