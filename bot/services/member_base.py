"""What every part of the members feature shares: the steps, the button models, the
progress a screen shows, and reading members."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Pick, Press
from bot.clock import Clock
from bot.config import Settings
from storage.audit import AuditRepository
from storage.conversations import Conversation, ConversationRepository
from storage.db import Database
from storage.invites import InviteRepository
from storage.members import Member, MemberRepository, TechnicianProfile

log = logging.getLogger(__name__)

FLOW = "onboarding"
NAME_MAX = 64
SERVICE_MAX = 80
CAPACITY_RANGE = (1, 50)


class Step(StrEnum):
    NAME = "name"
    TERRITORY = "territory"
    THEMES = "themes"
    SERVICE = "service"
    TECH_TERRITORIES = "tech_territories"
    CAPACITY = "capacity"
    AMBASSADOR = "ambassador"
    GARDENER = "gardener"


class OnboardingAction(StrEnum):
    ACCEPT = "yes"
    REFUSE = "no"
    KEEP_NAME = "keep"
    TERRITORY = "terr"
    TOGGLE = "tog"
    CONFIRM = "ok"
    YES_NO = "yn"


@dataclass(frozen=True)
class OnboardingPress(Press):
    """A press during onboarding: consent, then one step at a time."""

    PREFIX: ClassVar[str] = "ob"
    LAYOUT: ClassVar[Layout] = {
        OnboardingAction.ACCEPT: "start?",
        OnboardingAction.TERRITORY: "territory",
        OnboardingAction.TOGGLE: "step index",
        OnboardingAction.CONFIRM: "step",
        OnboardingAction.YES_NO: "step yes",
    }
    action: OnboardingAction
    start: str = ""
    """The /start payload (an invite or a referral), kept until consent is given."""
    territory: int | Pick = Pick.OTHER
    step: Step = Step.NAME
    index: int = 0
    yes: bool = False


class ProfileAction(StrEnum):
    EDIT = "edit"
    FLAG = "flag"
    LANGUAGE_MENU = "lang"
    SET_LANGUAGE = "setlang"


@dataclass(frozen=True)
class ProfilePress(Press):
    PREFIX: ClassVar[str] = "pf"
    LAYOUT: ClassVar[Layout] = {
        ProfileAction.EDIT: "step",
        ProfileAction.FLAG: "step",
        ProfileAction.SET_LANGUAGE: "language",
    }
    action: ProfileAction
    step: Step = Step.NAME
    language: str = ""


class StartArg(StrEnum):
    REFERRAL = "r"
    TECHNICIAN = "t"
    COORDINATOR = "c"


class InviteOutcome(StrEnum):
    NONE = "none"
    ACCEPTED = "accepted"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    ALREADY = "already"


@dataclass
class Progress:
    """What the member should see next: an error to fix, the next step, or the end."""

    member: Member
    step: Step | None
    error: str | None = None
    editing: bool = False
    selected: list[str] = field(default_factory=list)
    invite: InviteOutcome = InviteOutcome.NONE
    kept_text: str | None = None


def parse_start_arg(arg: str | None) -> tuple[StartArg, str] | None:
    """`r-<code>` (a referral), `t-<code>` and `c-<code>` (invites); anything else is ignored."""
    if not arg or len(arg) > 64 or "-" not in arg:
        return None
    kind, _, code = arg.partition("-")
    if not code.isalnum():
        return None
    try:
        return StartArg(kind), code
    except ValueError:
        return None


class MemberBase:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.member_repo = MemberRepository(db)
        self.invites = InviteRepository(db)
        self.conversations = ConversationRepository(db)
        self.audit = AuditRepository(db)

    async def get(self, telegram_id: int) -> Member | None:
        member = await self.member_repo.get(telegram_id)
        if member is not None and telegram_id in self.settings.coordinators:
            member.is_coordinator = True
        return member

    async def conversation(self, telegram_id: int) -> Conversation | None:
        return await self.conversations.get(telegram_id)

    async def is_coordinator(self, telegram_id: int) -> bool:
        member = await self.get(telegram_id)
        return member is not None and member.is_coordinator and member.status != "blocked"

    async def coordinator_ids(self) -> list[int]:
        ids = set(await self.member_repo.coordinator_ids())
        known = await self.member_repo.get_many(self.settings.coordinators)
        ids.update(i for i, m in known.items() if m.status != "blocked")
        return sorted(ids)

    async def referrals(self, telegram_id: int) -> int:
        return await self.member_repo.count_referrals(telegram_id)

    async def technician(self, telegram_id: int) -> TechnicianProfile | None:
        return await self.member_repo.technician(telegram_id)

    async def _must_get(self, telegram_id: int) -> Member:
        member = await self.get(telegram_id)
        if member is None:
            raise LookupError(telegram_id)
        return member

    async def mark_blocked(self, chat_ids: list[int]) -> None:
        await self.member_repo.mark_blocked(chat_ids)
