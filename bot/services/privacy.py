"""RGPD: a member's data given back (/mesdonnees), erased (/oublier), and retention purges.

What is personal in each table, and what erasure does to it, is declared once in
storage/privacy_model.py; this service applies it. Erasure keeps what the community's figures
need, but nothing that points to the person: rows that count (deliveries, invites) keep a
random negative id instead of the Telegram id, answers and supports go but stay counted,
published initiatives stay without their author, the profile and everything else go.
Features with their own consequences (a pair to end, a partner to tell) register a hook that
runs inside the same transaction.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from bot.callbacks import Layout, Press
from bot.clock import Clock
from bot.config import Settings
from bot.services.outbox import OutboxService, Payload
from bot.texts import Texts
from storage.db import Database, to_db_time
from storage.members import Member, MemberRepository
from storage.outbox import OutboxRepository
from storage.privacy import PrivacyRepository
from storage.replay import replayable
from storage.retention import RetentionRepository

log = logging.getLogger(__name__)

EraseHook = Callable[[int], Awaitable[object]]


class PrivacyAction(StrEnum):
    ERASE = "erase"
    KEEP = "keep"


@dataclass(frozen=True)
class PrivacyPress(Press):
    """/oublier's confirmation: the button names whose data it erases (only they may press)."""

    PREFIX: ClassVar[str] = "priv"
    LAYOUT: ClassVar[Layout] = {PrivacyAction.ERASE: "member_id", PrivacyAction.KEEP: "member_id?"}
    action: PrivacyAction
    member_id: int = 0


@dataclass
class MyData:
    """What /mesdonnees gives back: the whole data, and each section's size for the summary."""

    member: Member
    data: dict[str, Any]
    sections: list[tuple[str, int]]


DAYS_PER_MONTH = 30.44
WARNING_NOTICE_DAYS = 30


def months(count: int) -> timedelta:
    return timedelta(days=round(count * DAYS_PER_MONTH))


class PrivacyService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        outbox: OutboxService,
        texts: Texts,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.outbox = outbox
        self.texts = texts
        self.repo = PrivacyRepository(db)
        self.member_repo = MemberRepository(db)
        self.deliveries = OutboxRepository(db)
        self.retention = RetentionRepository(db)
        self.before_erase: list[EraseHook] = []

    async def export(self, member_id: int, lang: str) -> MyData | None:
        """Everything stored about the member, as JSON-ready values in sections a person reads.

        Each section is named in the member's language (`privacy.section.<table>.<column>`),
        not by the table it comes from, and counted for the short summary sent with the file.
        """
        member = await self.member_repo.get(member_id)
        if member is None:
            return None
        text = self.texts.get
        data: dict[str, Any] = {
            text(lang, "privacy.data.generated_at"): self.clock.now()
            .astimezone(self.settings.zone)
            .strftime("%Y-%m-%d %H:%M"),
            text(lang, "privacy.data.organisation"): self.settings.organisation.name,
            text(lang, "privacy.data.contact"): self.settings.organisation.contact,
            text(lang, "privacy.data.profile"): member.model_dump(mode="json"),
        }
        sections: list[tuple[str, int]] = []
        for source, rows in (await self.repo.member_rows(member_id)).items():
            name = self.section_name(lang, source)
            while name in data:  # two sources named alike stay apart
                name += " +"
            data[name] = rows
            sections.append((name, len(rows)))
        return MyData(member=member, data=data, sections=sections)

    def section_name(self, lang: str, source: str) -> str:
        key = f"privacy.section.{source}"
        return self.texts.get(lang, key) if self.texts.has(key) else source

    @replayable
    async def erase(self, member_id: int) -> bool:
        """Erase the member; True if there was someone to erase."""
        anon_id = -secrets.randbelow(2**62) - 1
        async with self.db.transaction():
            if await self.member_repo.get(member_id) is None:
                return False
            for hook in self.before_erase:
                await hook(member_id)
            await self.deliveries.drop_for_chat(member_id)
            await self.repo.erase(member_id, anon_id)
        await self.db.after_erasure()
        log.info("member %d erased", member_id)
        return True

    async def retention_sweep(self) -> tuple[int, int]:
        """Warn members a month before their data expires; erase those warned and still away."""
        now = self.clock.now()
        period = months(self.settings.retention_months)
        warn_cutoff = to_db_time(now - period + timedelta(days=WARNING_NOTICE_DAYS))
        warned_before = to_db_time(now - timedelta(days=WARNING_NOTICE_DAYS - 2))
        expire_cutoff = to_db_time(now - period)
        to_warn = await self.retention.to_warn(warn_cutoff)
        if to_warn:
            await self._warn(to_warn, now)
        expired = await self.retention.to_erase(expire_cutoff, warned_before)
        for member_id in expired:
            await self.erase(member_id)
        return len(to_warn), len(expired)

    async def _warn(self, member_ids: list[int], now: datetime) -> None:
        found = await self.member_repo.get_many(member_ids)

        def render(chat_id: int) -> Payload:
            lang = found[chat_id].language if chat_id in found else self.texts.default
            return Payload(
                text=self.texts.get(lang, "privacy.retention_warning", count=WARNING_NOTICE_DAYS)
            )

        async with self.db.transaction():
            await self.retention.mark_warned(list(found), now)
            await self.outbox.notify(list(found), "retention", render)

    async def sweep(self) -> None:
        await self.retention_sweep()
