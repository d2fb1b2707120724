"""The consultation engine: questions, a member's answers and the results, whoever the
consultation is put to (an audience of members today, an initiative circle later).

It knows nothing of who may answer: the caller says whether the member was asked
(`may_answer`) and the engine applies the rules every consultation shares: answers only
while it is open and before its closing date; one question at a time, in order, without
skipping ahead; an option pressed twice changes nothing (single choice) or ticks and
unticks (multiple choice, confirmed by "Valider"); an answer can be changed until closing.

Why inline buttons and not Telegram's native polls: in a private chat every recipient
would get a poll of their own, with one voter, so each would see "100 %" for their own
choice and nothing of the others; a poll has no free-text "other" answer, no progress over
several questions and no way to change one's answers on our terms; and an anonymous poll
does not tell the bot who answered, which resuming, reminders and giving results back need.
Buttons keep the questionnaire in one conversation the member reads back, with the rules
checked here, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.clock import Clock
from bot.services.checklist import toggle
from storage.consultations import AnswerRow, Consultation, ConsultationRepository, MemberAnswer
from storage.db import Database

OTHER_MAX = 300
BREAKDOWN_MIN = 5
"""A breakdown by territory is shown only where at least this many people answered."""


class Seen(StrEnum):
    QUESTION = "question"
    DONE = "done"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    OTHER = "other"
    """The member is asked to type their other answer."""


@dataclass
class MemberView:
    """What a member should see now in a consultation."""

    seen: Seen
    consultation: Consultation | None = None
    index: int = 0
    answer: MemberAnswer | None = None
    changed: bool = False
    error: str | None = None


@dataclass
class QuestionResult:
    counts: list[int]
    others: list[str]
    answered: int


@dataclass
class Results:
    consultation: Consultation
    respondents: int
    questions: list[QuestionResult]
    by_territory: dict[str, int] = field(default_factory=dict)


def share(count: int, total: int) -> int:
    """A whole percentage (rounded), 0 when nobody answered."""
    return round(100 * count / total) if total else 0


class ConsultationEngine:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.repo = ConsultationRepository(db)

    def is_open(self, consultation: Consultation) -> bool:
        return consultation.status == "open" and self.clock.now() < consultation.closes_at

    async def view(self, consultation: Consultation, member_id: int) -> MemberView:
        """Where the member is (after a restart too): their current question, or done."""
        progress = await self.repo.progress(consultation.id, member_id)
        current = progress[0] if progress else 0
        if current >= len(consultation.questions):
            return MemberView(Seen.DONE, consultation, current)
        answers = await self.repo.answers_of(consultation.id, member_id)
        return MemberView(Seen.QUESTION, consultation, current, answers.get(current))

    async def start(self, consultation: Consultation, member_id: int, again: bool) -> MemberView:
        """ "Répondre" (or "Modifier mes réponses" with `again`: back to question 1)."""
        if not self.is_open(consultation):
            return MemberView(Seen.CLOSED, consultation)
        progress = await self.repo.progress(consultation.id, member_id)
        if progress is None or again:
            finished = progress[1] if progress else False
            await self.repo.set_progress(consultation.id, member_id, 0, finished, self.clock.now())
        return await self.view(consultation, member_id)

    async def pick(
        self, consultation: Consultation, member_id: int, index: int, option: int
    ) -> MemberView:
        """One tap on an option: a single choice is recorded and the next question comes;
        a multiple choice ticks or unticks the option."""
        found = await self._question(consultation, member_id, index)
        if isinstance(found, MemberView):
            return found
        question = consultation.questions[index]
        if not 0 <= option < len(question.options):
            return MemberView(Seen.UNKNOWN)
        mine = (await self.repo.answers_of(consultation.id, member_id)).get(index)
        now = self.clock.now()
        if question.multiple:
            labels = [str(i) for i in range(len(question.options))]
            chosen = [str(c) for c in (mine.choices if mine else [])]
            ticked = [int(c) for c in toggle(chosen, labels, str(option))]
            await self.repo.set_answer(
                consultation.id, member_id, index, ticked, mine.other if mine else None, now
            )
            view = await self.view_at(consultation, member_id, index)
            view.changed = True
            return view
        same = mine is not None and mine.choices == [option] and mine.other is None
        if not same:
            await self.repo.set_answer(consultation.id, member_id, index, [option], None, now)
        return await self._advance(consultation, member_id, index, changed=not same)

    async def confirm(self, consultation: Consultation, member_id: int, index: int) -> MemberView:
        """ "Valider" on a multiple-choice question: at least one tick (or another answer)."""
        found = await self._question(consultation, member_id, index)
        if isinstance(found, MemberView):
            return found
        mine = (await self.repo.answers_of(consultation.id, member_id)).get(index)
        if mine is None or (not mine.choices and not mine.other):
            view = await self.view_at(consultation, member_id, index)
            view.error = "consultations.error.tick_one"
            return view
        return await self._advance(consultation, member_id, index, changed=False)

    async def other(
        self, consultation: Consultation, member_id: int, index: int, text: str
    ) -> MemberView:
        """The typed "another answer" (already cleaned and measured by the caller)."""
        found = await self._question(consultation, member_id, index)
        if isinstance(found, MemberView):
            return found
        if not consultation.questions[index].other:
            return MemberView(Seen.UNKNOWN)
        mine = (await self.repo.answers_of(consultation.id, member_id)).get(index)
        choices = mine.choices if mine and consultation.questions[index].multiple else []
        await self.repo.set_answer(
            consultation.id, member_id, index, choices, text, self.clock.now()
        )
        return await self._advance(consultation, member_id, index, changed=True)

    async def view_at(self, consultation: Consultation, member_id: int, index: int) -> MemberView:
        answers = await self.repo.answers_of(consultation.id, member_id)
        return MemberView(Seen.QUESTION, consultation, index, answers.get(index))

    async def _question(
        self, consultation: Consultation, member_id: int, index: int
    ) -> MemberView | None:
        """None when the member may answer question `index` now, else what to show."""
        if not self.is_open(consultation):
            return MemberView(Seen.CLOSED, consultation)
        if not 0 <= index < len(consultation.questions):
            return MemberView(Seen.UNKNOWN)
        progress = await self.repo.progress(consultation.id, member_id)
        if progress is None or index > progress[0]:
            return MemberView(Seen.UNKNOWN)  # a question not reached yet: a forged press
        return None

    async def _advance(
        self, consultation: Consultation, member_id: int, index: int, *, changed: bool
    ) -> MemberView:
        """After answering question `index`: the next question, or done. A second press on
        an earlier question (a double tap) moves nobody backwards."""
        progress = await self.repo.progress(consultation.id, member_id)
        current = max(progress[0] if progress else 0, index + 1)
        finished = current >= len(consultation.questions)
        await self.repo.set_progress(
            consultation.id, member_id, current, finished, self.clock.now()
        )
        view = await self.view(consultation, member_id)
        view.changed = changed
        return view

    # --- results -------------------------------------------------------------------------

    async def results(self, consultation: Consultation) -> Results:
        rows = await self.repo.all_answers(consultation.id)
        return tally(consultation, rows)


def tally(consultation: Consultation, rows: list[AnswerRow]) -> Results:
    """Per question, how many chose each option and the other answers; respondents are the
    members who answered at least one question."""
    questions = [
        QuestionResult(counts=[0] * len(q.options), others=[], answered=0)
        for q in consultation.questions
    ]
    members: dict[int, str | None] = {}
    for row in rows:
        if not 0 <= row.question < len(questions):
            continue
        result = questions[row.question]
        result.answered += 1
        for choice in row.choices:
            if 0 <= choice < len(result.counts):
                result.counts[choice] += 1
        if row.other:
            result.others.append(row.other)
        members[row.member_id] = row.territory
    by_territory: dict[str, int] = {}
    for territory in members.values():
        if territory:
            by_territory[territory] = by_territory.get(territory, 0) + 1
    shown = {t: n for t, n in sorted(by_territory.items()) if n >= BREAKDOWN_MIN}
    return Results(consultation, len(members), questions, shown)
