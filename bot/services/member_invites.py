"""Invites for technicians and coordinators: created by a coordinator, used once, on time."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press
from bot.services.member_base import (
    FLOW,
    InviteOutcome,
    MemberBase,
    Progress,
    StartArg,
    Step,
    log,
    parse_start_arg,
)
from storage.invites import InviteRole
from storage.replay import replayable


class InviteAction(StrEnum):
    CREATE = "new"


class InviteFor(StrEnum):
    TECHNICIAN = "t"
    COORDINATOR = "c"


INVITE_ROLES: dict[InviteFor, InviteRole] = {
    InviteFor.TECHNICIAN: "technician",
    InviteFor.COORDINATOR: "coordinator",
}


@dataclass(frozen=True)
class InvitePress(Press):
    """/inviter's buttons: which team the new link invites to (checked again on the server)."""

    PREFIX: ClassVar[str] = "inv"
    LAYOUT: ClassVar[Layout] = {InviteAction.CREATE: "role"}
    action: InviteAction
    role: InviteFor = InviteFor.TECHNICIAN


class MemberInvites(MemberBase):
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

    @replayable
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
            await self.member_repo.update(telegram_id, is_technician=True)
        else:
            await self.member_repo.update(telegram_id, is_coordinator=True)
        await self.audit.record(invite.created_by, f"invite.used.{invite.role}", code, now)
        return InviteOutcome.ACCEPTED
