"""Gardener pairs, the check-ins: each scheduled question and every answer to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time

AnswerCode = Literal["progress", "met", "help", "blocked"]
CheckinKind = Literal["scheduled", "nudge"]


class Checkin(BaseModel):
    id: int
    pair_id: int
    kind: CheckinKind
    sent_at: datetime


class Answer(BaseModel):
    id: int
    checkin_id: int
    member_id: int
    answer: AnswerCode
    note: str | None
    answered_at: datetime


class CheckinRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- check-ins ---------------------------------------------------------------------

    async def add_checkin(self, pair_id: int, kind: CheckinKind, now: datetime) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO pair_checkins (pair_id, kind, sent_at) VALUES (?, ?, ?)",
            (pair_id, kind, now),
        )

    async def checkin(self, checkin_id: int) -> Checkin | None:
        row = await self.db.fetch_one(
            "SELECT id, pair_id, kind, sent_at FROM pair_checkins WHERE id = ?", (checkin_id,)
        )
        return _checkin(row) if row else None

    async def last_checkin(self, pair_id: int) -> Checkin | None:
        row = await self.db.fetch_one(
            "SELECT id, pair_id, kind, sent_at FROM pair_checkins WHERE pair_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (pair_id,),
        )
        return _checkin(row) if row else None

    async def checkins(self, pair_id: int, limit: int) -> list[Checkin]:
        rows = await self.db.fetch_all(
            "SELECT id, pair_id, kind, sent_at FROM pair_checkins WHERE pair_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (pair_id, limit),
        )
        return [_checkin(r) for r in rows]

    async def answered(self, checkin_id: int) -> bool:
        row = await self.db.fetch_one(
            "SELECT 1 FROM pair_checkin_answers WHERE checkin_id = ? LIMIT 1", (checkin_id,)
        )
        return row is not None

    async def add_answer(
        self, checkin_id: int, member_id: int, answer: AnswerCode, now: datetime
    ) -> int | None:
        """Store or change the member's answer; None if this very answer was already stored
        (a double tap), decided by the unique index, so concurrent taps escalate once."""
        rows = await self.db.fetch_all(
            "INSERT INTO pair_checkin_answers (checkin_id, member_id, answer, answered_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (checkin_id, member_id) DO UPDATE SET "
            "answer = excluded.answer, note = NULL, answered_at = excluded.answered_at "
            "WHERE pair_checkin_answers.answer <> excluded.answer RETURNING id",
            (checkin_id, member_id, answer, now),
        )
        return int(rows[0]["id"]) if rows else None

    async def answer_of(self, checkin_id: int, member_id: int) -> Answer | None:
        row = await self.db.fetch_one(
            "SELECT id, checkin_id, member_id, answer, note, answered_at "
            "FROM pair_checkin_answers WHERE checkin_id = ? AND member_id = ?",
            (checkin_id, member_id),
        )
        return _answer(row) if row else None

    async def answer(self, answer_id: int) -> Answer | None:
        row = await self.db.fetch_one(
            "SELECT id, checkin_id, member_id, answer, note, answered_at "
            "FROM pair_checkin_answers WHERE id = ?",
            (answer_id,),
        )
        return _answer(row) if row else None

    async def set_note(self, answer_id: int, note: str) -> None:
        await self.db.execute(
            "UPDATE pair_checkin_answers SET note = ? WHERE id = ?", (note, answer_id)
        )

    async def answers_for(self, checkin_ids: Sequence[int]) -> list[Answer]:
        if not checkin_ids:
            return []
        marks = ",".join("?" * len(checkin_ids))
        rows = await self.db.fetch_all(
            "SELECT id, checkin_id, member_id, answer, note, answered_at "
            f"FROM pair_checkin_answers WHERE checkin_id IN ({marks}) ORDER BY id",
            list(checkin_ids),
        )
        return [_answer(r) for r in rows]


def _checkin(row: Row) -> Checkin:
    return Checkin(
        id=row["id"],
        pair_id=row["pair_id"],
        kind=row["kind"],
        sent_at=from_db_time(row["sent_at"]),
    )


def _answer(row: Row) -> Answer:
    return Answer(
        id=row["id"],
        checkin_id=row["checkin_id"],
        member_id=row["member_id"],
        answer=row["answer"],
        note=row["note"],
        answered_at=from_db_time(row["answered_at"]),
    )
