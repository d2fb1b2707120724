"""The coordinator's /consulter draft: a title, an optional introduction, 1 to 5 questions
(text, 2 to 10 options, single or multiple choice, optionally "another answer"), anonymity,
a closing date, the audience (the shared steps of bot/services/audience.py), a preview in
pages, then send now or schedule.

The draft lives in the `conversations` table (flow "consultation"), so it survives a
restart; every step re-checks the role. Sending re-reads the draft, publishes it and clears
it in one transaction: a double tap sends one consultation.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.dates import parse_when
from bot.inputs import TEXT_LIMIT, check, utf16_len
from bot.services.audience import AudienceService, AudienceStep
from bot.services.consultations import ConsultationService
from storage.consultations import Consultation, NewConsultation, Question

FLOW = "consultation"
TITLE_MAX = 80
INTRO_MAX = 600
QUESTION_MAX = 300
OPTION_MAX = 60
OPTIONS_RANGE = (2, 10)
QUESTIONS_MAX = 5
PAGE_LIMIT = TEXT_LIMIT - 200


class Step(StrEnum):
    TITLE = "title"
    INTRO = "intro"
    Q_TEXT = "q_text"
    Q_OPTIONS = "q_options"
    Q_KIND = "q_kind"
    Q_OTHER = "q_other"
    Q_MORE = "q_more"
    ANONYMOUS = "anonymous"
    CLOSES = "closes"
    TERRITORIES = AudienceStep.TERRITORIES.value
    THEMES = AudienceStep.THEMES.value
    ROLES = AudienceStep.ROLES.value
    PREVIEW = "preview"
    SCHEDULE = "schedule"


AUDIENCE_STEPS = {Step.TERRITORIES, Step.THEMES, Step.ROLES}
_TEXT_STEPS = {Step.TITLE, Step.INTRO, Step.Q_TEXT, Step.Q_OPTIONS, Step.CLOSES, Step.SCHEDULE}


@dataclass
class DraftView:
    step: Step | None
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    kept_text: str | None = None
    pages: list[str] = field(default_factory=list)
    recipients: int = 0
    consultation: Consultation | None = None


class ConsultationDrafts:
    def __init__(self, consultations: ConsultationService) -> None:
        self.service = consultations
        self.db = consultations.db
        self.clock = consultations.clock
        self.settings = consultations.settings
        self.members = consultations.members
        self.conversations = consultations.conversations
        self.audience: AudienceService = consultations.audience

    async def start(self, coordinator_id: int) -> DraftView | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        data: dict[str, Any] = {"questions": []}
        self.audience.start(data)
        return await self._save(coordinator_id, Step.TITLE, data)

    async def _draft(self, coordinator_id: int) -> tuple[Step, dict[str, Any]] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        conversation = await self.conversations.get(coordinator_id, FLOW)
        if conversation is None:
            return None
        try:
            return Step(conversation.step), conversation.data
        except ValueError:
            return None

    async def draft(self, coordinator_id: int) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None:
            return None
        return await self._view(coordinator_id, found[0], found[1])

    async def _save(self, coordinator_id: int, step: Step, data: dict[str, Any]) -> DraftView:
        await self.conversations.save(coordinator_id, FLOW, step, data, self.clock.now())
        return await self._view(coordinator_id, step, data)

    async def _view(self, coordinator_id: int, step: Step, data: dict[str, Any]) -> DraftView:
        view = DraftView(step=step, data=data)
        if step is Step.PREVIEW:
            lang = await self.service.language(coordinator_id)
            new = self._new(coordinator_id, data)
            view.pages = self.pages(new, lang)
            view.recipients = await self.audience.count(new.audience, coordinator_id)
        return view

    @staticmethod
    def _error(
        step: Step, data: dict[str, Any], key: str, kept: str | None = None, **params: Any
    ) -> DraftView:
        return DraftView(step=step, data=data, error=key, error_params=params, kept_text=kept)

    # --- typed answers -----------------------------------------------------------------

    async def input(self, coordinator_id: int, text: str | None) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None:
            return None
        step, data = found
        if step not in _TEXT_STEPS or text is None:
            view = self._error(step, data, "consultations.error.use_buttons")
            if step is Step.PREVIEW:
                filled = await self._view(coordinator_id, step, data)
                filled.error = view.error
                return filled
            return view
        if step is Step.TITLE:
            return await self._text(
                coordinator_id, step, data, text, "title", TITLE_MAX, Step.INTRO
            )
        if step is Step.INTRO:
            return await self._text(
                coordinator_id, step, data, text, "intro", INTRO_MAX, Step.Q_TEXT
            )
        if step is Step.Q_TEXT:
            body = check(text, QUESTION_MAX)
            if not body.ok:
                return self._error(
                    step, data, "consultations.error.length", body.value, limit=QUESTION_MAX
                )
            data["current"] = {"text": body.value}
            return await self._save(coordinator_id, Step.Q_OPTIONS, data)
        if step is Step.Q_OPTIONS:
            return await self._options(coordinator_id, data, text)
        when = parse_when(text, self.clock.now(), self.settings.zone)
        if when is None or when <= self.clock.now():
            return self._error(step, data, "consultations.error.date")
        if step is Step.CLOSES:
            data["closes_at"] = when.isoformat()
            return await self._save(coordinator_id, Step.TERRITORIES, data)
        if when >= datetime.fromisoformat(data["closes_at"]):
            return self._error(step, data, "consultations.error.schedule_after")
        return await self._send(coordinator_id, Step.SCHEDULE, when)

    async def _text(
        self,
        coordinator_id: int,
        step: Step,
        data: dict[str, Any],
        text: str,
        key: str,
        limit: int,
        after: Step,
    ) -> DraftView:
        body = check(text, limit)
        if not body.ok:
            return self._error(step, data, "consultations.error.length", body.value, limit=limit)
        data[key] = body.value
        return await self._save(coordinator_id, after, data)

    async def _options(self, coordinator_id: int, data: dict[str, Any], text: str) -> DraftView:
        options = [line.strip() for line in text.splitlines() if line.strip()]
        low, high = OPTIONS_RANGE
        if not low <= len(options) <= high:
            return self._error(
                Step.Q_OPTIONS, data, "consultations.error.options_count", text, low=low, high=high
            )
        cleaned = [check(o, OPTION_MAX) for o in options]
        if not all(c.ok for c in cleaned):
            return self._error(
                Step.Q_OPTIONS, data, "consultations.error.option_length", text, limit=OPTION_MAX
            )
        data["current"]["options"] = [c.value for c in cleaned]
        return await self._save(coordinator_id, Step.Q_KIND, data)

    # --- buttons -----------------------------------------------------------------------

    async def skip_intro(self, coordinator_id: int) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.INTRO:
            return None
        found[1]["intro"] = None
        return await self._save(coordinator_id, Step.Q_TEXT, found[1])

    async def flag(self, coordinator_id: int, step: Step, value: bool) -> DraftView | None:
        """Single or multiple choice, "another answer" or not, anonymous or not."""
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not step:
            return None
        data = found[1]
        if step is Step.Q_KIND:
            data["current"]["multiple"] = value
            return await self._save(coordinator_id, Step.Q_OTHER, data)
        if step is Step.Q_OTHER:
            data["current"]["other"] = value
            data["questions"].append(data.pop("current"))
            if len(data["questions"]) >= QUESTIONS_MAX:
                return await self._save(coordinator_id, Step.ANONYMOUS, data)
            return await self._save(coordinator_id, Step.Q_MORE, data)
        if step is Step.ANONYMOUS:
            data["anonymous"] = value
            return await self._save(coordinator_id, Step.CLOSES, data)
        return None

    async def more(self, coordinator_id: int, another: bool) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.Q_MORE:
            return None
        return await self._save(
            coordinator_id, Step.Q_TEXT if another else Step.ANONYMOUS, found[1]
        )

    async def toggle(self, coordinator_id: int, step: Step, index: int | None) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not step or step not in AUDIENCE_STEPS:
            return None
        data = found[1]
        if index is None:
            moved = self.audience.select_all(data, AudienceStep(step.value))
        else:
            result = self.audience.toggle(data, AudienceStep(step.value), index)
            if result is None:
                return None
            moved = result
        return await self._save(coordinator_id, _after(moved.next), data)

    async def confirm(self, coordinator_id: int, step: Step) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not step or step not in AUDIENCE_STEPS:
            return None
        data = found[1]
        moved = self.audience.confirm(data, AudienceStep(step.value))
        if moved.error is not None:
            return self._error(step, data, moved.error)
        return await self._save(coordinator_id, _after(moved.next), data)

    async def to_schedule(self, coordinator_id: int) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.PREVIEW:
            return None
        return await self._save(coordinator_id, Step.SCHEDULE, found[1])

    async def cancel(self, coordinator_id: int) -> bool:
        if await self._draft(coordinator_id) is None:
            return False
        await self.conversations.clear(coordinator_id, FLOW)
        return True

    async def send_now(self, coordinator_id: int) -> DraftView | None:
        return await self._send(coordinator_id, Step.PREVIEW, None)

    async def _send(
        self, coordinator_id: int, expected: Step, scheduled_at: datetime | None
    ) -> DraftView | None:
        now = self.clock.now()
        async with self.db.transaction():
            found = await self._draft(coordinator_id)
            if found is None or found[0] is not expected:
                return None  # a second press: the first one sent it
            data = found[1]
            new = self._new(coordinator_id, data)
            if new.closes_at <= now:
                await self.conversations.save(coordinator_id, FLOW, Step.CLOSES, data, now)
                return self._error(Step.CLOSES, data, "consultations.error.closes_passed")
            stored = await self.service.publish(new, scheduled_at)
            await self.conversations.clear(coordinator_id, FLOW)
        return DraftView(step=None, data=data, consultation=stored)

    # --- the questionnaire -------------------------------------------------------------

    def _new(self, coordinator_id: int, data: dict[str, Any]) -> NewConsultation:
        return NewConsultation(
            coordinator_id=coordinator_id,
            title=data["title"],
            intro=data.get("intro"),
            questions=[Question.model_validate(q) for q in data["questions"]],
            anonymous=bool(data.get("anonymous")),
            closes_at=datetime.fromisoformat(data["closes_at"]),
            audience=self.audience.audience(data),
        )

    def pages(self, new: NewConsultation, lang: str) -> list[str]:
        """The whole questionnaire as members will read it, in messages that fit."""
        texts = self.service.texts
        head = texts.get(
            lang, "consultations.preview_head", title=new.title, intro=new.intro or ""
        )
        blocks = [head]
        for number, q in enumerate(new.questions, start=1):
            kind = "consultations.kind_multiple" if q.multiple else "consultations.kind_single"
            lines = [texts.get(lang, "consultations.preview_question", number=number, text=q.text)]
            lines += [f"{i}. {html.escape(o)}" for i, o in enumerate(q.options, start=1)]
            if q.other:
                lines.append(texts.get(lang, "consultations.kind_other"))
            lines.append(texts.get(lang, kind))
            blocks.append("\n".join(lines))
        pages: list[str] = []
        for block in blocks:
            if pages and utf16_len(pages[-1] + "\n\n" + block) <= PAGE_LIMIT:
                pages[-1] += "\n\n" + block
            else:
                pages.append(block)
        return pages


def _after(step: AudienceStep | None) -> Step:
    return Step.PREVIEW if step is None else Step(step.value)
