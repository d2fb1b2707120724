"""Gardener pairs: matcher proposals, pairs, check-ins and answers (SQL only, no rules)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, to_db_time

ProposalStatus = Literal["proposed", "confirmed", "skipped", "failed"]
PairStatus = Literal["active", "ended"]
Health = Literal["on_track", "needs_help", "blocked", "silent"]
AnswerCode = Literal["progress", "met", "help", "blocked"]
EndReason = Literal["ended", "repair", "left"]
CheckinKind = Literal["scheduled", "nudge"]


class ProposalRow(BaseModel):
    id: int
    batch: int
    citizen_id: int
    technician_id: int
    same_territory: bool
    shared_themes: list[str]
    status: ProposalStatus


class Pair(BaseModel):
    id: int
    citizen_id: int
    technician_id: int
    initiative_id: int | None
    status: PairStatus
    health: Health
    interval_days: int
    next_due_at: datetime | None
    silent_rounds: int
    created_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None


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


class CitizenRow(BaseModel):
    member_id: int
    territory: str | None
    themes: frozenset[str]
    waiting_since: datetime


class TechnicianRow(BaseModel):
    member_id: int
    territories: frozenset[str]
    themes: frozenset[str]
    capacity: int
    load: int


_PAIR = (
    "id, citizen_id, technician_id, initiative_id, status, health, interval_days, next_due_at, "
    "silent_rounds, created_at, ended_at, end_reason"
)


DUE_SQL = (
    f"SELECT {_PAIR} FROM pairs WHERE status = 'active' AND next_due_at <= ? "
    "ORDER BY next_due_at LIMIT ?"
)
"""The check-in sweeper's query; it must use the partial index `pairs_due`."""


def _pair(row: Row) -> Pair:
    return Pair(
        id=row["id"],
        citizen_id=row["citizen_id"],
        technician_id=row["technician_id"],
        initiative_id=row["initiative_id"],
        status=row["status"],
        health=row["health"],
        interval_days=row["interval_days"],
        next_due_at=from_db_time(row["next_due_at"]),
        silent_rounds=row["silent_rounds"],
        created_at=from_db_time(row["created_at"]),
        ended_at=from_db_time(row["ended_at"]),
        end_reason=row["end_reason"],
    )


def _proposal(row: Row) -> ProposalRow:
    return ProposalRow(
        id=row["id"],
        batch=row["batch"],
        citizen_id=row["citizen_id"],
        technician_id=row["technician_id"],
        same_territory=bool(row["same_territory"]),
        shared_themes=json.loads(row["shared_themes"]),
        status=row["status"],
    )


class PairRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- matcher input -----------------------------------------------------------------

    async def unpaired_citizens(self) -> list[CitizenRow]:
        """Active, onboarded citizen gardeners without an active pair."""
        rows = await self.db.fetch_all(
            "SELECT m.telegram_id, m.territory, m.onboarded_at, "
            "(SELECT group_concat(theme, char(31)) FROM member_themes t "
            " WHERE t.member_id = m.telegram_id) AS themes "
            "FROM members m WHERE m.is_citizen_gardener = 1 AND m.status = 'active' "
            "AND m.onboarded_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pairs p "
            " WHERE p.citizen_id = m.telegram_id AND p.status = 'active')"
        )
        return [
            CitizenRow(
                member_id=r["telegram_id"],
                territory=r["territory"],
                themes=frozenset(_split(r["themes"])),
                waiting_since=from_db_time(r["onboarded_at"]),
            )
            for r in rows
        ]

    async def technicians(self) -> list[TechnicianRow]:
        """Active, onboarded technicians with a profile, and their current load."""
        rows = await self.db.fetch_all(
            "SELECT m.telegram_id, tp.capacity, "
            "(SELECT group_concat(theme, char(31)) FROM member_themes t "
            " WHERE t.member_id = m.telegram_id) AS themes, "
            "(SELECT group_concat(territory, char(31)) FROM technician_territories tt "
            " WHERE tt.member_id = m.telegram_id) AS territories, "
            "(SELECT COUNT(*) FROM pairs p WHERE p.technician_id = m.telegram_id "
            " AND p.status = 'active') AS load "
            "FROM members m JOIN technician_profiles tp ON tp.member_id = m.telegram_id "
            "WHERE m.is_technician = 1 AND m.status = 'active' AND m.onboarded_at IS NOT NULL"
        )
        return [
            TechnicianRow(
                member_id=r["telegram_id"],
                territories=frozenset(_split(r["territories"])),
                themes=frozenset(_split(r["themes"])),
                capacity=r["capacity"],
                load=r["load"],
            )
            for r in rows
        ]

    async def load_of(self, technician_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM pairs WHERE technician_id = ? AND status = 'active'",
            (technician_id,),
        )
        return int(row["n"]) if row else 0

    async def capacity_of(self, technician_id: int) -> int | None:
        row = await self.db.fetch_one(
            "SELECT capacity FROM technician_profiles WHERE member_id = ?", (technician_id,)
        )
        return int(row["capacity"]) if row else None

    # --- proposals ---------------------------------------------------------------------

    async def next_batch(self) -> int:
        row = await self.db.fetch_one(
            "SELECT COALESCE(MAX(batch), 0) + 1 AS b FROM pair_proposals"
        )
        return int(row["b"]) if row else 1

    async def add_proposals(
        self,
        batch: int,
        proposals: Iterable[tuple[int, int, bool, Sequence[str]]],
        created_by: int | None,
        now: datetime,
    ) -> None:
        await self.db.executemany(
            "INSERT INTO pair_proposals (batch, citizen_id, technician_id, same_territory, "
            "shared_themes, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    batch,
                    citizen,
                    tech,
                    int(same),
                    json.dumps(list(themes), ensure_ascii=False),
                    created_by,
                    to_db_time(now),
                )
                for citizen, tech, same, themes in proposals
            ],
        )

    async def proposal(self, proposal_id: int) -> ProposalRow | None:
        row = await self.db.fetch_one(
            "SELECT id, batch, citizen_id, technician_id, same_territory, shared_themes, status "
            "FROM pair_proposals WHERE id = ?",
            (proposal_id,),
        )
        return _proposal(row) if row else None

    async def batch(self, batch: int, status: ProposalStatus | None = None) -> list[ProposalRow]:
        sql = (
            "SELECT id, batch, citizen_id, technician_id, same_territory, shared_themes, status "
            "FROM pair_proposals WHERE batch = ?"
        )
        params: list[object] = [batch]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = await self.db.fetch_all(sql + " ORDER BY id", params)
        return [_proposal(r) for r in rows]

    async def decide_proposal(
        self, proposal_id: int, status: ProposalStatus, now: datetime
    ) -> bool:
        changed = await self.db.execute(
            "UPDATE pair_proposals SET status = ?, decided_at = ? "
            "WHERE id = ? AND status = 'proposed'",
            (status, to_db_time(now), proposal_id),
        )
        return changed == 1

    # --- pairs -------------------------------------------------------------------------

    async def create(
        self,
        *,
        citizen_id: int,
        technician_id: int,
        initiative_id: int | None,
        interval_days: int,
        next_due_at: datetime,
        created_by: int | None,
        now: datetime,
    ) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO pairs (citizen_id, technician_id, initiative_id, interval_days, "
            "next_due_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                citizen_id,
                technician_id,
                initiative_id,
                interval_days,
                to_db_time(next_due_at),
                created_by,
                to_db_time(now),
            ),
        )

    async def get(self, pair_id: int) -> Pair | None:
        row = await self.db.fetch_one(f"SELECT {_PAIR} FROM pairs WHERE id = ?", (pair_id,))
        return _pair(row) if row else None

    async def all(self) -> list[Pair]:
        """Every pair, active or ended, oldest first: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(f"SELECT {_PAIR} FROM pairs ORDER BY id")
        return [_pair(r) for r in rows]

    async def active_of(self, member_id: int) -> list[Pair]:
        rows = await self.db.fetch_all(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' "
            "AND (citizen_id = ? OR technician_id = ?) ORDER BY id",
            (member_id, member_id),
        )
        return [_pair(r) for r in rows]

    async def requested_initiative(self, citizen_id: int) -> int | None:
        """The initiative whose author asked for a gardener when it reached consolidation."""
        row = await self.db.fetch_one(
            "SELECT initiative_id FROM gardener_requests WHERE member_id = ? "
            "ORDER BY requested_at DESC LIMIT 1",
            (citizen_id,),
        )
        return int(row["initiative_id"]) if row else None

    async def initiative_title(self, initiative_id: int) -> str | None:
        row = await self.db.fetch_one(
            "SELECT title FROM initiatives WHERE id = ?", (initiative_id,)
        )
        return str(row["title"]) if row else None

    async def active_citizen_pair(self, citizen_id: int) -> Pair | None:
        row = await self.db.fetch_one(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' AND citizen_id = ?",
            (citizen_id,),
        )
        return _pair(row) if row else None

    async def active(self, limit: int) -> list[Pair]:
        """Active pairs, those needing attention first."""
        rows = await self.db.fetch_all(
            f"SELECT {_PAIR} FROM pairs WHERE status = 'active' ORDER BY "
            "CASE health WHEN 'blocked' THEN 0 WHEN 'needs_help' THEN 1 WHEN 'silent' THEN 2 "
            "ELSE 3 END, id LIMIT ?",
            (limit,),
        )
        return [_pair(r) for r in rows]

    async def health_counts(self) -> dict[str, int]:
        rows = await self.db.fetch_all(
            "SELECT health, COUNT(*) AS n FROM pairs WHERE status = 'active' GROUP BY health"
        )
        return {r["health"]: int(r["n"]) for r in rows}

    async def due(self, now: datetime, limit: int) -> list[Pair]:
        """Active pairs whose check-in is due (the pairs_due partial index)."""
        rows = await self.db.fetch_all(DUE_SQL, (to_db_time(now), limit))
        return [_pair(r) for r in rows]

    async def with_blocked_technician(self) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT DISTINCT p.technician_id FROM pairs p JOIN members m "
            "ON m.telegram_id = p.technician_id WHERE p.status = 'active' AND m.status = 'blocked'"
        )
        return [r["technician_id"] for r in rows]

    async def set_schedule(
        self, pair_id: int, next_due_at: datetime, interval_days: int | None = None
    ) -> None:
        if interval_days is None:
            await self.db.execute(
                "UPDATE pairs SET next_due_at = ? WHERE id = ?", (to_db_time(next_due_at), pair_id)
            )
        else:
            await self.db.execute(
                "UPDATE pairs SET next_due_at = ?, interval_days = ? WHERE id = ?",
                (to_db_time(next_due_at), interval_days, pair_id),
            )

    async def set_health(self, pair_id: int, health: Health, silent_rounds: int) -> None:
        await self.db.execute(
            "UPDATE pairs SET health = ?, silent_rounds = ? WHERE id = ?",
            (health, silent_rounds, pair_id),
        )

    async def end(self, pair_id: int, reason: EndReason, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE pairs SET status = 'ended', ended_at = ?, end_reason = ?, next_due_at = NULL "
            "WHERE id = ? AND status = 'active'",
            (to_db_time(now), reason, pair_id),
        )
        return changed == 1

    # --- check-ins ---------------------------------------------------------------------

    async def add_checkin(self, pair_id: int, kind: CheckinKind, now: datetime) -> int:
        return await self.db.execute_returning_id(
            "INSERT INTO pair_checkins (pair_id, kind, sent_at) VALUES (?, ?, ?)",
            (pair_id, kind, to_db_time(now)),
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
            (checkin_id, member_id, answer, to_db_time(now)),
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


def _split(value: str | None) -> list[str]:
    return value.split("\x1f") if value else []
