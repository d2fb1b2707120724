"""What each member is in the middle of, kept in the database so a restart resumes it.

A member may have several flows open at once (a /proposer draft, then a relay reply, then an
/appel draft): each flow has its own row, so starting one never throws another away. The
`turn` column orders them: the flow saved last is the one whose question the bot asked last,
and typed messages go there. When a flow ends while another is still open, the repository
remembers it (in this process), so the router can offer the other one back.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from pydantic import BaseModel

from storage.db import Database, row_lock, to_db_time

_COLUMNS = "member_id, flow, step, data"

# What just happened to a member's flows, per database: a flow that ended ("ended") or one
# that started ("started"). Hints for the router, which offers the other flow back ("you had
# a proposal in progress: continue?") or says it is kept. Losing them (a restart) loses only
# those sentences, never a draft: the next typed message still goes to the open flow.
_HINTS: WeakKeyDictionary[Database, dict[int, dict[str, str]]] = WeakKeyDictionary()
_MAX_HINTS = 10_000


class Conversation(BaseModel):
    member_id: int
    flow: str
    step: str
    data: dict[str, Any]


def _conversation(row: Any) -> Conversation:
    return Conversation(
        member_id=row["member_id"],
        flow=row["flow"],
        step=row["step"],
        data=json.loads(row["data"]),
    )


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, member_id: int, flow: str | None = None) -> Conversation | None:
        """This flow's state; without a flow, the one whose question was asked last. Inside a
        transaction the row stays locked until it ends: a double tap on "send" reads the draft
        once, the second press finds it gone (`row_lock`)."""
        lock = row_lock(self.db)
        if flow is None:
            row = await self.db.fetch_one(
                f"SELECT {_COLUMNS} FROM conversations WHERE member_id = ? "
                f"ORDER BY turn DESC LIMIT 1{lock}",
                (member_id,),
            )
        else:
            row = await self.db.fetch_one(
                f"SELECT {_COLUMNS} FROM conversations WHERE member_id = ? AND flow = ?{lock}",
                (member_id, flow),
            )
        return None if row is None else _conversation(row)

    async def open_flows(self, member_id: int) -> list[Conversation]:
        """Every flow the member has open, the one asked last first."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM conversations WHERE member_id = ? ORDER BY turn DESC",
            (member_id,),
        )
        return [_conversation(row) for row in rows]

    async def all(self) -> list[Conversation]:
        """Every open conversation: what an audit (or a test) reads back."""
        rows = await self.db.fetch_all(
            f"SELECT {_COLUMNS} FROM conversations ORDER BY member_id, flow"
        )
        return [_conversation(row) for row in rows]

    async def save(
        self, member_id: int, flow: str, step: str, data: dict[str, Any], now: datetime
    ) -> None:
        """Store this flow's step; it becomes the flow typed messages go to."""
        values = (step, json.dumps(data, ensure_ascii=False))
        started = await self.db.execute(
            "INSERT INTO conversations (member_id, flow, step, data, turn, updated_at) "
            "VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(turn), 0) + 1 FROM conversations "
            "WHERE member_id = ?), ?) ON CONFLICT (member_id, flow) DO NOTHING",
            (member_id, flow, *values, member_id, to_db_time(now)),
        )
        if started:
            self._hint(member_id, "started", flow)
            return
        await self.db.execute(
            "UPDATE conversations SET step = ?, data = ?, updated_at = ?, "
            "turn = (SELECT MAX(turn) + 1 FROM conversations WHERE member_id = ?) "
            "WHERE member_id = ? AND flow = ?",
            (*values, to_db_time(now), member_id, member_id, flow),
        )

    async def clear(self, member_id: int, flow: str | None = None) -> None:
        """End one flow (or all of them); the others stay as they were."""
        if flow is None:
            await self.db.execute("DELETE FROM conversations WHERE member_id = ?", (member_id,))
            self.take_hints(member_id)
            return
        ended = await self.db.execute(
            "DELETE FROM conversations WHERE member_id = ? AND flow = ?", (member_id, flow)
        )
        if ended:
            self._hint(member_id, "ended", flow)

    def _hint(self, member_id: int, what: str, flow: str) -> None:
        hints = _HINTS.setdefault(self.db, {})
        if len(hints) > _MAX_HINTS:  # flows ended by sweepers, for members who never came back
            hints.clear()
        hints.setdefault(member_id, {})[what] = flow

    def take_hints(self, member_id: int) -> dict[str, str]:
        """What happened to this member's flows since the last call: {"ended": flow,
        "started": flow}, each when it did (then forgotten)."""
        return _HINTS.get(self.db, {}).pop(member_id, {})
