"""Plain data objects shared by the fake server, its users and its control API.

They hold what a human would see in the Telegram app (ChatMessage) and what an operator would
measure (Stats), so tests and benchmarks assert on outcomes instead of on raw JSON.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallbackAnswer",
    "ChatEvent",
    "ChatMessage",
    "FaultConfig",
    "ServerEvent",
    "Stats",
]


@dataclass(slots=True)
class ChatMessage:
    """One message as the user's Telegram app shows it (a snapshot: edits create a new one)."""

    message_id: int
    text: str = ""
    html: str = ""
    buttons: list[list[str]] = field(default_factory=list)
    button_data: dict[str, str] = field(default_factory=dict)
    button_urls: dict[str, str] = field(default_factory=dict)
    photo: str | None = None
    document: tuple[str, bytes] | None = None
    caption: str | None = None
    edited: bool = False
    date: int = 0
    from_bot: bool = True
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "text"
    location: tuple[float, float] | None = None
    album: str | None = None  # the media_group_id shared by the messages of one album

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has: what the eye reads first."""
        return self.text or self.caption or ""

    @property
    def all_buttons(self) -> list[str]:
        """Flat list of button texts, handy in assertions."""
        return [text for row in self.buttons for text in row]

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly view for the control API and the web UI."""
        data = dataclasses.asdict(self)
        if self.document is not None:
            data["document"] = {"file_name": self.document[0], "size": len(self.document[1])}
        return data

    def render(self) -> str:
        """One-line human rendering used in assertion messages."""
        who = "bot" if self.from_bot else "user"
        parts = [f"#{self.message_id} {who}:"]
        if self.photo:
            parts.append("[photo]")
        if self.document:
            parts.append(f"[document {self.document[0]}]")
        if self.kind not in {"text", "photo", "document"}:
            parts.append(f"[{self.kind}]")
        parts.append(repr(self.content))
        if self.buttons:
            parts.append(" ".join(f"[{' | '.join(row)}]" for row in self.buttons))
        if self.edited:
            parts.append("(edited)")
        return " ".join(parts)


@dataclass(slots=True, frozen=True)
class CallbackAnswer:
    """What answerCallbackQuery made the user see (toast, alert or nothing)."""

    query_id: str
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int = 0


@dataclass(slots=True, frozen=True)
class ChatEvent:
    """An entry of a user's full log: kind is sent|received|edited|deleted|pressed|answer."""

    kind: str
    message: ChatMessage | None = None
    answer: CallbackAnswer | None = None
    data: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True, frozen=True)
class ServerEvent:
    """Pushed to subscribers (the future web UI): kind + chat + JSON payload."""

    kind: str
    chat_id: int | None
    payload: dict[str, Any]


@dataclass(slots=True)
class FaultConfig:
    """Limits and injected faults; every field can be changed while the server runs."""

    global_per_second: float | None = None
    per_chat_per_second: float | None = None
    paid_broadcast_per_second: float | None = None
    latency: float = 0.0
    error_rate_5xx: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay: float = 5.0
    deliver_on_timeout: bool = False
    refuse_connections: bool = False
    """An outage: the bot's actions get their connection cut without an answer (the client
    sees a network error, as when Telegram cannot be reached); polling is spared."""

    def update(self, **changes: Any) -> None:
        """Apply changes by name, refusing unknown names so typos fail loudly."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown fault/limit settings: {sorted(unknown)}")
        for key, value in changes.items():
            setattr(self, key, value)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class Stats:
    """Counters a benchmark needs to judge a broadcast: throughput, refusals, duplicates."""

    method_counts: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    too_many_requests: int = 0
    server_errors: int = 0
    timeouts: int = 0
    client_errors: int = 0
    refused: int = 0
    delivery_times: deque[float] = field(default_factory=deque)
    delivered_chat_ids: list[int] = field(default_factory=list)

    def reset(self) -> None:
        """Start a fresh measurement without restarting the server."""
        self.method_counts.clear()
        self.delivered = self.too_many_requests = self.server_errors = 0
        self.timeouts = self.client_errors = self.refused = 0
        self.delivery_times.clear()
        self.delivered_chat_ids.clear()

    def duplicates(self) -> dict[int, int]:
        """Chat ids that received more than one delivered message, with their counts."""
        return {cid: n for cid, n in Counter(self.delivered_chat_ids).items() if n > 1}

    def missing(self, expected: Any) -> set[int]:
        """Expected recipients that got nothing."""
        return set(expected) - set(self.delivered_chat_ids)

    def max_per_window(self, window: float = 1.0) -> int:
        """Largest number of deliveries inside any sliding window (observed peak rate)."""
        times = list(self.delivery_times)  # deque indexing is O(n) in the middle
        best = 0
        left = 0
        for right, t in enumerate(times):
            while t - times[left] >= window:
                left += 1
            best = max(best, right - left + 1)
        return best

    def to_json(self, full: bool = False) -> dict[str, Any]:
        """Summary for the control API; `full` adds the per-delivery lists."""
        times = self.delivery_times
        data: dict[str, Any] = {
            "method_counts": dict(self.method_counts),
            "delivered": self.delivered,
            "too_many_requests": self.too_many_requests,
            "server_errors": self.server_errors,
            "timeouts": self.timeouts,
            "client_errors": self.client_errors,
            "refused": self.refused,
            "unique_recipients": len(set(self.delivered_chat_ids)),
            "duplicate_recipients": len(self.duplicates()),
            "first_delivery": times[0] if times else None,
            "last_delivery": times[-1] if times else None,
            "max_per_second": self.max_per_window(1.0),
        }
        if full:
            data["delivery_times"] = list(times)
            data["delivered_chat_ids"] = list(self.delivered_chat_ids)
        return data
