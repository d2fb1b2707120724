"""Per-chat spacing: a chat gets at most one message per interval (a small burst for replies),
requests to a chat that came too early wait parked with a timer, in their order."""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

from bot.ratelimit.buckets import Start
from bot.ratelimit.lanes import _RANK, Lane


@dataclass(slots=True, eq=False)
class _Entry:
    seq: int
    lane: Lane
    chat: Hashable | None
    paid: bool
    ticket: asyncio.Future[list[Start]]


@dataclass(slots=True, eq=False)
class _ChatState:
    tat: float = float("-inf")
    parked: list[tuple[int, int, _Entry]] = field(default_factory=list)
    """Entries that reached the front of their lane before the chat allowed them."""
    timer_token: int | None = None
    """Identifies the armed timer; stale timer heap items carry an older token."""
    timer_at: float | None = None


class ChatTurns:
    """Part of PriorityRateLimiter: each chat's next allowed instant, parked entries, timers."""

    __slots__ = (
        "_bulk_chat_tolerance",
        "_chats",
        "_interactive_chat_tolerance",
        "_recent",
        "_timer_seq",
        "_timers",
    )

    _ready: dict[Lane, list[tuple[int, _Entry]]]
    _chats: dict[Hashable, _ChatState]
    _recent: deque[tuple[float, Hashable]]
    _timers: list[tuple[float, int, Hashable]]
    _timer_seq: int
    _bulk_chat_tolerance: float
    _interactive_chat_tolerance: float

    def _init_chats(self) -> None:
        self._chats = {}
        self._recent = deque()
        self._timers = []
        self._timer_seq = 0

    def _chat_allows(self, state: _ChatState, entry: _Entry, now: float) -> bool:
        if state.parked and state.parked[0][:2] < (_RANK[entry.lane], entry.seq):
            return False  # an earlier request to this chat is still waiting: keep chat order
        return state.tat - self._chat_tolerance(entry.lane) <= now

    def _chat_tolerance(self, lane: Lane) -> float:
        if lane is Lane.INTERACTIVE:
            return self._interactive_chat_tolerance
        return self._bulk_chat_tolerance

    def _park(self, state: _ChatState, entry: _Entry, now: float) -> None:
        heapq.heappush(state.parked, (_RANK[entry.lane], entry.seq, entry))
        top = state.parked[0][2]
        at = max(now, state.tat - self._chat_tolerance(top.lane))
        if state.timer_at is None or at < state.timer_at:
            self._arm(entry.chat, state, at)

    def _after_chat_turn(self, chat: Hashable | None, now: float) -> None:
        """A request to ``chat`` left its lane: make sure the next parked one has a timer."""
        state = self._chats.get(chat) if chat is not None else None
        if state is None or not state.parked or state.timer_at is not None:
            return
        top = state.parked[0][2]
        self._arm(chat, state, max(now, state.tat - self._chat_tolerance(top.lane)))

    def _arm(self, chat: Hashable, state: _ChatState, at: float) -> None:
        self._timer_seq += 1
        state.timer_token = self._timer_seq
        state.timer_at = at
        heapq.heappush(self._timers, (at, self._timer_seq, chat))

    def _fire_timers(self, now: float) -> None:
        """Move the first parked entry of each chat whose turn has come back to its lane."""
        while self._timers and self._timers[0][0] <= now:
            _, token, chat = heapq.heappop(self._timers)
            state = self._chats.get(chat)
            if state is None or state.timer_token != token:
                continue
            state.timer_token = state.timer_at = None
            while state.parked:
                _, seq, entry = heapq.heappop(state.parked)
                if not entry.ticket.done():
                    heapq.heappush(self._ready[entry.lane], (seq, entry))
                    break

    def _forget_idle_chats(self, now: float) -> None:
        """Drop chats whose spacing has elapsed: such a state is the same as no state."""
        recent = self._recent
        while recent and recent[0][0] <= now:
            tat, chat = recent.popleft()
            state = self._chats.get(chat)
            if state is not None and state.tat == tat and not state.parked:
                del self._chats[chat]
