"""Consultations: the questionnaire, each member's answers and where they are in it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from storage.audience import ROLES, Audience, Role
from storage.db import Database, Row, from_db_time

ConsultationStatus = Literal["scheduled", "open", "closed"]


class Question(BaseModel):
    text: str
    options: list[str]
    multiple: bool = False
    other: bool = False


class NewConsultation(BaseModel):
    coordinator_id: int
    title: str
    intro: str | None = None
    questions: list[Question]
    anonymous: bool = False
    closes_at: datetime
    audience: Audience = Field(default_factory=Audience)
    owner_kind: str = "audience"
    owner_id: int | None = None


class Consultation(NewConsultation):
    id: int
    status: ConsultationStatus
    scheduled_at: datetime | None
    sent_at: datetime | None
    recipients: int
    summary_chat_id: int | None
    summary_message_id: int | None
    reminded_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    results_file_id: str | None
    results_sent_at: datetime | None
    created_at: datetime


class MemberAnswer(BaseModel):
    question: int
    choices: list[int]
    other: str | None


class AnswerRow(BaseModel):
    """One answer as the results read it (the member id only where it may be shown)."""

    member_id: int
    question: int
    choices: list[int]
    other: str | None
    territory: str | None = None


_COLUMNS = (
    "id, owner_kind, owner_id, coordinator_id, title, intro, questions, anonymous, closes_at, "
    "territories, themes, roles, status, scheduled_at, sent_at, recipients, summary_chat_id, "
    "summary_message_id, reminded_at, closed_at, outcome, results_file_id, results_sent_at, "
    "created_at"
)


def _list(value: object) -> list[Any]:
    found = json.loads(value) if isinstance(value, str) else value
    return list(found) if isinstance(found, list) else []


def _consultation(row: Row) -> Consultation:
    roles: list[Role] = [r for r in ROLES if r in _list(row["roles"])]
    return Consultation(
        id=row["id"],
        owner_kind=row["owner_kind"],
        owner_id=row["owner_id"],
        coordinator_id=row["coordinator_id"],
        title=row["title"],
        intro=row["intro"],
        questions=[Question.model_validate(q) for q in _list(row["questions"])],
        anonymous=bool(row["anonymous"]),
        closes_at=from_db_time(row["closes_at"]),
        audience=Audience(
            territories=[str(t) for t in _list(row["territories"])],
            themes=[str(t) for t in _list(row["themes"])],
            roles=roles,
        ),
        status=row["status"],
        scheduled_at=from_db_time(row["scheduled_at"]),
        sent_at=from_db_time(row["sent_at"]),
        recipients=row["recipients"],
        summary_chat_id=row["summary_chat_id"],
        summary_message_id=row["summary_message_id"],
        reminded_at=from_db_time(row["reminded_at"]),
        closed_at=from_db_time(row["closed_at"]),
        outcome=row["outcome"],
        results_file_id=row["results_file_id"],
        results_sent_at=from_db_time(row["results_sent_at"]),
        created_at=from_db_time(row["created_at"]),
    )


class ConsultationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        new: NewConsultation,
        *,
        status: ConsultationStatus,
        now: datetime,
        scheduled_at: datetime | None = None,
    ) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO consultations (owner_kind, owner_id, coordinator_id, title, intro, "
            "questions, anonymous, closes_at, territories, themes, roles, status, scheduled_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.owner_kind,
                new.owner_id,
                new.coordinator_id,
                new.title,
                new.intro,
                json.dumps([q.model_dump() for q in new.questions], ensure_ascii=False),
                new.anonymous,
                new.closes_at,
                json.dumps(new.audience.territories, ensure_ascii=False),
                json.dumps(new.audience.themes, ensure_ascii=False),
                json.dumps(new.audience.roles),
                status,
                scheduled_at,
                now,
            ),
        )

    async def get(self, consultation_id: int) -> Consultation | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM consultations WHERE id = ?", (consultation_id,)
        )
        return _consultation(row) if row else None

    async def all(self) -> list[Consultation]:
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM consultations ORDER BY id")
        return [_consultation(r) for r in rows]

    async def for_coordinator(self, coordinator_id: int, limit: int = 10) -> list[Consultation]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM consultations WHERE coordinator_id = ? "
            "AND owner_kind = 'audience' ORDER BY id DESC LIMIT ?",
            (coordinator_id, limit),
        )
        return [_consultation(r) for r in rows]

    async def due_scheduled(self, now: datetime) -> list[Consultation]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM consultations WHERE status = 'scheduled' "
            "AND scheduled_at <= ? ORDER BY id",
            (now,),
        )
        return [_consultation(r) for r in rows]

    async def expired(self, now: datetime, owner_kind: str = "audience") -> list[Consultation]:
        """Open ones past their closing, of one kind of audience (each closes its own way)."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM consultations WHERE status = 'open' AND closes_at <= ? "
            "AND owner_kind = ? ORDER BY id",
            (now, owner_kind),
        )
        return [_consultation(r) for r in rows]

    async def results_due(self, before: datetime) -> list[Consultation]:
        """Closed consultations whose results are not sent yet: with the coordinator's
        message, or closed before `before` (the wait for that message is over)."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM consultations WHERE status = 'closed' "
            "AND owner_kind = 'audience' AND results_sent_at IS NULL "
            "AND (outcome IS NOT NULL OR closed_at <= ?) ORDER BY id",
            (before,),
        )
        return [_consultation(r) for r in rows]

    async def mark_sent(self, consultation_id: int, recipients: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE consultations SET status = 'open', sent_at = ?, recipients = ? WHERE id = ?",
            (now, recipients, consultation_id),
        )

    async def close_if_open(self, consultation_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE consultations SET status = 'closed', closed_at = ? "
            "WHERE id = ? AND status = 'open'",
            (now, consultation_id),
        )
        return changed == 1

    async def set_outcome(self, consultation_id: int, outcome: str) -> bool:
        changed = await self.db.execute(
            "UPDATE consultations SET outcome = ? WHERE id = ? AND status = 'closed' "
            "AND outcome IS NULL AND results_sent_at IS NULL",
            (outcome, consultation_id),
        )
        return changed == 1

    async def mark_results_sent(self, consultation_id: int, file_id: str, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE consultations SET results_file_id = ?, results_sent_at = ? "
            "WHERE id = ? AND results_sent_at IS NULL",
            (file_id, now, consultation_id),
        )
        return changed == 1

    async def mark_reminded(self, consultation_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE consultations SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL "
            "AND status = 'open'",
            (now, consultation_id),
        )
        return changed == 1

    async def set_summary(self, consultation_id: int, chat_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE consultations SET summary_chat_id = ?, summary_message_id = ? WHERE id = ?",
            (chat_id, message_id, consultation_id),
        )

    # --- answers and progress ------------------------------------------------------------

    async def progress(self, consultation_id: int, member_id: int) -> tuple[int, bool] | None:
        """(the question to show next, whether they finished once), or None if not begun."""
        row = await self.db.fetch_one(
            "SELECT current, finished_at FROM consultation_progress "
            "WHERE consultation_id = ? AND member_id = ?",
            (consultation_id, member_id),
        )
        return (int(row["current"]), row["finished_at"] is not None) if row else None

    async def set_progress(
        self, consultation_id: int, member_id: int, current: int, finished: bool, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO consultation_progress (consultation_id, member_id, current, "
            "finished_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (consultation_id, member_id) DO UPDATE SET current = excluded.current, "
            "finished_at = COALESCE(consultation_progress.finished_at, excluded.finished_at), "
            "updated_at = excluded.updated_at",
            (consultation_id, member_id, current, now if finished else None, now),
        )

    async def answers_of(self, consultation_id: int, member_id: int) -> dict[int, MemberAnswer]:
        rows = await self.db.fetch_all(
            "SELECT question, choices, other FROM consultation_answers "
            "WHERE consultation_id = ? AND member_id = ?",
            (consultation_id, member_id),
        )
        return {
            int(r["question"]): MemberAnswer(
                question=int(r["question"]),
                choices=[int(c) for c in _list(r["choices"])],
                other=r["other"],
            )
            for r in rows
        }

    async def set_answer(
        self,
        consultation_id: int,
        member_id: int,
        question: int,
        choices: Sequence[int],
        other: str | None,
        now: datetime,
    ) -> None:
        await self.db.execute(
            "INSERT INTO consultation_answers (consultation_id, member_id, question, choices, "
            "other, answered_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (consultation_id, member_id, question) DO UPDATE SET "
            "choices = excluded.choices, other = excluded.other, "
            "answered_at = excluded.answered_at",
            (consultation_id, member_id, question, json.dumps(list(choices)), other, now),
        )

    async def all_answers(self, consultation_id: int) -> list[AnswerRow]:
        rows = await self.db.fetch_all(
            "SELECT a.member_id, a.question, a.choices, a.other, m.territory "
            "FROM consultation_answers a LEFT JOIN members m ON m.telegram_id = a.member_id "
            "WHERE a.consultation_id = ? ORDER BY a.question, a.answered_at, a.member_id",
            (consultation_id,),
        )
        return [
            AnswerRow(
                member_id=int(r["member_id"]),
                question=int(r["question"]),
                choices=[int(c) for c in _list(r["choices"])],
                other=r["other"],
                territory=r["territory"],
            )
            for r in rows
        ]

    async def respondents(self, consultation_id: int) -> list[int]:
        """Members who answered at least one question (and are still members)."""
        rows = await self.db.fetch_all(
            "SELECT DISTINCT member_id FROM consultation_answers WHERE consultation_id = ? "
            "AND member_id > 0 ORDER BY member_id",
            (consultation_id,),
        )
        return [int(r["member_id"]) for r in rows]

    async def not_answered(self, consultation_id: int) -> list[int]:
        """Recipients who received it and answered nothing yet."""
        rows = await self.db.fetch_all(
            "SELECT r.member_id FROM broadcast_recipients r WHERE r.kind = 'consultation' "
            "AND r.broadcast_id = ? AND r.status = 'sent' AND NOT EXISTS (SELECT 1 FROM "
            "consultation_answers a WHERE a.consultation_id = r.broadcast_id "
            "AND a.member_id = r.member_id) ORDER BY r.member_id",
            (consultation_id,),
        )
        return [int(r["member_id"]) for r in rows]
