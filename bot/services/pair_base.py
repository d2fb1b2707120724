"""What every part of the pairs feature shares: the button model, results and views, the
day window of check-ins, escalation to coordinators and the end of a pair."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from bot.callbacks import Layout, Press
from bot.clock import Clock
from bot.config import Settings
from bot.services.base import FeatureService
from bot.services.matching import (
    UnmatchedReason,
)
from bot.services.members import MemberService
from bot.services.outbox import Button, OutboxService, Payload
from bot.texts import Texts, plain
from storage.db import Database
from storage.members import OTHER_TERRITORY, Member, MemberRepository
from storage.pairs import (
    Answer,
    AnswerCode,
    Checkin,
    EndReason,
    Health,
    Pair,
    PairRepository,
    ProposalRow,
)

log = logging.getLogger(__name__)

RELAY_FLOW = "pair_relay"
NOTE_FLOW = "pair_note"
NOTE_MAX = 300
RELAY_TEXT_MAX = 3000
RELAY_CAPTION_MAX = 800
INTERVAL_CHOICES = (7, 14, 21, 30)
SWEEP_BATCH = 200

ANSWER_HEALTH: dict[AnswerCode, Health] = {
    "progress": "on_track",
    "met": "on_track",
    "help": "needs_help",
    "blocked": "blocked",
}
ESCALATING: frozenset[AnswerCode] = frozenset({"help", "blocked"})


class PairAction(StrEnum):
    WRITE = "w"
    REPLY = "rep"
    CHOOSE_PEER = "to"
    CANCEL_RELAY = "x"
    CHECKIN_ANSWER = "a"
    SKIP_NOTE = "ns"
    CONFIRM_PROPOSAL = "ok"
    SKIP_PROPOSAL = "sk"
    CONFIRM_BATCH = "all"
    CARD = "c"
    CARD_BACK = "cr"
    NUDGE = "n"
    INTERVAL_MENU = "iv"
    INTERVAL_SET = "is"
    ASK_REPAIR = "rp"
    ASK_END = "en"
    REPAIR = "rpok"
    END = "enok"
    PICK_TECHNICIAN = "pk"
    MANUAL_MATCH = "mm"


class CheckinReply(StrEnum):
    PROGRESS = "p"
    MET = "m"
    HELP = "h"
    BLOCKED = "b"


REPLY_CODES: dict[CheckinReply, AnswerCode] = {
    CheckinReply.PROGRESS: "progress",
    CheckinReply.MET: "met",
    CheckinReply.HELP: "help",
    CheckinReply.BLOCKED: "blocked",
}


@dataclass(frozen=True)
class PairPress(Press):
    """A press on a pair button: the relay, check-ins, and the coordinators' pair tools."""

    PREFIX: ClassVar[str] = "pair"
    LAYOUT: ClassVar[Layout] = {
        PairAction.REPLY: "pair_id",
        PairAction.CHOOSE_PEER: "pair_id",
        PairAction.CHECKIN_ANSWER: "checkin_id reply",
        PairAction.SKIP_NOTE: "answer_id",
        PairAction.CONFIRM_PROPOSAL: "proposal_id",
        PairAction.SKIP_PROPOSAL: "proposal_id",
        PairAction.CONFIRM_BATCH: "batch",
        PairAction.CARD: "pair_id",
        PairAction.CARD_BACK: "pair_id",
        PairAction.NUDGE: "pair_id",
        PairAction.INTERVAL_MENU: "pair_id",
        PairAction.INTERVAL_SET: "pair_id days",
        PairAction.ASK_REPAIR: "pair_id",
        PairAction.ASK_END: "pair_id",
        PairAction.REPAIR: "pair_id",
        PairAction.END: "pair_id",
        PairAction.PICK_TECHNICIAN: "citizen_id page",
        PairAction.MANUAL_MATCH: "citizen_id technician_id",
    }
    action: PairAction
    pair_id: int = 0
    checkin_id: int = 0
    reply: CheckinReply = CheckinReply.PROGRESS
    answer_id: int = 0
    proposal_id: int = 0
    batch: int = 0
    days: int = 0
    citizen_id: int = 0
    technician_id: int = 0
    page: int = 0


# --- the day window ------------------------------------------------------------------------


