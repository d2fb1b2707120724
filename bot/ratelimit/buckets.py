"""Token buckets on a grid: GCRA ("next allowed instant") with an optional sliding count that
mirrors Telegram's own, so a broadcast keeps its rate without ever exceeding the window."""

from __future__ import annotations

from collections import deque

QUIET_SECONDS = 30.0
"""How long without a 429 before a widened window narrows back a step."""


class Start:
    """When one request started: the instant it was let go, then the instant its caller
    really resumed to send it (later when the event loop was busy)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Gcra:
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
        self.starts: deque[Start] | None = (
            deque(maxlen=max(1, window[0])) if window is not None else None
        )

    def allowed_at(self) -> float:
        at = self.tat - self.tolerance
        starts = self.starts
        if starts is not None and self.window is not None and len(starts) == starts.maxlen:
            at = max(at, starts[0].at + self.window)
        return at

    def consume(self, now: float) -> Start | None:
        self.settle(now)
        base = self.tat if now - self.tat <= self.catch_up else now
        self.tat = base + self.interval
        if self.starts is None:
            return None
        start = Start(now)
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


def default_burst(rate: float) -> int:
    return max(1, round(rate / 10))


def check_arguments(
    rates: tuple[float, float, float | None],
    windows: tuple[tuple[int, float] | None, ...],
    counts: tuple[int, int, float],
) -> None:
    messages_per_second, per_chat_per_second, paid_per_second = rates
    if messages_per_second <= 0 or per_chat_per_second <= 0:
        raise ValueError("rates must be positive")
    if paid_per_second is not None and paid_per_second <= 0:
        raise ValueError("paid_per_second must be positive or None")
    for shape in windows:
        if shape is not None and (shape[0] < 1 or shape[1] <= 0):
            raise ValueError("a window is (count >= 1, seconds > 0) or None")
    interactive_chat_burst, max_retries, retry_margin = counts
    if interactive_chat_burst < 1 or max_retries < 0 or retry_margin < 0:
        raise ValueError("interactive_chat_burst >= 1, max_retries >= 0, retry_margin >= 0")
