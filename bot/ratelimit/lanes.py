"""What the limiter counts and reports: the endpoints that put a message in a chat, the two
lanes a request waits in, and the figures the health endpoint shows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
