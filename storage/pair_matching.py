"""Gardener pairs, the matcher's side: who waits for a pair, who can take one, and the
proposals a coordinator confirms or skips (SQL only, no rules)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time

ProposalStatus = Literal["proposed", "confirmed", "skipped", "failed"]


class ProposalRow(BaseModel):
    id: int
    batch: int
    citizen_id: int
    technician_id: int
    same_territory: bool
    shared_themes: list[str]
    status: ProposalStatus


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


def _proposal(row: Row) -> ProposalRow:
    return ProposalRow(
        id=row["id"],
        batch=row["batch"],
        citizen_id=row["citizen_id"],
        technician_id=row["technician_id"],
        same_territory=bool(row["same_territory"]),
        shared_themes=row.json("shared_themes"),
        status=row["status"],
    )


class MatchingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- matcher input -----------------------------------------------------------------

    async def unpaired_citizens(self) -> list[CitizenRow]:
        """Active, onboarded citizen gardeners without an active pair."""
        rows = await self.db.fetch_all(
            "SELECT m.telegram_id, m.territory, m.onboarded_at, "
            "(SELECT group_concat(theme, char(31)) FROM member_themes t "
            " WHERE t.member_id = m.telegram_id) AS themes "
            "FROM members m WHERE m.is_citizen_gardener AND m.status = 'active' "
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
            "WHERE m.is_technician AND m.status = 'active' AND m.onboarded_at IS NOT NULL"
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
        """Read inside the confirming transaction, it locks the technician's profile until the
        pair is written, so two confirmations at once never exceed the capacity."""
        row = await self.db.fetch_one(
            "SELECT capacity FROM technician_profiles WHERE member_id = ? FOR UPDATE",
            (technician_id,),
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
                    same,
                    list(themes),
                    created_by,
                    now,
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
            (status, now, proposal_id),
        )
        return changed == 1


def _split(value: str | None) -> list[str]:
    return value.split("\x1f") if value else []
