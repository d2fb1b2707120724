"""The sender lease and the shared sending budget, for several workers on one PostgreSQL.

Every instant here is the database server's own (`clock_timestamp()`), never a worker's: the
workers' clocks may disagree, the server's is the one they share. These statements are
PostgreSQL's; a SQLite deployment is one process and never runs them (bot/lease.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from storage.db import Database


class LeaseRow(BaseModel):
    name: str
    holder: str
    token: int
    expires_at: datetime


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, name: str, holder: str, seconds: float) -> int | None:
        """Take the lease if it is free or expired, or extend it if `holder` has it.

        Returns the fencing token, or None when someone else holds it. The token grows by
        one at every change of holder, so a token names one holding exactly.
        """
        row = await self.db.fetch_one(
            "INSERT INTO leases (name, holder, token, expires_at, renewed_at) "
            "VALUES (?, ?, 1, clock_timestamp() + make_interval(secs => ?), clock_timestamp()) "
            "ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "
            "token = leases.token + CASE WHEN leases.holder = EXCLUDED.holder THEN 0 ELSE 1 END, "
            "expires_at = EXCLUDED.expires_at, renewed_at = EXCLUDED.renewed_at "
            "WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < clock_timestamp() "
            "RETURNING token",
            (name, holder, seconds),
        )
        return int(row["token"]) if row else None

    async def renew(self, name: str, holder: str, token: int, seconds: float) -> bool:
        """Extend a lease still held (not expired, same token); False once it was lost."""
        changed = await self.db.execute(
            "UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => ?), "
            "renewed_at = clock_timestamp() "
            "WHERE name = ? AND holder = ? AND token = ? AND expires_at > clock_timestamp()",
            (seconds, name, holder, token),
        )
        return changed == 1

    async def release(self, name: str, holder: str, token: int) -> None:
        """At a clean stop: expire it now, so that another worker takes over at once."""
        await self.db.execute(
            "UPDATE leases SET expires_at = clock_timestamp() "
            "WHERE name = ? AND holder = ? AND token = ?",
            (name, holder, token),
        )

    async def is_current(self, name: str, holder: str, token: int) -> bool:
        """Inside the caller's transaction: the lease row is locked in share mode, so no
        other worker can take the lease over until that transaction ends."""
        row = await self.db.fetch_one(
            "SELECT token FROM leases WHERE name = ? AND holder = ? AND token = ? "
            "AND expires_at > clock_timestamp() FOR SHARE",
            (name, holder, token),
        )
        return row is not None

    async def get(self, name: str) -> LeaseRow | None:
        row = await self.db.fetch_one(
            "SELECT name, holder, token, expires_at FROM leases WHERE name = ?", (name,)
        )
        return LeaseRow(**dict(row)) if row else None


class BudgetRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def grant(
        self, name: str, count: int, interval: float, horizon: float | None
    ) -> tuple[float, float] | None:
        """Reserve `count` consecutive slots `interval` apart; returns (first slot, server
        now) in seconds since the epoch, or None when `horizon` is given and the budget is
        already reserved further ahead than that (bulk sends leave room for replies)."""
        span = interval * count
        ahead = (
            "" if horizon is None else "WHERE send_budget.next_slot <= (SELECT t FROM now) + ? "
        )
        row = await self.db.fetch_one(
            "WITH now AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS t) "
            "INSERT INTO send_budget (name, next_slot) SELECT ?, t + ? FROM now "
            "ON CONFLICT (name) DO UPDATE SET next_slot = "
            "GREATEST(send_budget.next_slot, (SELECT t FROM now)) + ? "
            + ahead
            + "RETURNING next_slot, (SELECT t FROM now) AS server_now",
            (name, span, span) if horizon is None else (name, span, span, horizon),
        )
        if row is None:
            return None
        return float(row["next_slot"]) - span, float(row["server_now"])

    async def pause(self, name: str, seconds: float) -> None:
        """Telegram answered 429: nobody sends on this budget for `seconds`."""
        await self.db.execute(
            "UPDATE send_budget SET next_slot = GREATEST(next_slot, "
            "extract(epoch FROM clock_timestamp())::float8 + ?) WHERE name = ?",
            (seconds, name),
        )
