"""Initiative circles (issue 21): an initiative's small group talks through the bot, without
anyone giving a phone number or a username to the others.

Joining and leaving are in `circle_membership`, talking and alerts in `circle_talk`; the
screens are in handlers/circles.py. Decisions put to a circle are consultations whose
audience is `CircleRepository.audience`.
"""

from __future__ import annotations

from bot.services.circle_base import (
    CAPTION_MAX,
    TEXT_MAX,
    WRITE_FLOW,
    CircleAction,
    CircleLine,
    CirclePress,
    CircleView,
    JoinOutcome,
    RemovalResult,
    Seat,
    SendResult,
    Unmuted,
)
from bot.services.circle_talk import CircleTalk, Content

__all__ = [
    "CAPTION_MAX",
    "TEXT_MAX",
    "WRITE_FLOW",
    "CircleAction",
    "CircleLine",
    "CirclePress",
    "CircleService",
    "CircleView",
    "Content",
    "JoinOutcome",
    "RemovalResult",
    "Seat",
    "SendResult",
    "Unmuted",
]


class CircleService(CircleTalk):
    """The circles feature, its sub-feature modules joined."""
