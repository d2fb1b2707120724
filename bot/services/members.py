"""Membership rules: consent, onboarding steps, roles, invites, profile, pause and language.

The onboarding state lives in the `conversations` table, so a member resumes where they were
after a restart; every step checks that the member really is at that step, so a stale or
forged button changes nothing.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Pick, Press
from bot.clock import Clock
from bot.config import Settings
from bot.inputs import check, clean, parse_int, utf16_cut, visible
from bot.services.checklist import option_at, toggle_at
from storage.audit import AuditRepository
from storage.conversations import Conversation, ConversationRepository
from storage.db import Database
from storage.invites import InviteRepository, InviteRole
from storage.members import Member, MemberRepository, TechnicianProfile

log = logging.getLogger(__name__)

FLOW = "onboarding"
NAME_MAX = 64
SERVICE_MAX = 80
CAPACITY_RANGE = (1, 50)
OTHER_TERRITORY = "autre"


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


class MemberService:
    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.members = MemberRepository(db)
        self.invites = InviteRepository(db)
        self.conversations = ConversationRepository(db)
        self.audit = AuditRepository(db)

    # --- reading -----------------------------------------------------------------------

    async def get(self, telegram_id: int) -> Member | None:
        member = await self.members.get(telegram_id)
        if member is not None and telegram_id in self.settings.coordinators:
            member.is_coordinator = True
        return member

    async def conversation(self, telegram_id: int) -> Conversation | None:
        return await self.conversations.get(telegram_id)

    async def is_coordinator(self, telegram_id: int) -> bool:
        member = await self.get(telegram_id)
        return member is not None and member.is_coordinator and member.status != "blocked"

    async def coordinator_ids(self) -> list[int]:
        ids = set(await self.members.coordinator_ids())
        known = await self.members.get_many(self.settings.coordinators)
        ids.update(i for i, m in known.items() if m.status != "blocked")
        return sorted(ids)

    async def referrals(self, telegram_id: int) -> int:
        return await self.members.count_referrals(telegram_id)

    async def technician(self, telegram_id: int) -> TechnicianProfile | None:
        return await self.members.technician(telegram_id)

    # --- consent -----------------------------------------------------------------------

    async def refuse_consent(self, telegram_id: int) -> None:
        """Only the id is kept, so the bot remembers not to ask again unprompted."""
        if await self.members.get(telegram_id) is None:
            await self.members.remember_refusal(telegram_id, self.clock.now())

    async def accept_consent(
        self,
        telegram_id: int,
        first_name: str,
        username: str | None,
        language: str,
        start_arg: str | None,
    ) -> Progress:
        now = self.clock.now()
        parsed = parse_start_arg(start_arg)
        async with self.db.transaction():
            existing = await self.get(telegram_id)
            if existing is not None:
                return await self._resume(existing)
            referrer = None
            if parsed and parsed[0] is StartArg.REFERRAL:
                found = await self.members.by_referral_code(parsed[1])
                referrer = found.telegram_id if found else None
            name = utf16_cut(clean(first_name), NAME_MAX)
            name = name if visible(name) else "?"
            await self.members.create(
                telegram_id=telegram_id,
                display_name=name,
                username=username,
                language=language,
                referral_code=secrets.token_hex(5),
                referred_by=referrer,
                now=now,
            )
            if telegram_id in self.settings.coordinators:
                await self.members.update(telegram_id, is_coordinator=True)
            outcome = InviteOutcome.NONE
            if parsed and parsed[0] is not StartArg.REFERRAL:
                outcome = await self._claim_invite(telegram_id, parsed[1])
            await self.conversations.save(telegram_id, FLOW, Step.NAME, {}, now)
            member = await self._must_get(telegram_id)
        log.info("member %d consented (invite: %s)", telegram_id, outcome.value)
        return Progress(member=member, step=Step.NAME, invite=outcome)

    # --- invites -----------------------------------------------------------------------

    async def create_invite(self, coordinator_id: int, role: InviteRole) -> str | None:
        """A single-use code; None if the caller is not a coordinator."""
        if not await self.is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        code = secrets.token_urlsafe(9).replace("-", "").replace("_", "")[:12]
        async with self.db.transaction():
            await self.invites.create(
                code, role, coordinator_id, now, now + timedelta(days=self.settings.invite_days)
            )
            await self.audit.record(coordinator_id, "invite.create", role, now)
        log.info("coordinator %d created a %s invite", coordinator_id, role)
        return code

    async def use_invite(self, telegram_id: int, start_arg: str) -> Progress | None:
        """An existing member opening an invite link; None if the argument is no invite."""
        parsed = parse_start_arg(start_arg)
        if parsed is None or parsed[0] is StartArg.REFERRAL:
            return None
        async with self.db.transaction():
            outcome = await self._claim_invite(telegram_id, parsed[1])
            member = await self._must_get(telegram_id)
            step = None
            if outcome is InviteOutcome.ACCEPTED and member.is_technician:
                step = Step.SERVICE
                await self.conversations.save(
                    telegram_id, FLOW, step, {"editing": False}, self.clock.now()
                )
        return Progress(member=member, step=step, invite=outcome)

    async def _claim_invite(self, telegram_id: int, code: str) -> InviteOutcome:
        invite = await self.invites.get(code)
        now = self.clock.now()
        if invite is None:
            return InviteOutcome.INVALID
        if invite.used_by == telegram_id:
            return InviteOutcome.ALREADY
        if invite.used_by is not None:
            return InviteOutcome.USED
        if invite.expires_at <= now:
            return InviteOutcome.EXPIRED
        if not await self.invites.claim(code, telegram_id, now):
            return InviteOutcome.USED
        if invite.role == "technician":
            await self.members.update(telegram_id, is_technician=True)
        else:
            await self.members.update(telegram_id, is_coordinator=True)
        await self.audit.record(invite.created_by, f"invite.used.{invite.role}", code, now)
        return InviteOutcome.ACCEPTED

    # --- steps -------------------------------------------------------------------------

    async def resume(self, telegram_id: int) -> Progress | None:
        member = await self.get(telegram_id)
        return None if member is None else await self._resume(member)

    async def _resume(self, member: Member) -> Progress:
        conv = await self.conversations.get(member.telegram_id, FLOW)
        if conv is None or conv.flow != FLOW:
            return Progress(member=member, step=None)
        return Progress(
            member=member,
            step=Step(conv.step),
            editing=bool(conv.data.get("editing")),
            selected=list(conv.data.get("selected", [])),
        )

    async def start_edit(self, telegram_id: int, step: Step) -> Progress | None:
        """/profil: change one answer; the member comes back to their profile afterwards."""
        member = await self.get(telegram_id)
        if member is None or member.onboarded_at is None:
            return None
        if step in (Step.SERVICE, Step.TECH_TERRITORIES, Step.CAPACITY) and not (
            member.is_technician
        ):
            return None
        selected: list[str] = []
        if step is Step.THEMES:
            selected = list(member.themes)
        if step is Step.TECH_TERRITORIES:
            profile = await self.members.technician(telegram_id)
            selected = list(profile.territories) if profile else []
        data = {"editing": True, "selected": selected}
        await self.conversations.save(telegram_id, FLOW, step, data, self.clock.now())
        return Progress(member=member, step=step, editing=True, selected=selected)

    async def _at_step(self, telegram_id: int, step: Step) -> tuple[Member, Conversation] | None:
        member = await self.get(telegram_id)
        conv = await self.conversations.get(telegram_id, FLOW)
        if member is None or conv is None or conv.flow != FLOW or conv.step != step:
            return None
        return member, conv

    async def submit_text(self, telegram_id: int, text: str) -> Progress | None:
        """Typed answer for the step the member is at; None when no typed answer is expected."""
        async with self.db.transaction():
            member = await self.get(telegram_id)
            conv = await self.conversations.get(telegram_id, FLOW)
            if member is None or conv is None or conv.flow != FLOW:
                return None
            step = Step(conv.step)
            if step is Step.NAME:
                name = check(text, NAME_MAX)
                if not name.ok:
                    return self._error(member, conv, "onboarding.error.name_length", name.value)
                await self.members.update(telegram_id, display_name=name.value)
            elif step is Step.SERVICE:
                service = check(text, SERVICE_MAX)
                if not service.ok:
                    key = "onboarding.error.service_length"
                    return self._error(member, conv, key, service.value)
                conv.data["service"] = service.value
            elif step is Step.CAPACITY:
                capacity = parse_int(text, *CAPACITY_RANGE)
                if capacity is None:
                    return self._error(member, conv, "onboarding.error.capacity", None)
                await self._save_capacity(telegram_id, conv, capacity)
            else:
                return self._error(member, conv, "onboarding.error.use_buttons", None)
            return await self._advance(telegram_id, conv)

    def _error(self, member: Member, conv: Conversation, key: str, kept: str | None) -> Progress:
        return Progress(
            member=member,
            step=Step(conv.step),
            error=key,
            editing=bool(conv.data.get("editing")),
            selected=list(conv.data.get("selected", [])),
            kept_text=kept,
        )

    async def keep_name(self, telegram_id: int) -> Progress | None:
        async with self.db.transaction():
            found = await self._at_step(telegram_id, Step.NAME)
            if found is None:
                return None
            return await self._advance(telegram_id, found[1])

    async def choose_territory(self, telegram_id: int, index: int | None) -> Progress | None:
        """`index` into the configured territories, or None for "autre / hors territoire"."""
        territories = self.settings.territories
        if index is not None and not 0 <= index < len(territories):
            return None
        async with self.db.transaction():
            found = await self._at_step(telegram_id, Step.TERRITORY)
            if found is None:
                return None
            territory = OTHER_TERRITORY if index is None else territories[index]
            await self.members.update(telegram_id, territory=territory)
            return await self._advance(telegram_id, found[1])

    async def toggle(self, telegram_id: int, step: Step, index: int) -> Progress | None:
        """Multi-select steps (themes, territories a technician covers)."""
        options = self._options(step)
        if options is None or option_at(options, index) is None:
            return None
        async with self.db.transaction():
            found = await self._at_step(telegram_id, step)
            if found is None:
                return None
            member, conv = found
            conv.data["selected"] = toggle_at(conv.data.get("selected", []), options, index)
            await self.conversations.save(telegram_id, FLOW, step, conv.data, self.clock.now())
            return Progress(
                member=member,
                step=step,
                editing=bool(conv.data.get("editing")),
                selected=conv.data["selected"],
            )

    def _options(self, step: Step) -> list[str] | None:
        if step is Step.THEMES:
            return self.settings.themes
        if step is Step.TECH_TERRITORIES:
            return self.settings.territories
        return None

    async def confirm_selection(self, telegram_id: int, step: Step) -> Progress | None:
        if self._options(step) is None:
            return None
        async with self.db.transaction():
            found = await self._at_step(telegram_id, step)
            if found is None:
                return None
            member, conv = found
            selected = list(conv.data.get("selected", []))
            if not selected:
                key = "onboarding.error.pick_one"
                return self._error(member, conv, key, None)
            if step is Step.THEMES:
                await self.members.set_themes(telegram_id, selected)
            else:
                conv.data["tech_territories"] = selected
                profile = await self.members.technician(telegram_id)
                if profile is not None:
                    await self.members.save_technician(
                        telegram_id, profile.service, profile.capacity, selected
                    )
            conv.data["selected"] = []
            return await self._advance(telegram_id, conv)

    async def answer_yes_no(self, telegram_id: int, step: Step, value: bool) -> Progress | None:
        if step not in (Step.AMBASSADOR, Step.GARDENER):
            return None
        async with self.db.transaction():
            found = await self._at_step(telegram_id, step)
            if found is None:
                return None
            if step is Step.AMBASSADOR:
                await self.members.update(telegram_id, is_ambassador=value)
            else:
                await self.members.update(telegram_id, is_citizen_gardener=value)
            return await self._advance(telegram_id, found[1])

    async def _save_capacity(self, telegram_id: int, conv: Conversation, capacity: int) -> None:
        profile = await self.members.technician(telegram_id)
        service = conv.data.get("service") or (profile.service if profile else "")
        territories = conv.data.get("tech_territories") or (profile.territories if profile else [])
        await self.members.save_technician(telegram_id, service, capacity, territories)

    async def _advance(self, telegram_id: int, conv: Conversation) -> Progress:
        """Store the answer's consequence and move to the next step (or back to /profil)."""
        now = self.clock.now()
        member = await self._must_get(telegram_id)
        editing = bool(conv.data.get("editing"))
        current = Step(conv.step)
        if current is Step.SERVICE and editing:
            profile = await self.members.technician(telegram_id)
            if profile is not None:
                await self.members.save_technician(
                    telegram_id, conv.data["service"], profile.capacity, profile.territories
                )
        following = None if editing else self._next(member, current)
        if following is None:
            await self.conversations.clear(telegram_id, FLOW)
            if member.onboarded_at is None:
                await self.members.update(telegram_id, onboarded_at=now)
            member = await self._must_get(telegram_id)
            return Progress(member=member, step=None, editing=editing)
        data = {k: v for k, v in conv.data.items() if k != "selected"}
        await self.conversations.save(telegram_id, FLOW, following, data, now)
        return Progress(member=member, step=following, editing=editing)

    @staticmethod
    def _next(member: Member, current: Step) -> Step | None:
        order = [Step.NAME, Step.TERRITORY, Step.THEMES]
        if member.is_technician:
            order += [Step.SERVICE, Step.TECH_TERRITORIES, Step.CAPACITY]
        elif not member.is_coordinator:
            order += [Step.AMBASSADOR, Step.GARDENER]
        if current not in order:
            return None
        position = order.index(current) + 1
        return order[position] if position < len(order) else None

    async def _must_get(self, telegram_id: int) -> Member:
        member = await self.get(telegram_id)
        if member is None:
            raise LookupError(telegram_id)
        return member

    # --- settings a member changes directly ---------------------------------------------

    async def set_paused(self, telegram_id: int, paused: bool) -> Member | None:
        async with self.db.transaction():
            member = await self.get(telegram_id)
            if member is None or member.onboarded_at is None:
                return None
            await self.members.set_status(telegram_id, "paused" if paused else "active")
            return await self._must_get(telegram_id)

    async def set_language(self, telegram_id: int, language: str) -> Member | None:
        if language not in ("fr", "en"):
            return None
        async with self.db.transaction():
            if await self.get(telegram_id) is None:
                return None
            await self.members.update(telegram_id, language=language)
            return await self._must_get(telegram_id)

    async def toggle_flag(self, telegram_id: int, flag: Step) -> Member | None:
        """/profil switches for the two opt-ins."""
        async with self.db.transaction():
            member = await self.get(telegram_id)
            if member is None or member.onboarded_at is None:
                return None
            if flag is Step.AMBASSADOR:
                await self.members.update(telegram_id, is_ambassador=not member.is_ambassador)
            elif flag is Step.GARDENER:
                await self.members.update(
                    telegram_id, is_citizen_gardener=not member.is_citizen_gardener
                )
            else:
                return None
            return await self._must_get(telegram_id)

    async def mark_blocked(self, chat_ids: list[int]) -> None:
        await self.members.mark_blocked(chat_ids)
