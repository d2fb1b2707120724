"""The member's /signaler draft: kind, urgency, territory, description, location, photo.

The draft lives in the conversations table (flow "report"), so it survives a restart. Sending
it creates the report and clears the draft in one transaction: a double tap on "Envoyer"
finds no draft the second time and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.inputs import Problem, check, echo
from bot.services.base import FeatureService
from storage.members import OTHER_TERRITORY
from storage.reports import KINDS, Kind, NewReport

FLOW = "report"
DESCRIPTION_MAX = 600


class Step(StrEnum):
    KIND = "kind"
    URGENCY = "urgency"
    TERRITORY = "territory"
    DESCRIPTION = "description"
    LOCATION = "location"
    PHOTO = "photo"
    PREVIEW = "preview"


ORDER = [
    Step.KIND,
    Step.URGENCY,
    Step.TERRITORY,
    Step.DESCRIPTION,
    Step.LOCATION,
    Step.PHOTO,
    Step.PREVIEW,
]
EDITABLE = (Step.KIND, Step.URGENCY, Step.TERRITORY, Step.DESCRIPTION)


@dataclass
class DraftView:
    step: Step
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    limit: int = 0
    kept_text: str | None = None


@dataclass
class Submitted:
    report_id: int
    urgent: bool


class ReportDrafts(FeatureService):
    """Given a `submit` callback by the report service, which owns what sending means."""

    async def _member_ok(self, member_id: int) -> bool:
        from storage.members import MemberRepository

        member = await MemberRepository(self.db).get(member_id)
        return member is not None and member.onboarded_at is not None

    async def start(self, member_id: int) -> DraftView | None:
        """/signaler: resume a draft in progress, or start one."""
        async with self.db.transaction():
            if not await self._member_ok(member_id):
                return None
            found = await self.draft(member_id)
            if found is not None:
                return found
            await self.conversations.save(member_id, FLOW, Step.KIND, {}, self.clock.now())
            return DraftView(Step.KIND)

    async def draft(self, member_id: int) -> DraftView | None:
        conv = await self.conversations.get(member_id, FLOW)
        if conv is None or conv.flow != FLOW:
            return None
        try:
            return DraftView(Step(conv.step), dict(conv.data))
        except ValueError:
            return None

    async def _at(self, member_id: int, step: Step) -> DraftView | None:
        view = await self.draft(member_id)
        if view is None or view.step is not step:
            return None
        return view

    async def _advance(self, member_id: int, view: DraftView) -> DraftView:
        """The next step, or back to the preview when the member was changing one answer."""
        if view.values.pop("editing", False):
            following = Step.PREVIEW
        else:
            following = ORDER[ORDER.index(view.step) + 1]
        await self.conversations.save(member_id, FLOW, following, view.values, self.clock.now())
        return DraftView(following, view.values)

    async def choose_kind(self, member_id: int, kind: str) -> DraftView | None:
        if kind not in KINDS:
            return None
        async with self.db.transaction():
            view = await self._at(member_id, Step.KIND)
            if view is None:
                return None
            view.values["kind"] = kind
            return await self._advance(member_id, view)

    async def choose_urgency(self, member_id: int, urgent: bool) -> DraftView | None:
        async with self.db.transaction():
            view = await self._at(member_id, Step.URGENCY)
            if view is None:
                return None
            view.values["urgent"] = urgent
            return await self._advance(member_id, view)

    async def choose_territory(self, member_id: int, index: int | None) -> DraftView | None:
        """`index` into the configured territories, or None for "autre / hors territoire"."""
        territories = self.settings.territories
        if index is not None and not 0 <= index < len(territories):
            return None
        async with self.db.transaction():
            view = await self._at(member_id, Step.TERRITORY)
            if view is None:
                return None
            view.values["territory"] = OTHER_TERRITORY if index is None else territories[index]
            return await self._advance(member_id, view)

    async def type_text(self, member_id: int, text: str) -> DraftView | None:
        """A typed message: the description; at any other step, the member is shown the way."""
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None:
                return None
            if view.step is not Step.DESCRIPTION:
                view.error = "reports.error.use_buttons"
                if view.step in (Step.LOCATION, Step.PHOTO):
                    view.error = f"reports.error.{view.step}_expected"
                return view
            checked = check(text, DESCRIPTION_MAX)
            if checked.problem is Problem.EMPTY:
                view.error = "reports.error.empty"
                return view
            if checked.problem is Problem.TOO_LONG:
                view.error = "reports.error.too_long"
                view.limit = DESCRIPTION_MAX
                view.kept_text = echo(checked.value)
                return view
            view.values["description"] = checked.value
            return await self._advance(member_id, view)

    async def give_location(
        self, member_id: int, latitude: float, longitude: float
    ) -> DraftView | None:
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None:
                return None
            if view.step is not Step.LOCATION:
                view.error = "reports.error.location_not_now"
                return view
            view.values["latitude"] = latitude
            view.values["longitude"] = longitude
            return await self._advance(member_id, view)

    async def give_photo(self, member_id: int, file_id: str) -> DraftView | None:
        async with self.db.transaction():
            view = await self.draft(member_id)
            if view is None:
                return None
            if view.step is not Step.PHOTO:
                view.error = "reports.error.photo_not_now"
                return view
            view.values["photo"] = file_id
            return await self._advance(member_id, view)

    async def skip(self, member_id: int, step: Step) -> DraftView | None:
        """ "Passer" on the optional location and photo steps."""
        if step not in (Step.LOCATION, Step.PHOTO):
            return None
        async with self.db.transaction():
            view = await self._at(member_id, step)
            if view is None:
                return None
            return await self._advance(member_id, view)

    async def edit(self, member_id: int, step: Step) -> DraftView | None:
        """From the preview: change one answer, then come back to the preview."""
        if step not in EDITABLE:
            return None
        async with self.db.transaction():
            view = await self._at(member_id, Step.PREVIEW)
            if view is None:
                return None
            view.values["editing"] = True
            await self.conversations.save(member_id, FLOW, step, view.values, self.clock.now())
            return DraftView(step, view.values)

    async def cancel(self, member_id: int) -> bool:
        async with self.db.transaction():
            if await self.draft(member_id) is None:
                return False
            await self.conversations.clear(member_id, FLOW)
            return True

    async def take_finished(self, member_id: int) -> NewReport | None:
        """Inside the caller's transaction: the finished draft as a report, draft cleared."""
        view = await self._at(member_id, Step.PREVIEW)
        if view is None or not _complete(view.values):
            return None
        await self.conversations.clear(member_id, FLOW)
        values = view.values
        kind: Kind = values["kind"]
        return NewReport(
            reporter_id=member_id,
            kind=kind,
            urgent=bool(values["urgent"]),
            territory=str(values["territory"]),
            description=str(values["description"]),
            latitude=values.get("latitude"),
            longitude=values.get("longitude"),
            photo=values.get("photo"),
        )


def _complete(values: dict[str, Any]) -> bool:
    return all(key in values for key in ("kind", "urgent", "territory", "description"))
