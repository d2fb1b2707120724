"""Members' answers to a call for help: Je viens, Pas cette fois, the waiting list.

Rules (PRODUCT.md flow 2): an answer counts only from a member the call reached, while the
call is open and before its deadline; pressing the same answer twice changes nothing; a "yes"
once the call has its number of people goes on the waiting list, in the order of the presses;
a volunteer who withdraws hands their place to the first on the waiting list, who is told.

Presses are decided in batches (bot/services/batching.py): a batch reads the calls and the
members' answers in two queries, decides each press in order in memory, and writes every
answer in one statement, all in one transaction, so that a storm of presses during a big call
costs a few database trips per batch rather than per press.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.clock import Clock
from bot.services.batching import Batcher
from storage.calls import Answer, Call, CallRepository, CallStatus, MemberAnswer, Tally
from storage.db import Database, DatabaseError
from storage.replay import transact


class Outcome(StrEnum):
    YES = "yes"
    WAITING = "waiting"
    NO = "no"
    SAME = "same"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


@dataclass
class AnswerResult:
    outcome: Outcome
    call: Call | None = None
    answer: Answer | None = None


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    call_id: int
    member_id: int
    yes: bool
    at: datetime
    """When the member pressed: it orders the waiting list and is checked against the
    deadline, whichever batch the press ends up in."""


Promoted = Callable[[Call, int], Awaitable[None]]
"""Tells a member they moved from the waiting list to the volunteers (inside the transaction)."""


class CallAnswers:
    def __init__(
        self,
        db: Database,
        repo: CallRepository,
        clock: Clock,
        promoted: Promoted,
        changed: Callable[[int], None],
    ) -> None:
        self.db = db
        self.repo = repo
        self.clock = clock
        self._promoted = promoted
        self._changed = changed
        self._batcher: Batcher[AnswerRequest, AnswerResult] = Batcher(
            self._decide_batch, name="essaim-call-answers", systemic=(DatabaseError,)
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    async def answer(self, call_id: int, member_id: int, yes: bool) -> AnswerResult:
        request = AnswerRequest(call_id, member_id, yes, self.clock.now())
        if self.db.in_transaction():
            # Inside the caller's transaction (a member who erases their data withdraws):
            # decide there, as a batch in its own transaction would wait for this one's lock.
            results, changed = await self._decide([request])
            for call_id in changed:
                self._changed(call_id)
            return results[0]
        return await self._batcher.submit(request)

    async def _decide_batch(self, requests: list[AnswerRequest]) -> list[AnswerResult]:
        # Run again from its start if PostgreSQL aborts it in a deadlock (storage/replay.py).
        results, changed = await transact(self.db, lambda: self._decide(requests))
        for call_id in changed:  # once committed: the live summary reads committed counts
            self._changed(call_id)
        return results

    async def _decide(self, requests: list[AnswerRequest]) -> tuple[list[AnswerResult], set[int]]:
        tallies = await self.repo.tallies(sorted({r.call_id for r in requests}))
        keys = list(dict.fromkeys((r.call_id, r.member_id) for r in requests))
        known = await self.repo.member_answers(keys)
        batch = _Batch(tallies, known)
        results = []
        for request in requests:
            result, withdrew = batch.decide(request)
            results.append(result)
            if withdrew and result.call is not None:
                await self._hand_over(batch, result.call, request.at)
        await self._write(batch)
        return results, batch.changed

    async def _hand_over(self, batch: _Batch, call: Call, at: datetime) -> None:
        """A volunteer withdrew: the first on the waiting list (as written so far) takes the
        place and is told."""
        await self.repo.set_answers(batch.take_writes())
        promoted = await self.repo.first_waiting(call.id)
        if promoted is None:
            return
        batch.record(call.id, promoted, "yes", at)
        await self.repo.set_answers(batch.take_writes())
        await self._promoted(call, promoted)

    async def _write(self, batch: _Batch) -> None:
        await self.repo.set_answers(batch.take_writes())
        for call_id, status in batch.statuses().items():
            await self.repo.set_status(call_id, status, self.clock.now())


class _Batch:
    """The calls and answers a batch read, updated in memory as each press is decided."""

    def __init__(
        self, tallies: dict[int, Tally], known: dict[tuple[int, int], MemberAnswer]
    ) -> None:
        self.tallies = tallies
        self.known = known
        self.changed: set[int] = set()
        self._writes: dict[tuple[int, int], tuple[Answer, datetime]] = {}
        self._initial = {call_id: t.call.status for call_id, t in tallies.items()}

    def decide(self, r: AnswerRequest) -> tuple[AnswerResult, bool]:
        """The press's result, and whether a volunteer just withdrew."""
        tally = self.tallies.get(r.call_id)
        mine = self.known.get((r.call_id, r.member_id))
        if tally is None or mine is None or not mine.was_sent:
            return AnswerResult(Outcome.UNKNOWN), False
        call, current = tally.call, mine.answer
        if call.status == "cancelled":
            return AnswerResult(Outcome.CANCELLED, call), False
        if call.status not in ("open", "complete") or r.at >= call.deadline_at:
            return AnswerResult(Outcome.CLOSED, call), False
        if r.yes:
            if current in ("yes", "waiting"):
                return AnswerResult(Outcome.SAME, call, current), False
            new: Answer = "yes" if tally.yes_count < call.needed else "waiting"
            self.record(r.call_id, r.member_id, new, r.at)
            outcome = Outcome.YES if new == "yes" else Outcome.WAITING
            return AnswerResult(outcome, call, new), False
        if current == "no":
            return AnswerResult(Outcome.SAME, call, current), False
        self.record(r.call_id, r.member_id, "no", r.at)
        return AnswerResult(Outcome.NO, call, "no"), current == "yes"

    def record(self, call_id: int, member_id: int, answer: Answer, at: datetime) -> None:
        tally = self.tallies[call_id]
        mine = self.known.setdefault(
            (call_id, member_id), MemberAnswer(was_sent=True, answer=None)
        )
        tally.yes_count += (answer == "yes") - (mine.answer == "yes")
        mine.answer = answer
        self._writes[(call_id, member_id)] = (answer, at)
        self.changed.add(call_id)

    def take_writes(self) -> Sequence[tuple[int, int, Answer, datetime]]:
        writes = [(c, m, answer, at) for (c, m), (answer, at) in self._writes.items()]
        self._writes.clear()
        return writes

    def statuses(self) -> dict[int, CallStatus]:
        """Calls whose status follows from their yes count: complete when full, open again
        when a withdrawal left a place nobody was waiting for."""
        changed: dict[int, CallStatus] = {}
        for call_id in self.changed:
            tally = self.tallies[call_id]
            status: CallStatus = "complete" if tally.yes_count >= tally.call.needed else "open"
            if status != self._initial[call_id]:
                changed[call_id] = status
        return changed
