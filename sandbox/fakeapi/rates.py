"""Telegram's flood limits as the fake server counts them: sliding one-second windows,
global, paid and per chat, answered with 429 and retry_after."""

from __future__ import annotations

import bisect
import contextvars
import math
import time
from collections import deque

from sandbox.fakeapi.core import ServerCore
from sandbox.fakeapi.protocol import ApiError


def _stamp(window: deque[float], at: float) -> None:
    """Keep a window sorted: requests are stamped on arrival but may be checked a little
    out of order (they all wait the same latency first)."""
    if window and at < window[-1]:
        bisect.insort(window, at)
    else:
        window.append(at)


_ARRIVAL: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "fakeapi_arrival", default=None
)
"""When the request being answered arrived (set by the HTTP handler, read by the windows)."""


class RateWindows(ServerCore):
    """Part of FakeTelegram: the sliding windows behind its 429 answers (uses `config`)."""

    def _init_rates(self) -> None:
        self._global_window: deque[float] = deque()  # free messages
        self._overall_window: deque[float] = deque()  # all messages, when paid is enabled
        self._chat_windows: dict[int, deque[float]] = {}

    @staticmethod
    def _window(rate: float) -> tuple[int, float]:
        """A rate as (max events, window seconds): 30/s -> (30, 1s), 0.5/s -> (1, 2s)."""
        if rate >= 1:
            return int(rate), 1.0
        return 1, 1.0 / rate

    @staticmethod
    def _retry_after(window: deque[float], rate: float, now: float) -> int:
        count, span = RateWindows._window(rate)
        cutoff = now - span
        while window and window[0] <= cutoff:
            window.popleft()
        if len(window) < count:
            return 0
        expires = window[len(window) - count] + span
        return max(1, math.ceil(expires - now))

    def _check_rate(self, chat_id: int, paid: bool) -> None:
        """Refuse with 429 when a sliding one-second window is full; else consume.

        Free messages may not exceed `global_per_second`; when paid broadcasts are enabled,
        paid messages skip that limit but every message, free or paid, counts against
        `paid_broadcast_per_second` (Telegram's overall ceiling for a paying bot).
        """
        config = self.config
        now = _ARRIVAL.get() or time.monotonic()
        paid_rate = config.paid_broadcast_per_second
        free = not (paid and paid_rate)
        free_rate = config.global_per_second if free else None
        wait = 0
        if free_rate:
            wait = self._retry_after(self._global_window, free_rate, now)
        if paid_rate:
            wait = max(wait, self._retry_after(self._overall_window, paid_rate, now))
        chat_rate = config.per_chat_per_second
        chat_window: deque[float] | None = None
        if chat_rate:
            chat_window = self._chat_windows.get(chat_id)
            if chat_window is None:
                chat_window = self._chat_windows[chat_id] = deque()
            wait = max(wait, self._retry_after(chat_window, chat_rate, now))
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for window, counted in (
            (self._global_window, bool(free_rate)),
            (self._overall_window, bool(paid_rate)),
            (chat_window, chat_window is not None),
        ):
            if counted and window is not None:
                _stamp(window, now)
