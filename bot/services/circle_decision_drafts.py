"""/decider: a circle member drafts a decision for their circle, step by step: which circle
(when they are in several), the question, 2 to 6 options, the closing time, then a preview
and "Envoyer".

The draft lives in the `conversations` table (flow "circle_decision"), so it survives a
restart; every step re-checks that the member is still in the circle. Sending re-reads the
draft, stores the decision, queues it and clears the draft in one transaction: a double tap
sends one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.dates import parse_when
from bot.inputs import check
from bot.services.circle_decisions import OWNER_KIND, CircleDecisions
from storage.consultations import Consultation, NewConsultation, Question

FLOW = "circle_decision"
QUESTION_MAX = 300
OPTION_MAX = 60
OPTIONS_RANGE = (2, 6)


class Step(StrEnum):
    CIRCLE = "circle"
    QUESTION = "question"
    OPTIONS = "options"
    CLOSES = "closes"
    PREVIEW = "preview"


@dataclass
class DraftView:
    step: Step | None
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    kept_text: str | None = None
    circles: list[tuple[int, str]] = field(default_factory=list)
    decision: Consultation | None = None
    recipients: int = 0


class DecisionDrafts:
    def __init__(self, decisions: CircleDecisions) -> None:
        self.decisions = decisions
        self.db = decisions.db
        self.clock = decisions.clock
        self.settings = decisions.service.settings
        self.conversations = decisions.service.conversations

    async def start(self, member_id: int) -> DraftView:
        """A new draft: straight to the question when the member is in one circle."""
        circles = await self.decisions.circles_of(member_id)
        if not circles:
            return DraftView(step=None, error="decisions.error.no_circle")
        if len(circles) == 1:
            data = {"circle_id": circles[0][0], "circle": circles[0][1]}
            return await self._save(member_id, Step.QUESTION, data)
        await self.conversations.save(member_id, FLOW, Step.CIRCLE, {}, self.clock.now())
        return DraftView(step=Step.CIRCLE, circles=circles)

    async def draft(self, member_id: int) -> DraftView | None:
        found = await self._draft(member_id)
        if found is None:
            return None
        step, data = found
        if step is Step.CIRCLE:
            return DraftView(step=step, circles=await self.decisions.circles_of(member_id))
        return await self._view(member_id, step, data)

    async def _draft(self, member_id: int) -> tuple[Step, dict[str, Any]] | None:
        conversation = await self.conversations.get(member_id, FLOW)
        if conversation is None:
            return None
        try:
            step = Step(conversation.step)
        except ValueError:
            return None
        data = conversation.data
        if step is not Step.CIRCLE:
            if self.decisions.directory is None:
                return None  # circles are not reachable: keep the draft for later
            # Still in that circle? (removed, or left, since the draft began)
            title = await self.decisions.circle_title(member_id, int(data.get("circle_id", 0)))
            if title is None:
                await self.conversations.clear(member_id, FLOW)
                return None
        return step, data

    async def _save(self, member_id: int, step: Step, data: dict[str, Any]) -> DraftView:
        await self.conversations.save(member_id, FLOW, step, data, self.clock.now())
        return await self._view(member_id, step, data)

    async def _view(self, member_id: int, step: Step, data: dict[str, Any]) -> DraftView:
        view = DraftView(step=step, data=data)
        if step is Step.PREVIEW and self.decisions.directory is not None:
            listeners = await self.decisions.directory.listeners(int(data["circle_id"]))
            view.recipients = len(listeners)
        return view

    @staticmethod
    def _error(
        step: Step, data: dict[str, Any], key: str, kept: str | None = None, **params: Any
    ) -> DraftView:
        return DraftView(step=step, data=data, error=key, error_params=params, kept_text=kept)

    async def choose_circle(self, member_id: int, circle_id: int) -> DraftView | None:
        found = await self._draft(member_id)
        if found is None or found[0] is not Step.CIRCLE:
            return None
        title = await self.decisions.circle_title(member_id, circle_id)
        if title is None:
            return None  # a forged button, or a circle left meanwhile
        return await self._save(
            member_id, Step.QUESTION, {"circle_id": circle_id, "circle": title}
        )

    async def input(self, member_id: int, text: str | None) -> DraftView | None:
        found = await self._draft(member_id)
        if found is None:
            return None
        step, data = found
        if step in (Step.CIRCLE, Step.PREVIEW) or text is None:
            view = await self.draft(member_id)
            if view is not None:
                view.error = "decisions.error.use_buttons"
            return view
        if step is Step.QUESTION:
            body = check(text, QUESTION_MAX)
            if not body.ok:
                return self._error(
                    step, data, "decisions.error.length", body.value, limit=QUESTION_MAX
                )
            data["question"] = body.value
            return await self._save(member_id, Step.OPTIONS, data)
        if step is Step.OPTIONS:
            return await self._options(member_id, data, text)
        when = parse_when(text, self.clock.now(), self.settings.zone)
        if when is None or when <= self.clock.now():
            return self._error(step, data, "decisions.error.date")
        data["closes_at"] = when.isoformat()
        return await self._save(member_id, Step.PREVIEW, data)

    async def _options(self, member_id: int, data: dict[str, Any], text: str) -> DraftView:
        options = [line.strip() for line in text.splitlines() if line.strip()]
        low, high = OPTIONS_RANGE
        if not low <= len(options) <= high:
            return self._error(
                Step.OPTIONS, data, "decisions.error.options_count", text, low=low, high=high
            )
        cleaned = [check(o, OPTION_MAX) for o in options]
        if not all(c.ok for c in cleaned):
            return self._error(
                Step.OPTIONS, data, "decisions.error.option_length", text, limit=OPTION_MAX
            )
        values = [c.value for c in cleaned]
        if len(set(values)) != len(values):
            return self._error(Step.OPTIONS, data, "decisions.error.option_twice", text)
        data["options"] = values
        return await self._save(member_id, Step.CLOSES, data)

    async def cancel(self, member_id: int) -> bool:
        if await self.conversations.get(member_id, FLOW) is None:
            return False
        await self.conversations.clear(member_id, FLOW)
        return True

    def new(self, member_id: int, data: dict[str, Any]) -> NewConsultation:
        return NewConsultation(
            coordinator_id=member_id,
            title=data["circle"],
            questions=[Question(text=data["question"], options=data["options"])],
            closes_at=datetime.fromisoformat(data["closes_at"]),
            owner_kind=OWNER_KIND,
            owner_id=int(data["circle_id"]),
        )

    async def send(self, member_id: int) -> DraftView | None:
        now = self.clock.now()
        async with self.db.transaction():
            found = await self._draft(member_id)
            if found is None or found[0] is not Step.PREVIEW:
                return None  # a second press: the first one sent it
            data = found[1]
            new = self.new(member_id, data)
            if new.closes_at <= now:
                await self.conversations.save(member_id, FLOW, Step.CLOSES, data, now)
                return self._error(Step.CLOSES, data, "decisions.error.closes_passed")
            repo = self.decisions.repo
            decision_id = await repo.create(new, status="open", now=now)
            count = await self.decisions.dispatch(decision_id)
            await self.conversations.clear(member_id, FLOW)
            stored = await repo.get(decision_id)
        return DraftView(step=None, data=data, decision=stored, recipients=count)
