"""Members, their themes, technician profiles and remembered consent refusals."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, to_db_time

Status = Literal["active", "paused", "blocked"]


class Member(BaseModel):
    telegram_id: int
    display_name: str
    username: str | None
    language: str
    territory: str | None
    themes: list[str]
    is_ambassador: bool
    is_citizen_gardener: bool
    is_technician: bool
    is_coordinator: bool
    consent_at: datetime
    onboarded_at: datetime | None
    referral_code: str
    referred_by: int | None
    status: Status
    created_at: datetime
    last_seen_at: datetime


class TechnicianProfile(BaseModel):
    member_id: int
    service: str
    capacity: int
    territories: list[str]


OTHER_TERRITORY = "autre"
"""The territory stored for "autre / hors territoire" (none of the configured ones): the one
source every layer reads."""

_COLUMNS = (
    "telegram_id, display_name, username, language, territory, is_ambassador, "
    "is_citizen_gardener, is_technician, is_coordinator, consent_at, onboarded_at, "
    "referral_code, referred_by, status, created_at, last_seen_at"
)

# Fields a member may change through onboarding or /profil (never roles granted by staff).
EDITABLE = {
    "display_name",
    "territory",
    "language",
    "is_ambassador",
    "is_citizen_gardener",
    "username",
}


def _member(row: Row, themes: list[str]) -> Member:
    return Member(
        telegram_id=row["telegram_id"],
        display_name=row["display_name"],
        username=row["username"],
        language=row["language"],
        territory=row["territory"],
        themes=themes,
        is_ambassador=bool(row["is_ambassador"]),
        is_citizen_gardener=bool(row["is_citizen_gardener"]),
        is_technician=bool(row["is_technician"]),
        is_coordinator=bool(row["is_coordinator"]),
        consent_at=from_db_time(row["consent_at"]),
        onboarded_at=from_db_time(row["onboarded_at"]),
        referral_code=row["referral_code"],
        referred_by=row["referred_by"],
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
        last_seen_at=from_db_time(row["last_seen_at"]),
    )


class MemberRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, telegram_id: int) -> Member | None:
        row = await self.db.fetch_one(
            f"SELECT {_COLUMNS} FROM members WHERE telegram_id = ?", (telegram_id,)
        )
        if row is None:
            return None
        return _member(row, await self.themes_of(telegram_id))

    async def get_many(self, ids: Iterable[int]) -> dict[int, Member]:
        wanted = list(dict.fromkeys(ids))
        found: dict[int, Member] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetch_all(
                f"SELECT {_COLUMNS} FROM members WHERE telegram_id IN ({marks})", chunk
            )
            theme_rows = await self.db.fetch_all(
                f"SELECT member_id, theme FROM member_themes WHERE member_id IN ({marks}) "
                "ORDER BY theme",
                chunk,
            )
            themes: dict[int, list[str]] = {}
            for t in theme_rows:
                themes.setdefault(t["member_id"], []).append(t["theme"])
            for row in rows:
                found[row["telegram_id"]] = _member(row, themes.get(row["telegram_id"], []))
        return found

    async def themes_of(self, telegram_id: int) -> list[str]:
        rows = await self.db.fetch_all(
            "SELECT theme FROM member_themes WHERE member_id = ? ORDER BY theme", (telegram_id,)
        )
        return [r["theme"] for r in rows]

    async def all(self) -> list[Member]:
        """Every member, by id: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all("SELECT telegram_id FROM members ORDER BY telegram_id")
        found = await self.get_many(r["telegram_id"] for r in rows)
        return [found[r["telegram_id"]] for r in rows if r["telegram_id"] in found]

    async def by_referral_code(self, code: str) -> Member | None:
        row = await self.db.fetch_one(
            "SELECT telegram_id FROM members WHERE referral_code = ?", (code,)
        )
        return await self.get(row["telegram_id"]) if row else None

    async def create(
        self,
        *,
        telegram_id: int,
        display_name: str,
        username: str | None,
        language: str,
        referral_code: str,
        referred_by: int | None,
        now: datetime,
    ) -> None:
        stamp = to_db_time(now)
        await self.db.execute(
            "INSERT INTO members (telegram_id, display_name, username, language, consent_at, "
            "referral_code, referred_by, created_at, last_seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                telegram_id,
                display_name,
                username,
                language,
                stamp,
                referral_code,
                referred_by,
                stamp,
                stamp,
            ),
        )
        await self.db.execute("DELETE FROM consent_refusals WHERE telegram_id = ?", (telegram_id,))

    async def update(self, telegram_id: int, **fields: object) -> None:
        unknown = set(fields) - EDITABLE - {"is_technician", "is_coordinator", "onboarded_at"}
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        values = [to_db_time(v) if isinstance(v, datetime) else v for v in fields.values()]
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self.db.execute(
            f"UPDATE members SET {assignments} WHERE telegram_id = ?", (*values, telegram_id)
        )

    async def set_themes(self, telegram_id: int, themes: Iterable[str]) -> None:
        await self.db.execute("DELETE FROM member_themes WHERE member_id = ?", (telegram_id,))
        await self.db.executemany(
            "INSERT INTO member_themes (member_id, theme) VALUES (?, ?)",
            [(telegram_id, theme) for theme in dict.fromkeys(themes)],
        )

    async def set_status(self, telegram_id: int, status: Status) -> None:
        await self.db.execute(
            "UPDATE members SET status = ? WHERE telegram_id = ?", (status, telegram_id)
        )

    async def mark_blocked(self, chat_ids: Iterable[int]) -> None:
        await self.db.executemany(
            "UPDATE members SET status = 'blocked' WHERE telegram_id = ?",
            [(cid,) for cid in chat_ids],
        )

    async def touch(self, seen: Iterable[tuple[int, datetime, str | None]]) -> None:
        """Record activity (id, when, username); a member who had blocked the bot and writes
        again is back."""
        await self.db.executemany(
            "UPDATE members SET last_seen_at = ?, username = COALESCE(?, username), "
            "status = CASE status WHEN 'blocked' THEN 'active' ELSE status END "
            "WHERE telegram_id = ?",
            [(to_db_time(now), username, telegram_id) for telegram_id, now, username in seen],
        )

    async def count_referrals(self, telegram_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM members WHERE referred_by = ?", (telegram_id,)
        )
        return int(row["n"]) if row else 0

    async def coordinator_ids(self) -> list[int]:
        rows = await self.db.fetch_all(
            "SELECT telegram_id FROM members WHERE is_coordinator AND status != 'blocked'"
        )
        return [r["telegram_id"] for r in rows]

    async def remember_refusal(self, telegram_id: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO consent_refusals (telegram_id, refused_at) VALUES (?, ?) "
            "ON CONFLICT (telegram_id) DO UPDATE SET refused_at = excluded.refused_at",
            (telegram_id, to_db_time(now)),
        )

    async def save_technician(
        self, member_id: int, service: str, capacity: int, territories: Iterable[str]
    ) -> None:
        await self.db.execute(
            "INSERT INTO technician_profiles (member_id, service, capacity) VALUES (?, ?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET service = excluded.service, "
            "capacity = excluded.capacity",
            (member_id, service, capacity),
        )
        await self.db.execute(
            "DELETE FROM technician_territories WHERE member_id = ?", (member_id,)
        )
        await self.db.executemany(
            "INSERT INTO technician_territories (member_id, territory) VALUES (?, ?)",
            [(member_id, t) for t in dict.fromkeys(territories)],
        )

    async def technician(self, member_id: int) -> TechnicianProfile | None:
        row = await self.db.fetch_one(
            "SELECT member_id, service, capacity FROM technician_profiles WHERE member_id = ?",
            (member_id,),
        )
        if row is None:
            return None
        rows = await self.db.fetch_all(
            "SELECT territory FROM technician_territories WHERE member_id = ? ORDER BY territory",
            (member_id,),
        )
        return TechnicianProfile(
            member_id=row["member_id"],
            service=row["service"],
            capacity=row["capacity"],
            territories=[r["territory"] for r in rows],
        )
