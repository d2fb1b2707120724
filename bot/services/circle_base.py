"""What every part of the circles feature shares: the button model, results, views, and the
way a notice reaches a whole circle."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press
from bot.clock import Clock
from bot.config import Settings
from bot.services.base import FeatureService
from bot.services.members import MemberService
from bot.services.outbox import Button, OutboxService, Payload
from bot.texts import Texts, plain
from storage.circle_messages import CircleMessageRepository
from storage.circles import Circle, CircleMember, CircleRepository
from storage.db import Database
from storage.initiatives import InitiativeRepository
from storage.members import Member, MemberRepository
from storage.pairs import PairRepository

log = logging.getLogger(__name__)

WRITE_FLOW = "circle_write"
TEXT_MAX = 3000
CAPTION_MAX = 800
PRIORITY_CIRCLE = 8
"""Below every call, consultation and notice: due circle rows are claimed after theirs."""
PRIORITY_CIRCLE_NOTICE = 6


class CircleAction(StrEnum):
    JOIN = "j"
    SKIP = "s"
    LIST = "l"
    OPEN = "o"
    WRITE = "w"
    REPLY = "r"
    CANCEL = "x"
    MUTE = "m"
    UNMUTE = "u"
    LEAVE = "q"
    LEAVE_OK = "qok"
    MEMBERS = "mb"
    REMOVE = "rm"
    REMOVE_OK = "rmok"
    ASK_REJOIN = "ar"
    ACCEPT = "ra"
    DECLINE = "rd"
    ALERT = "al"
    ALERT_REMOVE = "ax"
    ALERT_DISMISS = "ad"


@dataclass(frozen=True)
class CirclePress(Press):
    """A press on a circle button. Members are named by their membership's id (`seat_id`),
    messages by their id: no Telegram id ever travels in callback data."""

    PREFIX: ClassVar[str] = "cir"
    LAYOUT: ClassVar[Layout] = {
        CircleAction.JOIN: "initiative_id",
        CircleAction.SKIP: "initiative_id",
        CircleAction.OPEN: "circle_id",
        CircleAction.WRITE: "circle_id",
        CircleAction.REPLY: "circle_id",
        CircleAction.MUTE: "circle_id",
        CircleAction.UNMUTE: "circle_id",
        CircleAction.LEAVE: "circle_id",
        CircleAction.LEAVE_OK: "circle_id",
        CircleAction.MEMBERS: "circle_id",
        CircleAction.REMOVE: "seat_id",
        CircleAction.REMOVE_OK: "seat_id",
        CircleAction.ASK_REJOIN: "circle_id",
        CircleAction.ACCEPT: "removal_id",
        CircleAction.DECLINE: "removal_id",
        CircleAction.ALERT: "message_id",
        CircleAction.ALERT_REMOVE: "alert_id",
        CircleAction.ALERT_DISMISS: "alert_id",
    }
    action: CircleAction
    initiative_id: int = 0
    circle_id: int = 0
    seat_id: int = 0
    removal_id: int = 0
    message_id: int = 0
    alert_id: int = 0


class JoinOutcome(StrEnum):
    JOINED = "joined"
    ALREADY = "already"
    FULL = "full"
    REMOVED = "removed"
    STALE = "stale"


@dataclass
class Seat:
    """One member of a circle as its screens show them."""

    seat: CircleMember
    member: Member


@dataclass
class CircleView:
    circle: Circle
    me: CircleMember
    seats: list[Seat]
    is_owner: bool

    @property
    def names(self) -> list[str]:
        return [s.member.display_name for s in self.seats]


@dataclass
class SendResult:
    status: str  # "sent", "too_long", "empty", "wrong_kind", "gone", "slow_member", "slow_circle"
    circle: Circle | None = None
    limit: int = 0
    recipients: int = 0


@dataclass
class RemovalResult:
    status: str  # "removed", "denied", "stale"
    name: str = ""
    circle: Circle | None = None


@dataclass
class Unmuted:
    circle: Circle
    unread: int


@dataclass
class CircleLine:
    """A line of /cercles: the circle, the first names in it, and whether the member muted it."""

    circle: Circle
    names: list[str] = field(default_factory=list)
    muted: bool = False
    unread: int = 0


class CircleBase(FeatureService):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        members: MemberService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.members = members
        self.repo = CircleRepository(db)
        self.messages = CircleMessageRepository(db)
        self.member_repo = MemberRepository(db)
        self.initiatives = InitiativeRepository(db)
        self.pairs = PairRepository(db)

    def _label(self, lang: str, key: str, **params: object) -> str:
        return plain(self.texts.get(lang, key, **params))

    def _button(self, lang: str, key: str, press: CirclePress) -> Button:
        return Button(text=self._label(lang, key), data=press.pack())

    def _lang(self, people: dict[int, Member], chat_id: int) -> str:
        member = people.get(chat_id)
        return member.language if member else self.texts.default

    async def _tell(
        self,
        chat_ids: Sequence[int],
        kind: str,
        render: Callable[[str, int], Payload],
        *,
        ref_id: int | None = None,
    ) -> None:
        """A notice about a circle to some of its people, each in their language (inside the
        caller's transaction). Not paced: it is rare and short, unlike conversation."""
        people = await self.member_repo.get_many(chat_ids)
        await self.outbox.notify(
            [c for c in chat_ids if c in people],
            kind,
            lambda chat_id: render(self._lang(people, chat_id), chat_id),
            ref_id=ref_id,
            priority=PRIORITY_CIRCLE_NOTICE,
        )

    async def _coordinators(self) -> list[int]:
        return list(await self.members.coordinator_ids())

    def open_button(self, lang: str, circle_id: int) -> list[Button]:
        return [
            self._button(
                lang, "circles.button.open", CirclePress(CircleAction.OPEN, circle_id=circle_id)
            )
        ]
