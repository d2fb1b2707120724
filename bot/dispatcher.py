"""The outbox dispatcher: sends due deliveries at Telegram's allowed rate and records results.

Crash safety: a row is claimed ('sending', in a committed transaction) before it is sent and
its result is recorded in batches (one executemany per flush). After a crash (kill -9) the
rows still 'sending' are queued again at start, so nobody is skipped, and the only possible
duplicates are messages that were sent but whose result was not recorded yet. The claim loop
never lets claimed-but-unrecorded rows exceed `max_in_flight + FLUSH_EVERY` (requests in
flight plus results waiting for the next flush): that is the duplicate bound per crash.

Stopping (SIGTERM) never makes a duplicate: after `sending.shutdown_grace_seconds` the sends
still waiting for their turn are given up (they never left: queued again), but a request
already on its way to Telegram is never cancelled, since Telegram may have accepted it: its
answer is awaited (the HTTP timeouts bound the wait) and recorded. The one outcome nobody can
know is a request whose answer never came (a timeout, sent or not): like any network failure
it is queued again, so such a message may arrive twice; Telegram offers no way to tell.

Failures: 403 (blocked, deactivated) and 400 "chat not found" mark the member 'blocked' and
are never retried nor counted as failures; any other 400 is Telegram refusing this message:
given up at once ('failed', with Telegram's reason). "We could not reach Telegram" (network
errors, timeouts, 5xx) is never a reason to give a message up: it is retried with exponential
backoff capped at `sending.retry_backoff_max_seconds`, on the injected clock, for
`sending.retry_hours` after it was first due. What loses its point meanwhile (a call past its
deadline, a reminder past its event: the row's `expires_at`) is recorded 'expired', not failed,
and never sent late. 429 is retried by the rate limiter, and if it still reaches us the row is
rescheduled after `retry_after`.

Pacing is the rate limiter's job (bulk lane); this class keeps enough requests in flight to
use the whole allowance despite network latency, claims due rows in batches and records
results in batches, so the work per message is O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.clock import Clock
from bot.config import SendingSettings
from bot.lease import Fence, LeaseLost
from bot.sending import BulkSender, keyboard, lane_args
from storage.db import Database
from storage.members import MemberRepository
from storage.outbox import Delivery, DeliveryResult, OutboxRepository, Payload

log = logging.getLogger(__name__)

FLUSH_EVERY = 50
FLUSH_SECONDS = 0.25
IDLE_POLL_SECONDS = 1.0
STOP_POLL_SECONDS = 0.05
START_WINDOW = 8  # requests in flight at first; grows by one per success up to max_in_flight


Observer = Callable[[Sequence[tuple[Delivery, DeliveryResult]]], Awaitable[None]]


def classify(
    error: Exception, delivery: Delivery, settings: SendingSettings, now: datetime
) -> DeliveryResult:
    """Map a Bot API failure to what happens to the delivery."""
    text = str(error)[:200]
    if isinstance(error, Forbidden):
        return DeliveryResult(id=delivery.id, status="blocked", error=text)
    if isinstance(error, BadRequest):
        lowered = text.lower()
        if "chat not found" in lowered or "user is deactivated" in lowered:
            return DeliveryResult(id=delivery.id, status="blocked", error=text)
        return DeliveryResult(id=delivery.id, status="failed", error=f"refused: {text}")
    if isinstance(error, RetryAfter):
        delay = error.retry_after
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        return _retry(delivery, text, now + timedelta(seconds=seconds))
    if isinstance(error, LeaseLost):
        # Refused before it left: the lease holder now sends it (bot/lease.py).
        return DeliveryResult(id=delivery.id, status="queued", error="lease lost")
    if not isinstance(error, TelegramError):
        # Not an answer from Telegram nor a network failure: a defect, not an outage.
        return DeliveryResult(id=delivery.id, status="failed", error=text)
    # We could not reach Telegram (network, timeout, 5xx): not this message's fault.
    capped = settings.max_attempts is not None and delivery.attempts >= settings.max_attempts
    if capped or now - delivery.due_at >= timedelta(hours=settings.retry_hours):
        return DeliveryResult(id=delivery.id, status="failed", error=f"unreachable: {text}")
    backoff = min(settings.retry_backoff_max_seconds, 2.0 ** min(delivery.attempts, 30))
    return _retry(delivery, text, now + timedelta(seconds=backoff))


def _retry(delivery: Delivery, error: str, at: datetime) -> DeliveryResult:
    """Queue again for `at`, unless the message will have lost its point by then."""
    if delivery.expires_at is not None and at >= delivery.expires_at:
        return DeliveryResult(id=delivery.id, status="expired", error=error)
    return DeliveryResult(id=delivery.id, status="queued", error=error, retry_at=at)


def is_transient(error: Exception) -> bool:
    """Telegram could not be reached (as opposed to answering about this message)."""
    return isinstance(error, TelegramError) and not isinstance(
        error, BadRequest | Forbidden | RetryAfter
    )


class Dispatcher:
    def __init__(
        self, db: Database, clock: Clock, bot: ExtBot[Any], settings: SendingSettings
    ) -> None:
        self.db = db
        self.clock = clock
        self.bot = bot
        # Decided once, not per message: the lane argument only our own limiter understands.
        self._bulk_args = lane_args(bot, "bulk")
        self._send_args: dict[str, Any] | None = self._bulk_args
        self.fence: Fence | None = None
        self.settings = settings
        self.sender = BulkSender(
            bot,
            paid=settings.allow_paid_broadcast,
            limit_args=self._send_args,
            connections=settings.max_in_flight + 16,
        )
        self.outbox = OutboxRepository(db)
        self.member_repo = MemberRepository(db)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._on_wire: set[asyncio.Task[None]] = set()
        """Sends whose request is on its way to Telegram: never cancelled (see `stop`)."""
        self._given_up = False
        """Past the shutdown grace: a send that has not left yet does not leave any more."""
        self._results: list[tuple[Delivery, DeliveryResult]] = []
        self._done_since_claim = 0
        self._window = float(min(START_WINDOW, settings.max_in_flight))
        self._observers: list[Observer] = []
        self._recorders: list[Observer] = []
        self._flush_lock = asyncio.Lock()
        self.sent_total = 0
        self.failed_total = 0
        self.blocked_total = 0
        self.expired_total = 0
        self.unreachable_total = 0
        self.last_success: datetime | None = None
        self.failing_since: datetime | None = None
        """First of the failures to reach Telegram since the last success (None: healthy)."""

    def observe(self, observer: Observer) -> None:
        """Called after each flush with the recorded results (e.g. a call's live summary)."""
        self._observers.append(observer)

    def record_with(self, recorder: Observer) -> None:
        """Called with the results inside the transaction that records them: state that must
        never disagree with the outbox (who a broadcast reached, and their copy's id)."""
        self._recorders.append(recorder)

    def fence_with(self, fence: Fence) -> None:
        """Claims and records carry the lease's token; the limiter asks it before each send."""
        self.fence = fence
        if self._bulk_args is not None:
            self._send_args = {**self._bulk_args, "fence": fence}
            self.sender.limit_args = self._send_args

    @property
    def _token(self) -> int | None:
        return self.fence.token if self.fence is not None else None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        requeued = await self.outbox.requeue_in_flight()
        if requeued:
            log.info("dispatcher requeued %d deliveries left in flight", requeued)
        self._stopping = self._given_up = False
        await self.sender.start()
        self._task = asyncio.create_task(self._run(), name="essaim-dispatcher")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let in-flight sends finish (bounded by `grace`), record results.

        After the grace, sends still waiting for their turn are cancelled (they never left,
        and are queued again); those on the wire are awaited, never cancelled: Telegram may
        have accepted them, and a send it accepted is recorded as sent."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._in_flight:
            _, pending = await asyncio.wait(self._in_flight, timeout=grace)
            self._given_up = True
            if pending & self._on_wire:
                on_wire = len(pending & self._on_wire)
                log.info("dispatcher stopping: awaiting %d sends on the wire", on_wire)
            while pending:
                # Also a send that leaves the wire without an answer to wait for (a 429 sends
                # it back to the limiter's pause): it does not go again.
                for task in pending - self._on_wire:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=STOP_POLL_SECONDS)
        await self.flush()
        await self.outbox.requeue_in_flight(self._token)
        await self.sender.stop()

    @property
    def in_flight(self) -> int:
        """Sends claimed and not finished: waiting for their turn or on the wire."""
        return len(self._in_flight)

    @contextlib.contextmanager
    def _on_the_wire(self) -> Iterator[None]:
        """Around each request to Telegram (each retry too): from here it may be accepted."""
        if self._given_up:
            raise asyncio.CancelledError  # stopping: it never left, so it is queued again
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._on_wire.add(task)
        try:
            yield
        finally:
            self._on_wire.discard(task)

    async def _run(self) -> None:
        last_flush = asyncio.get_running_loop().time()
        limit = self.settings.max_in_flight
        while not self._stopping:
            self._wake.clear()  # cleared before looking, so no wake-up is ever lost
            # Claimed-but-unrecorded rows stay under max_in_flight + FLUSH_EVERY (crash bound).
            window = min(limit, int(self._window))
            free = min(
                window - len(self._in_flight),
                limit + FLUSH_EVERY - len(self._in_flight) - len(self._results),
            )
            batch: list[Delivery] = []
            try:
                if free > 0:
                    self._done_since_claim = 0
                    async with self.db.transaction():
                        if self.fence is not None:
                            await self.fence.check()
                        batch = await self.outbox.claim_due(self.clock.now(), free, self._token)
                for delivery in batch:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._send(delivery))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                now = asyncio.get_running_loop().time()
                if self._results and (
                    len(self._results) >= FLUSH_EVERY or now - last_flush >= FLUSH_SECONDS
                ):
                    await self.flush()
                    last_flush = now
            except Exception:
                # A storage hiccup (disk full, lock timeout) must not kill delivery for good:
                # unrecorded results are kept for the next flush; try again shortly.
                log.exception("dispatcher loop failed; retrying")
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            if batch and free == len(batch):
                continue
            timeout = FLUSH_SECONDS if (self._results or self._in_flight) else IDLE_POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, delivery: Delivery) -> None:
        try:
            if delivery.expires_at is not None and self.clock.now() >= delivery.expires_at:
                result = DeliveryResult(id=delivery.id, status="expired")
            else:
                result = await self._attempt(delivery)
        finally:
            self._slots.release()
        self._results.append((delivery, result))
        # Wake the claim loop once a useful share of the slots is free (batched claims), or
        # when a batch of results is ready to be recorded.
        self._done_since_claim += 1
        if len(self._results) >= FLUSH_EVERY or self._done_since_claim >= max(
            1, self.settings.max_in_flight // 4
        ):
            self._wake.set()

    async def _attempt(self, delivery: Delivery) -> DeliveryResult:
        try:
            message_id = await self.sender.send(
                delivery.chat_id, delivery.payload, on_wire=self._on_the_wire
            )
        except Exception as error:  # every failure is classified and recorded
            now = self.clock.now()
            result = classify(error, delivery, self.settings, now)
            if is_transient(error):
                self.unreachable_total += 1
                if self.failing_since is None:
                    self.failing_since = now
                self._window = max(float(START_WINDOW), self._window / 2)
            elif isinstance(error, TelegramError):
                self.failing_since = None  # Telegram answered: it is reachable
            log.info(
                "delivery %d to chat %d: %s (%s)",
                delivery.id,
                delivery.chat_id,
                result.status,
                type(error).__name__,
            )
            return result
        self.last_success = self.clock.now()
        self.failing_since = None
        # Slow start: each success widens the window by one, so connections to the Bot
        # API open progressively instead of dozens at the same instant.
        self._window = min(float(self.settings.max_in_flight), self._window + 1.0)
        return DeliveryResult(id=delivery.id, status="sent", message_id=message_id)

    async def flush(self) -> None:
        async with self._flush_lock:
            if not self._results:
                return
            done, self._results = self._results, []
            blocked = [d.chat_id for d, r in done if r.status == "blocked"]
            try:
                async with self.db.transaction():
                    await self.outbox.record([r for _, r in done], self.clock.now(), self._token)
                    if blocked:
                        await self.member_repo.mark_blocked(blocked)
                    for recorder in self._recorders:
                        await recorder(done)
            except BaseException:
                self._results[:0] = done  # not recorded: keep them for the next flush
                raise
            for _, result in done:
                if result.status == "sent":
                    self.sent_total += 1
                elif result.status == "failed":
                    self.failed_total += 1
                elif result.status == "blocked":
                    self.blocked_total += 1
                elif result.status == "expired":
                    self.expired_total += 1
            for observer in self._observers:
                try:
                    await observer(done)
                except Exception:
                    log.exception("dispatcher observer failed")

    async def edit_message(self, chat_id: int, message_id: int, payload: Payload) -> None:
        """Edit a message the bot sent (a live summary, a member's copy of a call: its caption
        when the payload has a photo); an unchanged text is not an error.

        On the bulk lane: nobody is waiting on this edit, and that lane keeps the strict
        per-chat spacing, so the summary never trips the per-chat limit right after it was sent.
        """
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "parse_mode": ParseMode.HTML,
            "reply_markup": keyboard(payload),
            "rate_limit_args": self._bulk_args,
        }
        try:
            if payload.photo:
                await self.bot.edit_message_caption(caption=payload.text, **common)
            else:
                await self.bot.edit_message_text(payload.text, **common)
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                log.info("edit of message %d in chat %d refused", message_id, chat_id)
        except Forbidden:
            log.info("edit in chat %d refused: blocked", chat_id)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until nothing due is queued or in flight: for tests and the sandbox."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            depth, _ = await self.outbox.queue_depth(self.clock.now())
            if depth == 0 and not self._in_flight and not self._results:
                return
            if self._results and not self._in_flight:
                await self.flush()  # nothing else to wait for: record now, not at the next turn
                continue
            self.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("dispatcher did not drain")
