"""A priority rate limiter for every Bot API call the application makes.

Telegram answers 429 (``RetryAfter``) when a bot sends more than about 30 messages a second
overall or more than about one message a second to the same chat, and it may then ban the bot
for a while. PTB's ``AIORateLimiter`` throttles, but it serves requests in arrival order: a
user who presses a button while a 10,000-recipient broadcast is queued would wait minutes for
the answer. This limiter keeps two lanes and always lets the interactive lane go first.

How it works, in one paragraph: each message-producing request becomes an entry in its lane's
queue (a heap ordered by arrival). One dispatcher task decides *when* each entry may start,
using "next allowed instant" arithmetic (GCRA, the virtual-scheduling form of a token bucket)
on the event loop's clock, and then wakes the caller, who awaits the network call itself, so
many requests are in flight at once and the limiter never serialises them. Requests that are
not messages to a chat (``answerCallbackQuery``, ``getMe``, ...) skip the queue and only
respect a 429 pause. Every per-request operation is O(log n) on heaps or O(1) on deques.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

TimeSource = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

QUIET_SECONDS = 30.0
"""How long without a 429 before a widened window narrows back a step."""

PAID_BROADCAST_MAX_RATE = 1000.0
"""Telegram's ceiling for paid broadcasts, in messages per second."""

MESSAGE_ENDPOINTS: frozenset[str] = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendAudio",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendPaidMedia",
        "sendMediaGroup",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendChecklist",
        "sendDice",
        "sendSticker",
        "sendInvoice",
        "sendGame",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
        "editMessageChecklist",
        "stopMessageLiveLocation",
        "stopPoll",
    }
)
"""Endpoints that put a message in a chat and therefore count against Telegram's flood limits.

Everything else (callback answers, ``getMe``, ``getFile``, ``setMyCommands``, chat actions)
costs no token: Telegram does not count it as a message, and delaying a callback answer
behind a broadcast would leave the user's button spinning.
"""


class Lane(StrEnum):
    """Which queue a request waits in; ``rate_limit_args={"lane": "bulk"}`` selects it."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


_RANK = {Lane.INTERACTIVE: 0, Lane.BULK: 1}


@dataclass(frozen=True, slots=True)
class RateLimiterStats:
    """A snapshot for the health endpoint and metrics; times are in the limiter's clock."""

    requests: dict[Lane, int]
    """Requests started per lane, retries included."""
    waiting: dict[Lane, int]
    """Requests currently waiting for their turn per lane."""
    retry_after_count: int
    """How many 429 answers Telegram gave since start."""
    paused_until: float | None
    """End of the current 429 pause, or None when sending is not paused."""
    tracked_chats: int
    """Chats whose recent sends are still remembered (bounded by traffic of the last seconds)."""


