"""Onboarding: consent, then one question at a time (and /profil's edit of one answer)."""

from __future__ import annotations

import secrets

from bot.inputs import check, clean, parse_int, utf16_cut, visible
from bot.services.checklist import option_at, toggle_at
from bot.services.member_base import (
    CAPACITY_RANGE,
    FLOW,
    NAME_MAX,
    SERVICE_MAX,
    InviteOutcome,
    Progress,
    StartArg,
    Step,
    log,
    parse_start_arg,
)
from bot.services.member_invites import MemberInvites
from storage.conversations import Conversation
from storage.members import OTHER_TERRITORY, Member


class MemberOnboarding(MemberInvites):
    async def refuse_consent(self, telegram_id: int) -> None:
        """Only the id is kept, so the bot remembers not to ask again unprompted."""
        if await self.member_repo.get(telegram_id) is None:
            await self.member_repo.remember_refusal(telegram_id, self.clock.now())

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
                found = await self.member_repo.by_referral_code(parsed[1])
                referrer = found.telegram_id if found else None
            name = utf16_cut(clean(first_name), NAME_MAX)
            name = name if visible(name) else "?"
            await self.member_repo.create(
                telegram_id=telegram_id,
                display_name=name,
                username=username,
                language=language,
                referral_code=secrets.token_hex(5),
                referred_by=referrer,
                now=now,
            )
            if telegram_id in self.settings.coordinators:
                await self.member_repo.update(telegram_id, is_coordinator=True)
            outcome = InviteOutcome.NONE
            if parsed and parsed[0] is not StartArg.REFERRAL:
                outcome = await self._claim_invite(telegram_id, parsed[1])
            await self.conversations.save(telegram_id, FLOW, Step.NAME, {}, now)
            member = await self._must_get(telegram_id)
        log.info("member %d consented (invite: %s)", telegram_id, outcome.value)
        return Progress(member=member, step=Step.NAME, invite=outcome)

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
            profile = await self.member_repo.technician(telegram_id)
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
                await self.member_repo.update(telegram_id, display_name=name.value)
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
            await self.member_repo.update(telegram_id, territory=territory)
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
                await self.member_repo.set_themes(telegram_id, selected)
            else:
                conv.data["tech_territories"] = selected
                profile = await self.member_repo.technician(telegram_id)
                if profile is not None:
                    await self.member_repo.save_technician(
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
                await self.member_repo.update(telegram_id, is_ambassador=value)
            else:
                await self.member_repo.update(telegram_id, is_citizen_gardener=value)
            return await self._advance(telegram_id, found[1])

    async def _save_capacity(self, telegram_id: int, conv: Conversation, capacity: int) -> None:
        profile = await self.member_repo.technician(telegram_id)
        service = conv.data.get("service") or (profile.service if profile else "")
        territories = conv.data.get("tech_territories") or (profile.territories if profile else [])
        await self.member_repo.save_technician(telegram_id, service, capacity, territories)

    async def _advance(self, telegram_id: int, conv: Conversation) -> Progress:
        """Store the answer's consequence and move to the next step (or back to /profil)."""
        now = self.clock.now()
        member = await self._must_get(telegram_id)
        editing = bool(conv.data.get("editing"))
        current = Step(conv.step)
        if current is Step.SERVICE and editing:
            profile = await self.member_repo.technician(telegram_id)
            if profile is not None:
                await self.member_repo.save_technician(
                    telegram_id, conv.data["service"], profile.capacity, profile.territories
                )
        following = None if editing else self._next(member, current)
        if following is None:
            await self.conversations.clear(telegram_id, FLOW)
            if member.onboarded_at is None:
                await self.member_repo.update(telegram_id, onboarded_at=now)
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