def window_opening(instant: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`instant` itself if it falls inside [start, end) local time, else the next opening.

    Computed on the local calendar (so 09:00 stays 09:00 across DST changes), returned in UTC.
    """
    local = instant.astimezone(zone)
    if start <= local.time().replace(tzinfo=None) < end:
        return instant.astimezone(UTC)
    day = local.date()
    if local.time().replace(tzinfo=None) >= end:
        day += timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


# --- results -------------------------------------------------------------------------------


class ConfirmOutcome(StrEnum):
    CREATED = "created"
    CITIZEN_PAIRED = "citizen_paired"
    FULL = "full"
    UNAVAILABLE = "unavailable"
    STALE = "stale"


@dataclass
class Confirmation:
    outcome: ConfirmOutcome
    pair_id: int | None = None


@dataclass
class ProposalLine:
    proposal: ProposalRow
    citizen: Member
    technician: Member


@dataclass
class UnmatchedLine:
    citizen: Member
    reason: UnmatchedReason


@dataclass
class MatchView:
    batch: int
    lines: list[ProposalLine]
    unmatched: list[UnmatchedLine] = field(default_factory=list)


@dataclass
class Peer:
    pair_id: int
    other: Member


@dataclass
class RelayResult:
    status: str  # "sent", "too_long", "empty", "ended"
    other: Member | None = None
    limit: int = 0


@dataclass
class AnswerResult:
    answer: Answer
    note_expected: bool


@dataclass
class NoteResult:
    status: str  # "saved", "too_long", "empty"
    limit: int = NOTE_MAX


@dataclass
class CheckinLine:
    checkin: Checkin
    answers: list[Answer]


@dataclass
class PairCard:
    pair: Pair
    citizen: Member
    technician: Member
    history: list[CheckinLine]
    initiative: str | None = None
    """The title of the initiative the pair was made for, if any."""


@dataclass
class Overview:
    counts: dict[str, int]
    pairs: list[tuple[Pair, Member, Member]]


def _ids(pair: Pair) -> tuple[int, int]:
    return pair.citizen_id, pair.technician_id


def _other(pair: Pair, member_id: int) -> int:
    return pair.technician_id if member_id == pair.citizen_id else pair.citizen_id


class PairBase(FeatureService):
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
        self.member_service = members
        self.repo = PairRepository(db)
        self.member_repo = MemberRepository(db)
        self._idle_signature: int | None = None
        self.on_paired: list[Callable[[int, int | None], Awaitable[object]]] = []
        """Run inside the pairing transaction with (technician id, initiative id)."""

    def role(self, lang: str, member: Member) -> str:
        key = "pairs.role.technician" if member.is_technician else "pairs.role.citizen"
        return self.texts.get(lang, key)

    def _territory(self, lang: str, member: Member, covered: list[str]) -> str:
        if member.is_technician and covered:
            return ", ".join(covered)
        if member.territory in (None, OTHER_TERRITORY):
            return self.texts.get(lang, "pairs.no_territory")
        return member.territory

    def _label(self, lang: str, key: str, **params: object) -> str:
        return plain(self.texts.get(lang, key, **params))

    def _schedule(self, instant: datetime) -> datetime:
        checkins = self.settings.checkins
        return window_opening(instant, self.settings.zone, checkins.day_start, checkins.day_end)

    async def _escalate(
        self, pair: Pair, citizen: Member, tech: Member, key: str, params: dict[str, object]
    ) -> None:
        """Tell every coordinator, with a button to the pair's card (inside the caller's tx)."""
        coordinators = await self.member_service.coordinator_ids()
        people = await self.member_repo.get_many(coordinators)
        log.info("pair %s escalated (%s)", pair.id, key)

        def render(chat_id: int) -> Payload:
            lang = people[chat_id].language if chat_id in people else self.texts.default
            text = self.texts.get(
                lang, key, citizen=citizen.display_name, technician=tech.display_name, **params
            )
            return Payload(
                text=text,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.card"),
                            data=PairPress(PairAction.CARD, pair_id=pair.id).pack(),
                        ),
                        Button(
                            text=self._label(lang, "pairs.button.nudge"),
                            data=PairPress(PairAction.NUDGE, pair_id=pair.id).pack(),
                        ),
                    ]
                ],
            )

        await self.outbox.notify(coordinators, "pair.escalation", render, ref_id=pair.id)

    async def _end(self, pair: Pair, reason: EndReason, leaving: int) -> bool:
        if not await self.repo.end(pair.id, reason, self.clock.now()):
            return False
        people = await self.member_repo.get_many(_ids(pair))
        recipients = [i for i in _ids(pair) if i in people]
        if reason == "left":
            recipients = [i for i in recipients if i != leaving]

        def render(chat_id: int) -> Payload:
            me = people[chat_id]
            other = people.get(_other(pair, chat_id))
            name = other.display_name if other else "—"
            role = "citizen" if chat_id == pair.citizen_id else "technician"
            key = f"pairs.end.{reason}.{role}"
            return Payload(text=self.texts.get(me.language, key, name=name))

        await self.outbox.notify(recipients, "pair.end", render, ref_id=pair.id)
        return True

    async def _is_coordinator(self, member_id: int) -> bool:
        return await self.member_service.is_coordinator(member_id)

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.settings.zone).strftime("%d/%m %H:%M")

    def health_label(self, lang: str, health: Health) -> str:
        return self.texts.get(lang, f"pairs.health.{health}")
