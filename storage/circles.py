"""Initiative circles: one per published initiative, its members, and who was removed.

What was said in a circle (messages, alerts, the circle traffic's pace) is in
`storage.circle_messages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from storage.db import Database, Row, from_db_time, row_lock

CircleRole = Literal["author", "member", "technician"]


class Circle(BaseModel):
    id: int
    initiative_id: int
    title: str
    """The initiative's title: what every circle screen and message is labelled with."""
    owner_id: int | None
    """Who may remove members: the author, or whom the circle passed to; None: coordinators."""
    created_at: datetime
    last_activity_at: datetime


class CircleMember(BaseModel):
    id: int
    """What buttons name a membership by (never a Telegram id)."""
    circle_id: int
    member_id: int
    role: CircleRole
    joined_at: datetime
    muted: bool
    unread: int
    last_read_at: datetime | None


class CircleListener(BaseModel):
    """One active member of a circle as an audience sees it (e.g. a decision put to it)."""

    member_id: int
    muted: bool


class Removal(BaseModel):
    id: int
    circle_id: int
    member_id: int
    removed_by: int | None
    removed_at: datetime
    asked_at: datetime | None
    declined_at: datetime | None


_CIRCLE = (
    "c.id, c.initiative_id, i.title, c.owner_id, c.created_at, c.last_activity_at "
    "FROM circles c JOIN initiatives i ON i.id = c.initiative_id"
)
_MEMBER = "id, circle_id, member_id, role, joined_at, muted, unread, last_read_at"


def _circle(row: Row) -> Circle:
    return Circle(
        id=row["id"],
        initiative_id=row["initiative_id"],
        title=row["title"],
        owner_id=row["owner_id"],
        created_at=from_db_time(row["created_at"]),
        last_activity_at=from_db_time(row["last_activity_at"]),
    )


def _member(row: Row) -> CircleMember:
    return CircleMember(
        id=row["id"],
        circle_id=row["circle_id"],
        member_id=row["member_id"],
        role=row["role"],
        joined_at=from_db_time(row["joined_at"]),
        muted=bool(row["muted"]),
        unread=row["unread"],
        last_read_at=from_db_time(row["last_read_at"]),
    )


class CircleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- circles -------------------------------------------------------------------------

    async def open(self, initiative_id: int, author_id: int | None, now: datetime) -> int:
        """The circle of a just published initiative, with its author in it (idempotent)."""
        await self.db.execute(
            "INSERT INTO circles (initiative_id, owner_id, created_at, last_activity_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (initiative_id) DO NOTHING",
            (initiative_id, author_id, now, now),
        )
        row = await self.db.fetch_one(
            "SELECT id FROM circles WHERE initiative_id = ?", (initiative_id,)
        )
        assert row is not None
        circle_id = int(row["id"])
        if author_id is not None:
            await self.add_member(circle_id, author_id, "author", now)
        return circle_id

    async def get(self, circle_id: int) -> Circle | None:
        row = await self.db.fetch_one(f"SELECT {_CIRCLE} WHERE c.id = ?", (circle_id,))
        return _circle(row) if row else None

    async def lock(self, circle_id: int) -> Circle | None:
        """The circle, its row locked until the transaction ends (joins, size, ownership)."""
        row = await self.db.fetch_one(
            "SELECT id FROM circles WHERE id = ?" + row_lock(self.db), (circle_id,)
        )
        return await self.get(circle_id) if row else None

    async def of_initiative(self, initiative_id: int) -> Circle | None:
        row = await self.db.fetch_one(
            f"SELECT {_CIRCLE} WHERE c.initiative_id = ?", (initiative_id,)
        )
        return _circle(row) if row else None

    async def of_member(self, member_id: int) -> list[Circle]:
        """The member's circles, the liveliest first."""
        rows = await self.db.fetch_all(
            f"SELECT {_CIRCLE} JOIN circle_members m ON m.circle_id = c.id "
            "WHERE m.member_id = ? ORDER BY c.last_activity_at DESC, c.id",
            (member_id,),
        )
        return [_circle(r) for r in rows]

    async def owned_by(self, member_id: int) -> list[Circle]:
        rows = await self.db.fetch_all(
            f"SELECT {_CIRCLE} WHERE c.owner_id = ? ORDER BY c.id", (member_id,)
        )
        return [_circle(r) for r in rows]

    async def set_owner(self, circle_id: int, owner_id: int | None) -> None:
        await self.db.execute(
            "UPDATE circles SET owner_id = ? WHERE id = ?", (owner_id, circle_id)
        )

    async def touch(self, circle_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE circles SET last_activity_at = ? WHERE id = ?", (now, circle_id)
        )

    async def all(self) -> list[Circle]:
        rows = await self.db.fetch_all(f"SELECT {_CIRCLE} ORDER BY c.id")
        return [_circle(r) for r in rows]

    # --- members -------------------------------------------------------------------------

    async def audience(self, circle_id: int) -> list[CircleListener]:
        """Who a message or a decision put to the circle goes to: its members who can be
        reached (not those who blocked the bot; /pause is about calls, not circles), with
        whether each muted the circle."""
        rows = await self.db.fetch_all(
            "SELECT cm.member_id, cm.muted FROM circle_members cm "
            "JOIN members m ON m.telegram_id = cm.member_id "
            "WHERE cm.circle_id = ? AND m.status <> 'blocked' "
            "ORDER BY cm.joined_at, cm.member_id",
            (circle_id,),
        )
        return [CircleListener(member_id=r["member_id"], muted=bool(r["muted"])) for r in rows]

    async def members(self, circle_id: int) -> list[CircleMember]:
        """Every member, longest-standing first."""
        rows = await self.db.fetch_all(
            f"SELECT {_MEMBER} FROM circle_members WHERE circle_id = ? "
            "ORDER BY joined_at, member_id",
            (circle_id,),
        )
        return [_member(r) for r in rows]

    async def members_of(self, circle_ids: Sequence[int]) -> dict[int, list[CircleMember]]:
        """The members of several circles at once (the /cercles list)."""
        found: dict[int, list[CircleMember]] = {i: [] for i in circle_ids}
        if not circle_ids:
            return found
        marks = ",".join("?" * len(circle_ids))
        rows = await self.db.fetch_all(
            f"SELECT {_MEMBER} FROM circle_members WHERE circle_id IN ({marks}) "
            "ORDER BY joined_at, member_id",
            tuple(circle_ids),
        )
        for row in rows:
            found[row["circle_id"]].append(_member(row))
        return found

    async def membership(self, circle_id: int, member_id: int) -> CircleMember | None:
        row = await self.db.fetch_one(
            f"SELECT {_MEMBER} FROM circle_members WHERE circle_id = ? AND member_id = ?",
            (circle_id, member_id),
        )
        return _member(row) if row else None

    async def seat(self, seat_id: int) -> CircleMember | None:
        """A membership by its id (what a button names)."""
        row = await self.db.fetch_one(
            f"SELECT {_MEMBER} FROM circle_members WHERE id = ?", (seat_id,)
        )
        return _member(row) if row else None

    async def memberships(self, member_id: int) -> list[CircleMember]:
        rows = await self.db.fetch_all(
            f"SELECT {_MEMBER} FROM circle_members WHERE member_id = ? ORDER BY circle_id",
            (member_id,),
        )
        return [_member(r) for r in rows]

    async def size(self, circle_id: int) -> int:
        row = await self.db.fetch_one(
            "SELECT COUNT(*) AS n FROM circle_members WHERE circle_id = ?", (circle_id,)
        )
        return int(row["n"]) if row else 0

    async def add_member(
        self, circle_id: int, member_id: int, role: CircleRole, now: datetime
    ) -> bool:
        """True if the member was not in the circle yet."""
        changed = await self.db.execute(
            "INSERT INTO circle_members (circle_id, member_id, role, joined_at, last_read_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (circle_id, member_id) DO NOTHING",
            (circle_id, member_id, role, now, now),
        )
        return changed > 0

    async def remove_member(self, circle_id: int, member_id: int) -> bool:
        changed = await self.db.execute(
            "DELETE FROM circle_members WHERE circle_id = ? AND member_id = ?",
            (circle_id, member_id),
        )
        return changed > 0

    async def set_role(self, circle_id: int, member_id: int, role: CircleRole) -> None:
        await self.db.execute(
            "UPDATE circle_members SET role = ? WHERE circle_id = ? AND member_id = ?",
            (role, circle_id, member_id),
        )

    async def mute(self, circle_id: int, member_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE circle_members SET muted = ?, unread = 0 "
            "WHERE circle_id = ? AND member_id = ? AND muted = ?",
            (True, circle_id, member_id, False),
        )
        return changed > 0

    async def unmute(self, circle_id: int, member_id: int, now: datetime) -> int | None:
        """Unmute; the count of messages held back meanwhile, or None if it was not muted.
        Call it inside a transaction: the read and the reset belong together."""
        row = await self.db.fetch_one(
            "SELECT unread FROM circle_members WHERE circle_id = ? AND member_id = ? "
            "AND muted = ?" + row_lock(self.db),
            (circle_id, member_id, True),
        )
        if row is None:
            return None
        await self.db.execute(
            "UPDATE circle_members SET muted = ?, last_read_at = ?, unread = 0 "
            "WHERE circle_id = ? AND member_id = ?",
            (False, now, circle_id, member_id),
        )
        return int(row["unread"])

    async def count_unread(self, circle_id: int, member_ids: Sequence[int]) -> None:
        """One more message the muted `member_ids` will be told about when they unmute."""
        await self.db.executemany(
            "UPDATE circle_members SET unread = unread + 1 WHERE circle_id = ? AND member_id = ?",
            [(circle_id, member_id) for member_id in member_ids],
        )

    async def mark_read(self, circle_id: int, member_id: int, now: datetime) -> None:
        await self.db.execute(
            "UPDATE circle_members SET last_read_at = ? WHERE circle_id = ? AND member_id = ?",
            (now, circle_id, member_id),
        )

    # --- removals and requests to rejoin ------------------------------------------------

    async def removal(self, circle_id: int, member_id: int) -> Removal | None:
        return await self._removal("circle_id = ? AND member_id = ?", (circle_id, member_id))

    async def removal_by_id(self, removal_id: int) -> Removal | None:
        return await self._removal("id = ?", (removal_id,))

    async def _removal(self, where: str, params: tuple[int, ...]) -> Removal | None:
        row = await self.db.fetch_one(
            "SELECT id, circle_id, member_id, removed_by, removed_at, asked_at, declined_at "
            f"FROM circle_removals WHERE {where}",
            params,
        )
        if row is None:
            return None
        return Removal(
            id=row["id"],
            circle_id=row["circle_id"],
            member_id=row["member_id"],
            removed_by=row["removed_by"],
            removed_at=from_db_time(row["removed_at"]),
            asked_at=from_db_time(row["asked_at"]),
            declined_at=from_db_time(row["declined_at"]),
        )

    async def mark_removed(
        self, circle_id: int, member_id: int, removed_by: int | None, now: datetime
    ) -> None:
        await self.db.execute(
            "INSERT INTO circle_removals (circle_id, member_id, removed_by, removed_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (circle_id, member_id) DO UPDATE SET "
            "removed_by = excluded.removed_by, removed_at = excluded.removed_at, "
            "asked_at = NULL, declined_at = NULL",
            (circle_id, member_id, removed_by, now),
        )

    async def ask_rejoin(self, circle_id: int, member_id: int, now: datetime) -> bool:
        """True the first time: a removed member asks once."""
        changed = await self.db.execute(
            "UPDATE circle_removals SET asked_at = ? "
            "WHERE circle_id = ? AND member_id = ? AND asked_at IS NULL",
            (now, circle_id, member_id),
        )
        return changed > 0

    async def decline_rejoin(self, circle_id: int, member_id: int, now: datetime) -> bool:
        changed = await self.db.execute(
            "UPDATE circle_removals SET declined_at = ? WHERE circle_id = ? AND member_id = ? "
            "AND asked_at IS NOT NULL AND declined_at IS NULL",
            (now, circle_id, member_id),
        )
        return changed > 0

    async def clear_removal(self, circle_id: int, member_id: int) -> bool:
        """Accepting a request to rejoin: True if there was one still open."""
        changed = await self.db.execute(
            "DELETE FROM circle_removals WHERE circle_id = ? AND member_id = ? "
            "AND asked_at IS NOT NULL AND declined_at IS NULL",
            (circle_id, member_id),
        )
        return changed > 0
