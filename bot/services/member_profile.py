"""/profil's switches, /langue and /pause: what a member changes about themselves."""

from __future__ import annotations

from bot.services.member_base import (
    MemberBase,
    Step,
)
from bot.texts import LANGUAGES
from storage.members import Member


class MemberProfile(MemberBase):
    async def set_paused(self, telegram_id: int, paused: bool) -> Member | None:
        async with self.db.transaction():
            member = await self.get(telegram_id)
            if member is None or member.onboarded_at is None:
                return None
            await self.member_repo.set_status(telegram_id, "paused" if paused else "active")
            return await self._must_get(telegram_id)

    async def set_language(self, telegram_id: int, language: str) -> Member | None:
        if language not in LANGUAGES:
            return None
        async with self.db.transaction():
            if await self.get(telegram_id) is None:
                return None
            await self.member_repo.update(telegram_id, language=language)
            return await self._must_get(telegram_id)

    async def toggle_flag(self, telegram_id: int, flag: Step) -> Member | None:
        """/profil switches for the two opt-ins."""
        async with self.db.transaction():
            member = await self.get(telegram_id)
            if member is None or member.onboarded_at is None:
                return None
            if flag is Step.AMBASSADOR:
                await self.member_repo.update(telegram_id, is_ambassador=not member.is_ambassador)
            elif flag is Step.GARDENER:
                await self.member_repo.update(
                    telegram_id, is_citizen_gardener=not member.is_citizen_gardener
                )
            else:
                return None
            return await self._must_get(telegram_id)
