"""The /proposer draft: one question at a time, a preview, edits, and the submission
(which the moderation announces); a member's own proposals."""

from __future__ import annotations

from typing import Any

from bot.inputs import check
from bot.services.checklist import toggle
from bot.services.initiative_base import (
    FLOW,
    LIMITS,
    NEEDS,
    ORDER,
    DraftView,
    OpenResult,
    Outcome,
    Step,
    SubmitResult,
)
from bot.services.initiative_moderation import InitiativeModeration
from storage.initiatives import Initiative
from storage.members import OTHER_TERRITORY


class InitiativeDrafts(InitiativeModeration):
    async def open_draft(self, member_id: int) -> OpenResult:
        """/proposer: resume a draft, or start one if the member may propose again."""
        limit = self.settings.initiatives.max_pending_per_member
        async with self.db.transaction():
            if await self._member(member_id) is None:
                return OpenResult(Outcome.DENIED)
            conv = await self.conversations.get(member_id, FLOW)
            if conv is not None and conv.flow == FLOW:
                return OpenResult(
                    Outcome.DONE, DraftView(Step(conv.step), conv.data), resumed=True
                )
            if await self.repo.count_pending(member_id) >= limit:
                return OpenResult(Outcome.TOO_MANY, limit=limit)
            await self.conversations.save(member_id, FLOW, Step.TITLE, {}, self.clock.now())
            return OpenResult(Outcome.DONE, DraftView(Step.TITLE, {}))

    async def draft(self, member_id: int) -> DraftView | None:
        conv = await self.conversations.get(member_id, FLOW)
        if conv is None or conv.flow != FLOW:
            return None
        return DraftView(Step(conv.step), conv.data)

    async def type_text(self, member_id: int, text: str) -> DraftView | None:
        """A typed answer: the title or the description; too long keeps it to be shortened."""
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None:
                return None
            limit = LIMITS.get(view.step)
            if limit is None:
                view.error = "initiatives.error.use_buttons"
                return view
            checked = check(text, limit)
            value = checked.value
            if not checked.ok:
                view.values[f"kept_{view.step}"] = value
                await self._save(member_id, view.step, view.values)
                view.error = f"initiatives.error.{view.step}_length"
                view.limit = limit
                view.kept_text = value
                return view
            view.values[str(view.step)] = value
            view.values.pop(f"kept_{view.step}", None)
            return await self._advance(member_id, view)

    async def choose(self, member_id: int, step: Step, index: int | None) -> DraftView | None:
        """Theme (an index into settings.themes) or territory (index, or None for autre)."""
        if step is Step.THEME:
            options = self.settings.themes
        elif step is Step.TERRITORY:
            options = self.settings.territories
        else:
            return None
        if index is None and step is Step.THEME:
            return None
        if index is not None and not 0 <= index < len(options):
            return None
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None or view.step is not step:
                return None
            view.values[str(step)] = OTHER_TERRITORY if index is None else options[index]
            return await self._advance(member_id, view)

    async def toggle_need(self, member_id: int, need: str) -> DraftView | None:
        if need not in NEEDS:
            return None
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None or view.step is not Step.NEEDS:
                return None
            view.values["needs"] = toggle(view.needs, NEEDS, need)
            await self._save(member_id, Step.NEEDS, view.values)
            return view

    async def confirm_needs(self, member_id: int) -> DraftView | None:
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None or view.step is not Step.NEEDS:
                return None
            if not view.needs:
                view.error = "initiatives.error.pick_need"
                return view
            return await self._advance(member_id, view)

    async def edit(self, member_id: int, step: Step) -> DraftView | None:
        """From the preview: change one answer, then come back to the preview."""
        if step is Step.PREVIEW:
            return None
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None or view.step is not Step.PREVIEW:
                return None
            view.values["editing"] = True
            await self._save(member_id, step, view.values)
            return DraftView(step, view.values)

    async def cancel_draft(self, member_id: int) -> bool:
        async with self.db.transaction():
            if await self.draft(member_id) is None:
                return False
            await self.conversations.clear(member_id, FLOW)
            return True

    async def _save(self, member_id: int, step: Step, values: dict[str, Any]) -> None:
        await self.conversations.save(member_id, FLOW, step, values, self.clock.now())

    async def _advance(self, member_id: int, view: DraftView) -> DraftView:
        if view.values.get("editing"):
            following = Step.PREVIEW
        else:
            following = ORDER[ORDER.index(view.step) + 1]
        if following is Step.PREVIEW:
            view.values.pop("editing", None)
        await self._save(member_id, following, view.values)
        return DraftView(following, view.values)

    async def reopen(self, member_id: int, initiative_id: int) -> DraftView | None:
        """After "changes asked": the proposal comes back as a draft to edit and resubmit.
        After a decline: a copy comes back as a new draft, to revise and propose again.
        A draft already in progress is never replaced: it is shown instead."""
        async with self.db.transaction():
            item = await self.repo.get(initiative_id)
            if item is None or item.author_id != member_id:
                return None
            if item.status not in ("changes", "declined") or await self._member(member_id) is None:
                return None
            current = await self.draft(member_id)
            if current is not None and current.values.get("initiative_id") != item.id:
                current.error = "initiatives.error.other_draft"
                return current
            values: dict[str, Any] = {
                "title": item.title,
                "description": item.description,
                "theme": item.theme,
                "territory": item.territory,
                "needs": item.needs,
            }
            if item.status == "changes":
                values["initiative_id"] = item.id
            await self._save(member_id, Step.PREVIEW, values)
            return DraftView(Step.PREVIEW, values)

    async def submit(self, member_id: int) -> SubmitResult:
        limit = self.settings.initiatives.max_pending_per_member
        now = self.clock.now()
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None or view.step is not Step.PREVIEW:
                return SubmitResult(Outcome.STALE)
            values = view.values
            if not all(values.get(k) for k in ("title", "description", "theme", "territory")):
                return SubmitResult(Outcome.INCOMPLETE)
            if await self.repo.count_pending(member_id) >= limit:
                return SubmitResult(Outcome.TOO_MANY, limit=limit)
            fields = {
                "title": values["title"],
                "description": values["description"],
                "theme": values["theme"],
                "territory": values["territory"],
                "needs": view.needs,
            }
            previous = values.get("initiative_id")
            if isinstance(previous, int):
                if not await self.repo.resubmit(previous, member_id, now=now, **fields):
                    await self.conversations.clear(member_id, FLOW)
                    return SubmitResult(Outcome.STALE)
                initiative_id = previous
            else:
                initiative_id = await self.repo.create(author_id=member_id, now=now, **fields)
            await self.conversations.clear(member_id, FLOW)
            await self._announce(now)
            return SubmitResult(Outcome.DONE, initiative_id)

    async def mine(self, member_id: int) -> list[Initiative]:
        return await self.repo.by_author(member_id)
