"""Running again a transaction the server aborted to settle a conflict with another one.

Without SQLite's single writer, two PostgreSQL transactions can lock the same rows in opposite
orders: the server then aborts one of them (deadlock_detected, 40P01), and at a stricter
isolation level one that read what the other changed (serialization_failure, 40001). The
backend raises `TransactionConflict` for both. The aborted transaction left nothing behind;
run again from its first statement it normally succeeds, once the other one has committed.

`transact(db, body)` runs `body` as one top-level transaction and, on a conflict, rolls it
back, waits a short random time (so that the two do not meet again in step: 20 ms, 40 ms...
at most, each drawn at random below that) and runs it again, ATTEMPTS times in all; the last
conflict is then raised like any DatabaseError. `@replayable` does the same for a service
method whose work is one `async with self.db.transaction():` block.

Only a whole transaction can be run again, hence the rules:
- inside another transaction, `transact` is a savepoint and replays nothing: the conflict
  goes up to the outermost block, which runs everything again if it is a `transact` too;
  a plain `async with db.transaction():` cannot be replayed, and its caller gets the error;
- `body` has no effect a second run would repeat outside the database: no Telegram call, no
  change in memory that is not harmless twice (waking the dispatcher is). Services only
  write rows, the outbox included, so a service method that is one transaction qualifies.

SQLite never needs a replay, and none happens there: a write transaction begins with
BEGIN IMMEDIATE, which takes the file's write lock before the body runs, and a process writes
through one connection, one transaction at a time. No transaction ever waits for a lock
another holds while holding one itself, so neither deadlocks nor serialization failures
exist. Another process holding the file (a backup, a migration, `sqlite3` by hand) makes
BEGIN wait up to busy_timeout (5 s); after that "database is locked" is a DatabaseError like
any other, not replayed: waiting longer would only hide a stuck writer, and several bot
processes on one database belong on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from storage.db import Database, TransactionConflict

log = logging.getLogger(__name__)

ATTEMPTS = 5
FIRST_PAUSE = 0.02  # seconds: the ceiling of the first random wait, doubled at each attempt
_jitter = random.Random()

T = TypeVar("T")
P = ParamSpec("P")


class _HasDb(Protocol):
    @property
    def db(self) -> Database: ...


S = TypeVar("S", bound=_HasDb)


async def transact(db: Database, body: Callable[[], Awaitable[T]]) -> T:
    """`async with db.transaction(): return await body()`, run again on a conflict."""

    async def whole() -> T:
        async with db.transaction():
            return await body()

    return await replaying(db, whole)


async def replaying(db: Database, run: Callable[[], Awaitable[T]]) -> T:
    """`await run()`, and again from its start on a conflict, if it is the outermost
    transaction; `run` is one whole transaction (reads before it are fine, a second one that
    commits on its own is not)."""
    if db.in_transaction():
        return await run()
    attempt = 1
    while True:
        try:
            return await run()
        except TransactionConflict as conflict:
            if attempt >= ATTEMPTS:
                log.error("transaction aborted %d times in a row: %s", attempt, conflict)
                raise
            pause = _jitter.uniform(0, FIRST_PAUSE * 2 ** (attempt - 1))
            log.warning(
                "transaction aborted by a conflict (%s), run again in %.0f ms (attempt %d)",
                conflict,
                pause * 1000,
                attempt + 1,
            )
            attempt += 1
            await asyncio.sleep(pause)


def replayable(
    method: Callable[Concatenate[S, P], Awaitable[T]],
) -> Callable[Concatenate[S, P], Awaitable[T]]:
    """For a service method whose work is one `async with self.db.transaction():` block:
    called outside any transaction, it is run again from its start on a conflict."""

    @functools.wraps(method)
    async def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await replaying(self.db, lambda: method(self, *args, **kwargs))

    return run
