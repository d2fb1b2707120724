"""Calls for help: the calls, members' answers and the reminders still to send."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from storage.audience import ROLES, Audience, Role
from storage.db import Database, Row, from_db_time, row_lock, to_db_time

CallStatus = Literal["scheduled", "open", "complete", "closed", "cancelled"]
Answer = Literal["yes", "no", "waiting"]


class NewCall(BaseModel):
    coordinator_id: int
    text: str
    photo: str | None
    place: str
    event_at: datetime
    needed: int
    deadline_at: datetime
    territories: list[str]
    themes: list[str]
    ambassadors_only: bool
    roles: list[Role] = Field(default_factory=list)

    @property
    def audience(self) -> Audience:
        """Who receives it; calls written before roles existed said `ambassadors_only`."""
        roles = self.roles or (["ambassador"] if self.ambassadors_only else [])
        return Audience(territories=self.territories, themes=self.themes, roles=roles)


class Call(NewCall):
    id: int
    status: CallStatus
    scheduled_at: datetime | None
    sent_at: datetime | None
    recipients: int
    summary_chat_id: int | None
    summary_message_id: int | None
    created_at: datetime
    closed_at: datetime | None


class Tally(BaseModel):
    """A call as deciding answers needs it: the call and how many said yes."""

    call: Call
    yes_count: int


class MemberAnswer(BaseModel):
    """Whether the call reached the member, and their answer so far."""

    was_sent: bool
    answer: Answer | None


class Volunteer(BaseModel):
    member_id: int
    display_name: str
    username: str | None
    language: str
    answer: Answer
    answered_at: datetime


_COLUMNS = (
    "id, coordinator_id, text, photo, place, event_at, needed, deadline_at, territories, "
    "themes, ambassadors_only, roles, status, scheduled_at, sent_at, recipients, "
    "summary_chat_id, summary_message_id, created_at, closed_at"
)


def _call(row: Row) -> Call:
    return Call(
        id=row["id"],
        coordinator_id=row["coordinator_id"],
        text=row["text"],
        photo=row["photo"],
        place=row["place"],
        event_at=from_db_time(row["event_at"]),
        needed=row["needed"],
        deadline_at=from_db_time(row["deadline_at"]),
        territories=json.loads(row["territories"]),
        themes=json.loads(row["themes"]),
        ambassadors_only=bool(row["ambassadors_only"]),
        roles=[r for r in json.loads(row["roles"]) if r in ROLES],
        status=row["status"],
        scheduled_at=from_db_time(row["scheduled_at"]),
        sent_at=from_db_time(row["sent_at"]),
        recipients=row["recipients"],
        summary_chat_id=row["summary_chat_id"],
        summary_message_id=row["summary_message_id"],
        created_at=from_db_time(row["created_at"]),
        closed_at=from_db_time(row["closed_at"]),
    )


class CallRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- calls -------------------------------------------------------------------------

    async def create(
        self,
        call: NewCall,
        *,
        status: CallStatus,
        now: datetime,
        scheduled_at: datetime | None = None,
    ) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO calls (coordinator_id, text, photo, place, event_at, needed, "
            "deadline_at, territories, themes, ambassadors_only, roles, status, scheduled_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call.coordinator_id,
                call.text,
                call.photo,
                call.place,
                to_db_time(call.event_at),
                call.needed,
                to_db_time(call.deadline_at),
                json.dumps(call.territories, ensure_ascii=False),
                json.dumps(call.themes, ensure_ascii=False),
                call.ambassadors_only,
                json.dumps(call.roles),
                status,
                to_db_time(scheduled_at) if scheduled_at else None,
                to_db_time(now),
            ),
        )

    async def get(self, call_id: int) -> Call | None:
        """Inside a transaction the call's row stays locked until it ends (`row_lock`)."""
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM calls WHERE id = ?{row_lock(self.db)}", (call_id,)
        )
        return _call(row) if row else None

    async def all(self) -> list[Call]:
        """Every call, oldest first: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(f"SELECT {_COLUMNS} FROM calls ORDER BY id")
        return [_call(r) for r in rows]

    async def for_coordinator(self, coordinator_id: int, limit: int = 10) -> list[Call]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM calls WHERE coordinator_id = ? ORDER BY id DESC LIMIT ?",
            (coordinator_id, limit),
        )
        return [_call(r) for r in rows]

    async def due_scheduled(self, now: datetime) -> list[Call]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM calls WHERE status = 'scheduled' AND scheduled_at <= ? "
            "ORDER BY scheduled_at, id",
            (to_db_time(now),),
        )
        return [_call(r) for r in rows]

    async def expired(self, now: datetime) -> list[Call]:
        """Calls still taking answers although their deadline has passed."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM calls WHERE status IN ('open', 'complete') "
            "AND deadline_at <= ? ORDER BY id",
            (to_db_time(now),),
        )
        return [_call(r) for r in rows]

    async def close_if_live(self, call_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE calls SET status = 'closed', closed_at = ? WHERE id = ? "
            "AND status IN ('open', 'complete')",
            (to_db_time(now), call_id),
        )
        return changed == 1

    async def mark_sent(self, call_id: int, recipients: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE calls SET status = 'open', sent_at = ?, recipients = ? WHERE id = ?",
            (to_db_time(now), recipients, call_id),
        )

    async def set_status(self, call_id: int, status: CallStatus, now: datetime) -> None:
        closing = status in ("closed", "cancelled")
        await self.db.execute(
            "UPDATE calls SET status = ?, closed_at = CASE WHEN ? THEN ? ELSE closed_at END "
            "WHERE id = ?",
            (status, int(closing), to_db_time(now), call_id),
        )

    async def set_summary(self, call_id: int, chat_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE calls SET summary_chat_id = ?, summary_message_id = ? WHERE id = ?",
            (chat_id, message_id, call_id),
        )

    async def last_manual_reminder(self, call_id: int) -> datetime | None:
        row = await self.db.fetch_one("SELECT reminded_at FROM calls WHERE id = ?", (call_id,))
        return from_db_time(row["reminded_at"]) if row else None

    async def set_manual_reminder(self, call_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE calls SET reminded_at = ? WHERE id = ?", (to_db_time(now), call_id)
        )

    # --- answers -----------------------------------------------------------------------

    # Deciding answers reads everything a batch of presses needs in two queries, inside the
    # write transaction, so that the lock is held for a few trips to the database only. The
    # calls' rows stay locked (FOR UPDATE) until the batch commits: another process deciding
    # answers to the same call waits, so the places and the waiting list never overflow. They
    # are locked in id order, as every batch locks them: two batches never deadlock.
    async def tallies(self, call_ids: Sequence[int]) -> dict[int, Tally]:
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS}, erased_yes + (SELECT COUNT(*) FROM call_answers a "
            f"WHERE a.call_id = calls.id AND a.answer = 'yes') AS yes_count FROM calls "
            f"WHERE id IN ({','.join('?' * len(call_ids))}) ORDER BY id FOR UPDATE",
            list(call_ids),
        )
        return {int(r["id"]): Tally(call=_call(r), yes_count=int(r["yes_count"])) for r in rows}

    async def member_answers(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], MemberAnswer]:
        """For (call id, member id) pairs."""
        values = ",".join("(CAST(? AS BIGINT), CAST(? AS BIGINT))" for _ in keys)
        rows = await self.db.fetch_all(
            f"WITH k (call_id, member_id) AS (VALUES {values}) "
            "SELECT k.call_id, k.member_id, EXISTS (SELECT 1 FROM broadcast_recipients r "
            "WHERE r.kind = 'call' AND r.broadcast_id = k.call_id AND r.member_id = k.member_id) "
            "AS was_sent, a.answer FROM k LEFT JOIN call_answers a "
            "ON a.call_id = k.call_id AND a.member_id = k.member_id",
            [v for key in keys for v in key],
        )
        return {
            (int(r["call_id"]), int(r["member_id"])): MemberAnswer(
                was_sent=bool(r["was_sent"]), answer=r["answer"]
            )
            for r in rows
        }

    async def set_answers(self, rows: Sequence[tuple[int, int, Answer, datetime]]) -> None:
        """(call id, member id, answer, answered at) rows; a member's answer is replaced."""
        if not rows:
            return
        await self.db.executemany(
            "INSERT INTO call_answers (call_id, member_id, answer, answered_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (call_id, member_id) DO UPDATE SET "
            "answer = excluded.answer, answered_at = excluded.answered_at",
            [(c, m, answer, to_db_time(at)) for c, m, answer, at in rows],
        )

    async def answers(self, call_id: int) -> dict[int, Answer]:
        """Each member's answer to the call."""
        rows = await self.db.fetch_all(
            "SELECT member_id, answer FROM call_answers WHERE call_id = ? ORDER BY member_id",
            (call_id,),
        )
        return {int(r["member_id"]): r["answer"] for r in rows}

    async def open_calls_answered_yes(self, member_id: int) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT a.call_id FROM call_answers a JOIN calls c ON c.id = a.call_id "
            "WHERE a.member_id = ? AND a.answer = 'yes' AND c.status IN ('open', 'complete')",
            (member_id,),
        )
        return [int(r["call_id"]) for r in rows]

    async def member_upcoming(self, member_id: int, now: datetime) -> list[tuple[Call, Answer]]:
        """The calls still to come that the member said yes to (or waits for), soonest first."""
        columns = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
        rows = await self.db.fetch_all(
            f"SELECT {columns}, a.answer AS my_answer FROM call_answers a "
            "JOIN calls c ON c.id = a.call_id WHERE a.member_id = ? "
            "AND a.answer IN ('yes', 'waiting') AND c.status IN ('open', 'complete', 'closed') "
            "AND c.event_at > ? ORDER BY c.event_at, c.id",
            (member_id, to_db_time(now)),
        )
        return [(_call(r), r["my_answer"]) for r in rows]

    async def answer_counts(self, call_id: int) -> dict[str, int]:
        rows = await self.db.fetch_all(
            "SELECT answer, SUM(n) AS n FROM (SELECT answer, COUNT(*) AS n FROM call_answers "
            "WHERE call_id = ? GROUP BY answer UNION ALL SELECT 'yes', erased_yes FROM calls "
            "WHERE id = ?) AS counted GROUP BY answer HAVING SUM(n) > 0",
            (call_id, call_id),
        )
        return {r["answer"]: int(r["n"]) for r in rows}

    async def first_waiting(self, call_id: int) -> int | None:
        row = await self.db.fetch_one(
            "SELECT member_id FROM call_answers WHERE call_id = ? AND answer = 'waiting' "
            "ORDER BY answered_at, member_id LIMIT 1",
            (call_id,),
        )
        return int(row["member_id"]) if row else None

    async def volunteers(self, call_id: int, answers: Sequence[Answer]) -> list[Volunteer]:
        rows = await self.db.fetch_all(
            "SELECT a.member_id, a.answer, a.answered_at, m.display_name, m.username, "
            "m.language FROM call_answers a JOIN members m ON m.telegram_id = a.member_id "
            f"WHERE a.call_id = ? AND a.answer IN ({','.join('?' * len(answers))}) "
            "ORDER BY a.answer DESC, a.answered_at, a.member_id",
            (call_id, *answers),
        )
        return [
            Volunteer(
                member_id=r["member_id"],
                display_name=r["display_name"],
                username=r["username"],
                language=r["language"],
                answer=r["answer"],
                answered_at=from_db_time(r["answered_at"]),
            )
            for r in rows
        ]

    # --- reminders ---------------------------------------------------------------------

    async def add_reminders(self, call_id: int, due: Sequence[datetime]) -> None:
        await self.db.executemany(
            "INSERT INTO call_reminders (call_id, due_at) VALUES (?, ?) "
            "ON CONFLICT (call_id, due_at) DO NOTHING",
            [(call_id, to_db_time(d)) for d in due],
        )

    async def due_reminders(self, now: datetime) -> list[tuple[int, datetime]]:
        rows = await self.db.fetch_all(
            "SELECT call_id, due_at FROM call_reminders WHERE sent_at IS NULL AND due_at <= ? "
            "ORDER BY due_at",
            (to_db_time(now),),
        )
        return [(int(r["call_id"]), from_db_time(r["due_at"]) or now) for r in rows]

    async def mark_reminder_sent(self, call_id: int, due_at: datetime, now: datetime) -> None:
        await self.db.execute(
            "UPDATE call_reminders SET sent_at = ? WHERE call_id = ? AND due_at = ?",
            (to_db_time(now), call_id, to_db_time(due_at)),
        )

    async def reminders(self, call_id: int) -> list[tuple[datetime, datetime | None]]:
        rows = await self.db.fetch_all(
            "SELECT due_at, sent_at FROM call_reminders WHERE call_id = ? ORDER BY due_at",
            (call_id,),
        )
        return [
            (from_db_time(r["due_at"]) or datetime.min, from_db_time(r["sent_at"])) for r in rows
        ]
