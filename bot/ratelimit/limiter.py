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
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.lease import LeaseLost
from bot.ratelimit.buckets import Gcra, Start, check_arguments, default_burst
from bot.ratelimit.chats import ChatTurns, _ChatState, _Entry
from bot.ratelimit.lanes import MESSAGE_ENDPOINTS, Lane, RateLimiterStats
from bot.ratelimit.shared import SharedBudget, SharedSlots

log = logging.getLogger(__name__)

TimeSource = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class PriorityRateLimiter(ChatTurns, SharedSlots, BaseRateLimiter[dict[str, Any]]):
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

    Arguments: ``paid_per_second`` enables paid broadcasts (None keeps them off).

    ``window`` = (count, seconds) makes the global bucket also count like Telegram: at
    most ``count`` requests started in any ``seconds`` (see ``Gcra``).
    ``paid_burst`` and ``paid_catch_up`` default to ``burst`` and ``catch_up``;
    ``paid_window`` is the paid bucket's own count (none by default): at a thousand
    messages a second, one interval is shorter than an event-loop turn and requests leave
    with more jitter.

    ``time_source`` and ``sleep`` default to the running loop's clock and
    ``asyncio.sleep``; tests inject a virtual clock so that pacing is checked exactly.
    """

    __slots__ = (
        "_chat_interval",
        "_global",
        "_max_retries",
        "_paid",
        "_paused_until",
        "_ready",
        "_retry_after_count",
        "_retry_margin",
        "_seq",
        "_shared",
        "_sleep",
        "_started",
        "_task",
        "_time",
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
        check_arguments(
            (messages_per_second, per_chat_per_second, paid_per_second),
            (window, paid_window),
            (interactive_chat_burst, max_retries, retry_margin),
        )
        self._global = Gcra(
            messages_per_second, burst or default_burst(messages_per_second), catch_up, window
        )
        self._paid = (
            None
            if paid_per_second is None
            else Gcra(
                paid_per_second,
                paid_burst or burst or default_burst(paid_per_second),
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
        self._init_chats()
        self._paused_until = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._started = dict.fromkeys(Lane, 0)
        self._waiting = dict.fromkeys(Lane, 0)
        self._retry_after_count = 0
        self._shared: dict[int, SharedBudget] = {}

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
        for budget in self._shared.values():
            await budget.close()

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
                fence = options.get("fence")
                if fence is not None and not fence.valid():
                    raise LeaseLost("the sender lease was lost while this send waited")
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
    ) -> list[Start]:
        """Queue the request and return once the dispatcher has let it start."""
        ticket: asyncio.Future[list[Start]] = asyncio.get_running_loop().create_future()
        entry = _Entry(seq, lane, chat, paid, ticket)
        heapq.heappush(self._ready[lane], (seq, entry))
        self._waiting[lane] += 1
        self._ensure_dispatcher()
        self._poke()
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
            for budget in self._shared.values():
                budget.pause(until - now)
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
                if self._shared:  # granted slots may arrive meanwhile
                    await self._idle(max(0.0, wake_at - now))
                else:
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
        claimed: Gcra | None = None
        starved: Gcra | None = None
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
                budget = self._shared.get(id(bucket))
                if budget is not None and bucket is not claimed and at <= now:
                    slot = budget.next_slot(now, lane is Lane.INTERACTIVE, len(heap))
                    if slot is None:  # asked for; the grant wakes the dispatcher
                        claimed = starved = bucket
                        break
                    at = max(at, slot)
                if bucket is starved:
                    break
                if bucket is claimed or at > now:
                    token_at = at if token_at is None else min(token_at, at)
                    claimed = claimed or bucket
                    break
                heapq.heappop(heap)
                self._start(entry, bucket, state, now)
        return token_at

    def _start(self, entry: _Entry, bucket: Gcra, state: _ChatState | None, now: float) -> None:
        starts = [bucket.consume(now)]
        budget = self._shared.get(id(bucket))
        if budget is not None:
            budget.take(entry.lane is Lane.INTERACTIVE)
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


def _seconds(exc: RetryAfter) -> float:
    # The public ``retry_after`` warns about its int-to-timedelta migration on every read;
    # PTB's own limiter reads the timedelta it stores, and so do we.
    delay: timedelta | int = getattr(exc, "_retry_after", None) or exc.retry_after
    if isinstance(delay, timedelta):
        return delay.total_seconds()
    return float(delay)