class _Start:
    """When one request started: the instant it was let go, then the instant its caller
    really resumed to send it (later when the event loop was busy)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class _Gcra:
    """A token bucket stored as the instant its next token is earned (no drift, O(1)).

    ``tat`` ("theoretical arrival time") moves forward by exactly one interval per request,
    so a late wake-up of the dispatcher is made up by the tolerance instead of being lost:
    over a long run the achieved rate converges to the configured one.

    With ``window`` = (count, seconds), the bucket also mirrors Telegram's own count: never
    more than ``count`` starts within any ``seconds``, measured on the instants the requests
    really left. Catching up after a late wake-up, or a caller that resumed late,
    can then never squeeze one message too many into a sliding window.
    """

    __slots__ = (
        "base_window",
        "catch_up",
        "interval",
        "quiet_since",
        "starts",
        "tat",
        "tolerance",
        "window",
    )

    def __init__(
        self,
        rate: float,
        burst: float,
        catch_up: float = 0.0,
        window: tuple[int, float] | None = None,
    ) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        # A send later than its slot by less than this keeps the grid: the next slot is one
        # interval after the missed one, not after the late send, so event-loop lateness is
        # not lost, and sends are never closer than one interval to their schedule.
        self.catch_up = catch_up * self.interval
        self.tat = float("-inf")
        self.window = window[1] if window is not None else None
        self.base_window = self.window
        self.quiet_since = float("-inf")
        self.starts: deque[_Start] | None = (
            deque(maxlen=max(1, window[0])) if window is not None else None
        )

    def allowed_at(self) -> float:
        at = self.tat - self.tolerance
        starts = self.starts
        if starts is not None and self.window is not None and len(starts) == starts.maxlen:
            at = max(at, starts[0].at + self.window)
        return at

    def consume(self, now: float) -> _Start | None:
        self.settle(now)
        base = self.tat if now - self.tat <= self.catch_up else now
        self.tat = base + self.interval
        if self.starts is None:
            return None
        start = _Start(now)
        self.starts.append(start)
        return start

    def restart_empty(self, at: float) -> None:
        """After a 429 pause the bucket holds a single token, so the backlog trickles out."""
        self.tat = max(self.tat, at + self.tolerance)

    def widen(self, now: float) -> None:
        """A 429: requests reached Telegram with more jitter than the window allowed for.
        Widen it (1% a time, at most 5%); QUIET_SECONDS without 429 narrow it back by 1%."""
        if self.window is None or self.base_window is None:
            return
        self.window = min(self.window * 1.01, self.base_window * 1.05)
        self.quiet_since = now

    def settle(self, now: float) -> None:
        if (
            self.window is not None
            and self.base_window is not None
            and self.window > self.base_window
            and now - self.quiet_since >= QUIET_SECONDS
        ):
            self.window = max(self.base_window, self.window * 0.99)
            self.quiet_since = now


@dataclass(slots=True, eq=False)
class _Entry:
    seq: int
    lane: Lane
    chat: Hashable | None
    paid: bool
    ticket: asyncio.Future[list[_Start]]


@dataclass(slots=True, eq=False)
class _ChatState:
    tat: float = float("-inf")
    parked: list[tuple[int, int, _Entry]] = field(default_factory=list)
    """Entries that reached the front of their lane before the chat allowed them."""
    timer_token: int | None = None
    """Identifies the armed timer; stale timer heap items carry an older token."""
    timer_at: float | None = None


class PriorityRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Two-lane limiter: global and paid token buckets, per-chat spacing, global 429 pause.

    Burst sizes: the global bucket holds ``max(1, rate / 10)`` tokens (3 at 30/s). A full
    second's worth (30 at once) is what gets bots a 429; a tenth of a second's worth stays
    within Telegram's tolerance while letting the dispatcher absorb event-loop jitter: a
    wake-up that comes late sends the tokens earned meanwhile instead of losing them, which
    is what keeps a long broadcast at the configured rate.

    Retries on 429: both lanes retry inside the limiter, up to ``max_retries`` times (per
    call: ``rate_limit_args={"max_retries": n}``), after the global pause; a retried request
    keeps its place at the head of its lane, so a broadcast keeps its order. When retries
    run out, ``RetryAfter`` reaches the caller (the outbox then reschedules the delivery).
    """

    __slots__ = (
        "_bulk_chat_tolerance",
        "_chat_interval",
        "_chats",
        "_global",
        "_interactive_chat_tolerance",
        "_max_retries",
        "_paid",
        "_paused_until",
        "_ready",
        "_recent",
        "_retry_after_count",
        "_retry_margin",
        "_seq",
        "_sleep",
        "_started",
        "_task",
        "_time",
        "_timer_seq",
        "_timers",
        "_waiting",
        "_wakeup",
    )

    def __init__(
        self,
        messages_per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        paid_per_second: float | None = None,
        *,
        burst: float | None = None,
        catch_up: float = 0.0,
        window: tuple[int, float] | None = None,
        paid_burst: float | None = None,
        paid_catch_up: float | None = None,
        paid_window: tuple[int, float] | None = None,
        interactive_chat_burst: int = 3,
        max_retries: int = 3,
        retry_margin: float = 0.1,
        time_source: TimeSource | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        """``paid_per_second`` enables paid broadcasts (None keeps them off).

        ``window`` = (count, seconds) makes the global bucket also count like Telegram: at
        most ``count`` requests started in any ``seconds`` (see ``_Gcra``).
        ``paid_burst`` and ``paid_catch_up`` default to ``burst`` and ``catch_up``;
        ``paid_window`` is the paid bucket's own count (none by default): at a thousand
        messages a second, one interval is shorter than an event-loop turn and requests leave
        with more jitter.

        ``time_source`` and ``sleep`` default to the running loop's clock and
        ``asyncio.sleep``; tests inject a virtual clock so that pacing is checked exactly.
        """
        if messages_per_second <= 0 or per_chat_per_second <= 0:
            raise ValueError("rates must be positive")
        if paid_per_second is not None and paid_per_second <= 0:
            raise ValueError("paid_per_second must be positive or None")
        for shape in (window, paid_window):
            if shape is not None and (shape[0] < 1 or shape[1] <= 0):
                raise ValueError("a window is (count >= 1, seconds > 0) or None")
        if interactive_chat_burst < 1 or max_retries < 0 or retry_margin < 0:
            raise ValueError("interactive_chat_burst >= 1, max_retries >= 0, retry_margin >= 0")
        self._global = _Gcra(
            messages_per_second, burst or _default_burst(messages_per_second), catch_up, window
        )
        self._paid = (
            None
            if paid_per_second is None
            else _Gcra(
                paid_per_second,
                paid_burst or burst or _default_burst(paid_per_second),
                catch_up if paid_catch_up is None else paid_catch_up,
                paid_window,
            )
        )
        self._chat_interval = 1.0 / per_chat_per_second
        self._bulk_chat_tolerance = 0.0
        self._interactive_chat_tolerance = (interactive_chat_burst - 1) * self._chat_interval
        self._max_retries = max_retries
        self._retry_margin = retry_margin
        self._time = time_source
        self._sleep: Sleep = sleep or asyncio.sleep

        self._seq = 0
        self._ready: dict[Lane, list[tuple[int, _Entry]]] = {lane: [] for lane in Lane}
        self._chats: dict[Hashable, _ChatState] = {}
        self._recent: deque[tuple[float, Hashable]] = deque()
        self._timers: list[tuple[float, int, Hashable]] = []
        self._timer_seq = 0
        self._paused_until = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._started = dict.fromkeys(Lane, 0)
        self._waiting = dict.fromkeys(Lane, 0)
        self._retry_after_count = 0

    # -- PTB contract -------------------------------------------------------------------

    async def initialize(self) -> None:
        self._bind_clock()

    async def shutdown(self) -> None:
        """Stop the dispatcher; callers still queued get an error rather than hang forever."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_waiting(RuntimeError("rate limiter shut down"))

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        self._bind_clock()
        options = rate_limit_args or {}
        lane = Lane(options.get("lane", Lane.INTERACTIVE))
        max_retries = int(options.get("max_retries", self._max_retries))
        is_message = endpoint in MESSAGE_ENDPOINTS
        chat = data.get("chat_id") if is_message else None
        paid = (
            self._paid is not None and lane is Lane.BULK and bool(data.get("allow_paid_broadcast"))
        )
        self._seq += 1
        seq = self._seq
        attempt = 0
        while True:
            if is_message:
                starts = await self._wait_turn(seq, lane, chat, paid)
                left = self._now()
                for start in starts:
                    start.at = left  # it leaves now, maybe later than it was let go
            else:
                await self._wait_pause(lane)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._on_retry_after(exc, endpoint)
                if attempt >= max_retries:
                    log.warning("429 on %s after %d retries, giving up", endpoint, attempt)
                    raise
                attempt += 1

    # -- public read-only state ---------------------------------------------------------

    @property
    def stats(self) -> RateLimiterStats:
        now = self._time() if self._time is not None else float("-inf")
        return RateLimiterStats(
            requests=dict(self._started),
            waiting=dict(self._waiting),
            retry_after_count=self._retry_after_count,
            paused_until=self._paused_until if self._paused_until > now else None,
            tracked_chats=len(self._chats),
        )

    # -- caller side --------------------------------------------------------------------

    def _bind_clock(self) -> None:
        if self._time is None:
            self._time = asyncio.get_running_loop().time

    def _now(self) -> float:
        assert self._time is not None, "clock is bound on the first request"
        return self._time()

    async def _wait_pause(self, lane: Lane) -> None:
        self._waiting[lane] += 1
        try:
            while (delay := self._paused_until - self._now()) > 0:
                await self._sleep(delay)
        finally:
            self._waiting[lane] -= 1
        self._started[lane] += 1

    async def _wait_turn(
        self, seq: int, lane: Lane, chat: Hashable | None, paid: bool
    ) -> list[_Start]:
        """Queue the request and return once the dispatcher has let it start."""
        ticket: asyncio.Future[list[_Start]] = asyncio.get_running_loop().create_future()
        entry = _Entry(seq, lane, chat, paid, ticket)
        heapq.heappush(self._ready[lane], (seq, entry))
        self._waiting[lane] += 1
        self._ensure_dispatcher()
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        try:
            starts = await ticket
        except asyncio.CancelledError:
            if ticket.cancelled():
                # The dispatcher drops the entry when it meets it; only the count is ours.
                self._waiting[lane] -= 1
            raise
        return starts

    def _on_retry_after(self, exc: RetryAfter, endpoint: str) -> None:
        seconds = _seconds(exc)
        self._retry_after_count += 1
        now = self._now()
        until = now + seconds + self._retry_margin
        log.warning("429 on %s: pausing all sending for %.1f s", endpoint, seconds)
        # The requests in flight when Telegram said 429 all get one: widen once per pause.
        first = now >= self._paused_until
        if until > self._paused_until:
            self._paused_until = until
            for bucket in (self._global, self._paid):
                if bucket is not None:
                    bucket.restart_empty(until)
                    if first:
                        bucket.widen(until)

    # -- dispatcher ---------------------------------------------------------------------

    def _ensure_dispatcher(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="PriorityRateLimiter"
            )
            self._task.add_done_callback(self._on_dispatcher_done)

    def _on_dispatcher_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("rate limiter dispatcher crashed", exc_info=error)
            self._fail_waiting(error)

    async def _run(self) -> None:
        while True:
            now = self._now()
            if self._paused_until > now:
                await self._sleep(self._paused_until - now)
                continue
            self._fire_timers(now)
            token_at = self._dispatch_due(now)
            self._forget_idle_chats(now)
            timer_at = self._timers[0][0] if self._timers else None
            if token_at is not None:
                # Short (at most one token interval) and nothing that arrives meanwhile
                # could start earlier, because it would need the same token: no wake-up.
                wake_at = token_at if timer_at is None else min(token_at, timer_at)
                await self._sleep(max(0.0, wake_at - now))
            else:
                # Only chats' timers or new requests can give work now: wake on either.
                await self._idle(None if timer_at is None else max(0.0, timer_at - now))

    async def _idle(self, delay: float | None) -> None:
        """Wait for a new request or for ``delay`` to pass, whichever comes first."""
        wakeup = asyncio.get_running_loop().create_future()
        self._wakeup = wakeup
        try:
            if delay is None:
                await wakeup
                return
            sleeper = asyncio.ensure_future(self._sleep(delay))
            try:
                await asyncio.wait((sleeper, wakeup), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
        finally:
            self._wakeup = None

    def _dispatch_due(self, now: float) -> float | None:
        """Start every entry allowed at ``now``; return when the next token frees a lane head.

        The interactive head gets first claim on its bucket: a bulk entry may only start
        meanwhile if it draws from another bucket (paid broadcasts).
        """
        token_at: float | None = None
        claimed: _Gcra | None = None
        for lane in (Lane.INTERACTIVE, Lane.BULK):
            heap = self._ready[lane]
            while heap:
                entry = heap[0][1]
                if entry.ticket.done():
                    heapq.heappop(heap)
                    self._after_chat_turn(entry.chat, now)
                    continue
                state = self._chats.get(entry.chat) if entry.chat is not None else None
                if state is not None and not self._chat_allows(state, entry, now):
                    heapq.heappop(heap)
                    self._park(state, entry, now)
                    continue
                bucket = self._paid if entry.paid and self._paid is not None else self._global
                at = bucket.allowed_at()
                if bucket is claimed or at > now:
                    token_at = at if token_at is None else min(token_at, at)
                    claimed = claimed or bucket
                    break
                heapq.heappop(heap)
                self._start(entry, bucket, state, now)
        return token_at

    def _chat_allows(self, state: _ChatState, entry: _Entry, now: float) -> bool:
        if state.parked and state.parked[0][:2] < (_RANK[entry.lane], entry.seq):
            return False  # an earlier request to this chat is still waiting: keep chat order
        return state.tat - self._chat_tolerance(entry.lane) <= now

    def _chat_tolerance(self, lane: Lane) -> float:
        if lane is Lane.INTERACTIVE:
            return self._interactive_chat_tolerance
        return self._bulk_chat_tolerance

    def _start(self, entry: _Entry, bucket: _Gcra, state: _ChatState | None, now: float) -> None:
        starts = [bucket.consume(now)]
        if bucket is self._global and self._paid is not None:
            # Free and paid messages share Telegram's overall ceiling.
            starts.append(self._paid.consume(now))
        if entry.chat is not None:
            if state is None:
                state = self._chats[entry.chat] = _ChatState()
            state.tat = max(state.tat, now) + self._chat_interval
            self._recent.append((state.tat, entry.chat))
            self._after_chat_turn(entry.chat, now)
        self._waiting[entry.lane] -= 1
        self._started[entry.lane] += 1
        entry.ticket.set_result([start for start in starts if start is not None])

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

    def _fail_waiting(self, error: BaseException) -> None:
        entries = [entry for heap in self._ready.values() for _, entry in heap]
        entries += [entry for state in self._chats.values() for *_, entry in state.parked]
        for entry in entries:
            if not entry.ticket.done():
                entry.ticket.set_exception(error)
                self._waiting[entry.lane] -= 1
        for heap in self._ready.values():
            heap.clear()
        self._chats.clear()
        self._recent.clear()
        self._timers.clear()


def _default_burst(rate: float) -> int:
    return max(1, round(rate / 10))


def _seconds(exc: RetryAfter) -> float:
    # The public ``retry_after`` warns about its int-to-timedelta migration on every read;
    # PTB's own limiter reads the timedelta it stores, and so do we.
    delay: timedelta | int = getattr(exc, "_retry_after", None) or exc.retry_after
    if isinstance(delay, timedelta):
        return delay.total_seconds()
    return float(delay)
