"""How an export's cells read in a spreadsheet: local times, yes or no, words instead of codes.

Storage says what each column holds (storage/stats.py: EXPORT_KINDS); the labels come from the
catalogues, in the coordinator's language. French spreadsheets split columns on `;` (the comma
is their decimal mark), English ones on `,`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import Texts
from storage.consultations import Question
from storage.db import from_db_time

SEPARATORS = {"fr": ";"}

# The kinds of codes, and the catalogue prefix that names each code.
LABELS = {
    "language": "export.value.language.",
    "member_status": "export.value.member.",
    "call_status": "calls.status.",
    "call_answer": "export.value.answer.",
    "initiative_status": "initiatives.status.",
    "stage": "initiatives.stage.",
    "needs": "initiatives.need.",
    "pair_status": "export.value.pair.",
    "health": "stats.pairs.",
    "checkin_answer": "pairs.answer.",
    "report_kind": "reports.kind.",
    "report_status": "reports.status.",
    "consultation_status": "consultations.status.",
}

TIME_FORMAT = "%Y-%m-%d %H:%M"


def separator(lang: str) -> str:
    return SEPARATORS.get(lang, ",")


def _items(value: object) -> list[Any]:
    """A list stored as JSON text (SQLite) or already decoded (PostgreSQL)."""
    if isinstance(value, str):
        try:
            found = json.loads(value)
        except ValueError:
            return [value]
        return found if isinstance(found, list) else [found]
    return list(value) if isinstance(value, list | tuple) else [value]


class CellFormat:
    """Turns stored values into what a person reads, for one coordinator's language."""

    def __init__(
        self,
        texts: Texts,
        lang: str,
        zone: ZoneInfo,
        questions: Mapping[int, list[Question]] | None = None,
    ) -> None:
        self.zone = zone
        self.questions = questions or {}
        self.labels = {kind: texts.choices(lang, prefix) for kind, prefix in LABELS.items()}
        self.yes = texts.get(lang, "export.value.yes")
        self.no = texts.get(lang, "export.value.no")

    def cell(self, kind: str, value: object, row: Mapping[str, object]) -> object:
        if value is None:
            return None
        if kind == "time":
            return self.time(value)
        if kind == "flag":
            return self.yes if value else self.no
        if kind == "list":
            return ", ".join(str(v) for v in _items(value))
        if kind == "questions":
            return self._questions(value)
        if kind == "choices":
            return self._choices(value, row)
        labels = self.labels.get(kind, {})
        if kind == "needs":
            return ", ".join(labels.get(str(v), str(v)) for v in _items(value))
        return labels.get(str(value), value)

    def time(self, value: object) -> object:
        instant = from_db_time(value) if isinstance(value, str | datetime) else None
        if instant is None:
            return value
        return instant.astimezone(self.zone).strftime(TIME_FORMAT)

    def _questions(self, value: object) -> str:
        parts = []
        for n, item in enumerate(_items(value), start=1):
            question = Question.model_validate(item)
            parts.append(f"{n}. {question.text} ({' / '.join(question.options)})")
        return " ; ".join(parts)

    def _choices(self, value: object, row: Mapping[str, object]) -> str:
        """The options' own words, from the consultation's questions (numbers if unknown)."""
        consultation, number = row.get("consultation"), row.get("question")
        questions = self.questions.get(int(str(consultation))) if consultation else None
        options: list[str] = []
        if questions and isinstance(number, int) and 0 < number <= len(questions):
            options = questions[number - 1].options
        words = []
        for choice in _items(value):
            index = int(choice)
            words.append(options[index] if 0 <= index < len(options) else str(index + 1))
        return " / ".join(words)
