"""The coordinator's /consultations tools: the list, results, free-text answers, the CSV
export (same format as /export) and a single reminder to those who have not answered.

Anonymous consultations never give coordinators who answered what: the export then has
no member column, and free-text answers come without names.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bot.services.consultation_buttons import ConsultAction, ConsultPress
from bot.services.consultation_engine import Results
from bot.services.consultations import KIND_REMINDER, ConsultationService
from bot.texts import plain
from storage.consultations import Consultation
from storage.outbox import Button, NewDelivery, Payload

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A cell a spreadsheet would run as a formula is neutralised (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@dataclass
class ExportFile:
    name: str
    content: bytes
    rows: int


class ConsultationAdmin:
    def __init__(self, consultations: ConsultationService) -> None:
        self.service = consultations
        self.repo = consultations.repo
        self.members = consultations.members
        self.db = consultations.db
        self.clock = consultations.clock

    async def get(self, consultation_id: int, coordinator_id: int) -> Consultation | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        found = await self.repo.get(consultation_id)
        # A circle's decision is its members' business: coordinators do not read circles.
        return found if found is not None and found.owner_kind == "audience" else None

    async def list(self, coordinator_id: int) -> list[tuple[Consultation, int]] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        found = await self.repo.for_coordinator(coordinator_id)
        return [(c, len(await self.repo.respondents(c.id))) for c in found]

    async def results(self, consultation_id: int, coordinator_id: int) -> Results | None:
        consultation = await self.get(consultation_id, coordinator_id)
        if consultation is None:
            return None
        return await self.service.engine.results(consultation)

    @staticmethod
    def free_texts(results: Results) -> str:
        """The "another answer" texts per question, without names."""
        blocks = []
        for number, (question, result) in enumerate(
            zip(results.consultation.questions, results.questions, strict=True), start=1
        ):
            if result.others:
                lines = [f"Q{number}. {question.text}", *(f"- {o}" for o in result.others)]
                blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    async def export(self, consultation_id: int, coordinator_id: int) -> ExportFile | None:
        consultation = await self.get(consultation_id, coordinator_id)
        if consultation is None:
            return None
        rows = await self.repo.all_answers(consultation_id)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        anonymous = consultation.anonymous
        header = ["consultation", "question", "texte_question", "choix", "autre_reponse"]
        writer.writerow(header if anonymous else ["membre", *header])
        questions = consultation.questions
        for row in rows:
            if not 0 <= row.question < len(questions):
                continue
            question = questions[row.question]
            chosen = " | ".join(
                question.options[c] for c in row.choices if c < len(question.options)
            )
            line = [consultation_id, row.question + 1, question.text, chosen, row.other or ""]
            if not anonymous:
                line.insert(0, row.member_id)
            writer.writerow([_cell(v) for v in line])
        await self.service.audit.record(
            coordinator_id,
            "consultation.export",
            f"consultation:{consultation_id}",
            self.clock.now(),
        )
        content = buffer.getvalue().encode("utf-8-sig")
        return ExportFile(f"consultation_{consultation_id}.csv", content, len(rows))

    async def remind(self, consultation_id: int, coordinator_id: int) -> int | None:
        """Once per consultation: those who received it and answered nothing yet."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        async with self.db.transaction():
            consultation = await self.get(consultation_id, coordinator_id)
            if consultation is None or not self.service.engine.is_open(consultation):
                return None
            if not await self.repo.mark_reminded(consultation_id, now):
                return None
            people = await self.repo.not_answered(consultation_id)
            copies = []
            for member_id in people:
                lang = await self.service.language(member_id)
                text = self.service.texts.get(
                    lang,
                    "consultations.reminder",
                    title=consultation.title,
                    closes=self.service.local(consultation.closes_at, lang),
                )
                start = ConsultPress(ConsultAction.START, consultation_id=consultation_id)
                label = plain(self.service.texts.get(lang, "consultations.button.start"))
                copies.append(
                    NewDelivery(
                        chat_id=member_id,
                        kind=KIND_REMINDER,
                        ref_id=consultation_id,
                        payload=Payload(
                            text=text, buttons=[[Button(text=label, data=start.pack())]]
                        ),
                    )
                )
            await self.service.outbox.enqueue(copies)
            await self.service.audit.record(
                coordinator_id, "consultation.remind", f"consultation:{consultation_id}", now
            )
        return len(people)
