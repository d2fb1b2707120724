"""Browsing published initiatives, their detail, supports and participation, and the
authors' digest of new supporters."""

from __future__ import annotations

from datetime import timedelta

from bot.services.initiative_base import (
    FINAL_STAGES,
    PAGE_SIZE,
    BrowsePage,
    Detail,
    InitiativeAction,
    InitiativeBase,
    InitiativePress,
    Outcome,
    next_stages,
)
from bot.services.outbox import Button, NewDelivery, Payload
from storage.initiatives import SupportKind


class InitiativeBrowsing(InitiativeBase):
    async def browse(self, territory: str | None, theme: str | None, page: int) -> BrowsePage:
        page = max(page, 0)
        items, total = await self.repo.published(territory, theme, page * PAGE_SIZE, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        if page >= pages and total:
            return await self.browse(territory, theme, pages - 1)
        return BrowsePage(items, total, page, pages)

    async def detail(self, viewer_id: int, initiative_id: int) -> Detail | None:
        """An initiative as this viewer may see it: published ones, or their own."""
        item = await self.repo.get(initiative_id)
        viewer = await self.members.get(viewer_id)
        if item is None or viewer is None:
            return None
        is_author = item.author_id == viewer_id
        is_coordinator = viewer.is_coordinator and viewer.status != "blocked"
        if item.status != "published" and not (is_author or is_coordinator):
            return None
        return Detail(
            initiative=item,
            mine=await self.repo.supports_of(initiative_id, viewer_id),
            is_author=is_author,
            is_coordinator=is_coordinator,
            next_stages=next_stages(item.stage) if item.status == "published" else [],
        )

    async def toggle_support(
        self, member_id: int, initiative_id: int, kind: SupportKind
    ) -> Detail | None:
        """Je soutiens / Je veux participer: pressing again takes it back; never duplicates."""
        async with self.db.transaction():
            if await self._member(member_id) is None:
                return None
            found = await self.detail(member_id, initiative_id)
            if found is None or found.initiative.status != "published":
                return None
            if found.is_author:
                found.outcome = Outcome.DENIED
                return found
            if found.initiative.stage in FINAL_STAGES:
                found.outcome = Outcome.STALE
                return found
            if kind in found.mine:
                await self.repo.remove_support(initiative_id, member_id, kind)
            else:
                await self.repo.add_support(initiative_id, member_id, kind, self.clock.now())
            return await self.detail(member_id, initiative_id)

    async def send_digests(self) -> None:
        """Sweeper: authors hear about new supporters at most once per digest window."""
        now = self.clock.now()
        window = timedelta(hours=self.settings.initiatives.digest_hours)
        async with self.db.transaction():
            due = await self.repo.digests_due(now - window)
            if not due:
                return
            authors = await self.member_repo.get_many(d.author_id for d in due)
            deliveries = []
            for item in due:
                author = authors.get(item.author_id)
                if author is None:
                    continue
                lang = author.language
                text = self.texts.get(
                    lang,
                    "initiatives.digest",
                    title=item.title,
                    news=self.texts.counts(
                        lang,
                        ("initiatives.digest.supporters", item.supporters),
                        ("initiatives.digest.participants", item.participants),
                    ),
                )
                deliveries.append(
                    NewDelivery(
                        chat_id=item.author_id,
                        kind="initiative.digest",
                        ref_id=item.initiative_id,
                        payload=Payload(
                            text=text,
                            buttons=[
                                [
                                    Button(
                                        text=self._label(lang, "initiatives.button.open"),
                                        data=InitiativePress(
                                            InitiativeAction.OPEN, initiative_id=item.initiative_id
                                        ).pack(),
                                    )
                                ]
                            ],
                        ),
                    )
                )
            await self.outbox.enqueue(deliveries)
            await self.repo.mark_digested([d.initiative_id for d in due], now)
