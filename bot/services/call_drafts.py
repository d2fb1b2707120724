"""The coordinator's /appel draft (flow 2 of PRODUCT.md): text, place, date, audience, preview.

The draft lives in the `conversations` table (flow "call"), so it survives a restart; every
step re-checks the coordinator's role. Its audience steps are the shared ones of
`bot.services.audience`. It ends in `CallService.publish`: the draft is re-read, published
and cleared in one transaction, so a double tap on "Envoyer maintenant" (or on a schedule)
sends one call, and the second press finds no draft.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.dates import day_without_hour, parse_when
from bot.inputs import CAPTION_LIMIT, Problem, check, clean, parse_int, utf16_len
from bot.services.audience import AudienceService, AudienceStep
from bot.services.base import FeatureService
from bot.services.calls import CallService
from bot.services.outbox import OutboxService
from bot.texts import Texts, plain
from storage.calls import Call, NewCall
from storage.db import Database

FLOW = "call"
TEXT_MAX = 1000
PLACE_MAX = 200
NEEDED_RANGE = (1, 500)


class Step(StrEnum):
    TEXT = "text"
    PLACE = "place"
    WHEN = "when"
    NEEDED = "needed"
    DEADLINE = "deadline"
    TERRITORIES = AudienceStep.TERRITORIES.value
    THEMES = AudienceStep.THEMES.value
    ROLES = AudienceStep.ROLES.value
    PREVIEW = "preview"
    SCHEDULE = "schedule"


class DeadlinePreset(StrEnum):
    TWO_HOURS = "2h"
    EVE = "eve"


@dataclass
class DraftView:
    """What the coordinator should see next in the /appel flow."""

    step: Step | None
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_params: dict[str, Any] = field(default_factory=dict)
    kept_text: str | None = None
    preview: str | None = None
    photo: str | None = None
    recipients: int = 0
    call: Call | None = None


_BUTTON_STEPS = {Step.TERRITORIES, Step.THEMES, Step.ROLES, Step.PREVIEW}
AUDIENCE_STEPS = {Step.TERRITORIES, Step.THEMES, Step.ROLES}
_LEGACY_STEPS = {"audience": Step.ROLES}  # drafts saved before roles were a checklist


class CallDrafts(FeatureService):
    """Given the `CallService` it hands finished drafts to, and borrows its rendering from."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        calls: CallService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.calls = calls
        self.members = calls.members
        # Run inside the publishing transaction with the call's id and the draft's data
        # (a report turned into this call links itself to it).
        self.after_publish: list[Callable[[int, dict[str, Any]], Awaitable[None]]] = []
        self.audience: AudienceService = calls.audience

    async def start_draft(
        self, coordinator_id: int, prefill: dict[str, Any] | None = None
    ) -> DraftView | None:
        """A new draft; `prefill` holds answers known already (a report's territory).

        A draft in progress is never replaced (from /appel or from a report): it is shown
        again, with a word saying so; "Annuler" lets the coordinator start afresh."""
        if not await self.members.is_coordinator(coordinator_id):
            return None
        current = await self.draft(coordinator_id)
        if current is not None and current.data.get("text"):
            current.error = "flows.resumed.call"
            return current
        data: dict[str, Any] = {}
        self.audience.start(data)
        data.update(prefill or {})
        await self.conversations.save(coordinator_id, FLOW, Step.TEXT, data, self.clock.now())
        return DraftView(step=Step.TEXT, data=data)

    async def _draft(self, coordinator_id: int) -> tuple[Step, dict[str, Any]] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        conversation = await self.conversations.get(coordinator_id, FLOW)
        if conversation is None or conversation.flow != FLOW:
            return None
        try:
            step = _LEGACY_STEPS.get(conversation.step) or Step(conversation.step)
        except ValueError:
            return None
        return step, conversation.data

    async def _save(self, coordinator_id: int, step: Step, data: dict[str, Any]) -> DraftView:
        if step is Step.PREVIEW:
            too_long = await self._caption_error(coordinator_id, data)
            if too_long is not None:
                return too_long
        await self.conversations.save(coordinator_id, FLOW, step, data, self.clock.now())
        view = DraftView(step=step, data=data)
        if step is Step.PREVIEW:
            await self._fill_preview(view, coordinator_id)
        return view

    async def draft(self, coordinator_id: int) -> DraftView | None:
        """The current screen of the coordinator's draft (to resume it, after a restart or
        when another flow ends)."""
        found = await self._draft(coordinator_id)
        if found is None:
            return None
        view = DraftView(step=found[0], data=found[1])
        if view.step is Step.PREVIEW:
            await self._fill_preview(view, coordinator_id)
        return view

    def _error(
        self, step: Step, data: dict[str, Any], key: str, kept: str | None = None, **params: Any
    ) -> DraftView:
        return DraftView(step=step, data=data, error=key, error_params=params, kept_text=kept)

    async def draft_input(
        self, coordinator_id: int, text: str | None, photo: str | None = None
    ) -> DraftView | None:
        """A typed answer (or a photo with caption at the text step) for the current step.

        Every input gets an answer: at the preview, a typed text or a sticker shows the
        preview again under "use the buttons"."""
        view = await self._input(coordinator_id, text, photo)
        if view is not None and view.step is Step.PREVIEW and view.preview is None:
            await self._fill_preview(view, coordinator_id)
        return view

    async def _input(
        self, coordinator_id: int, text: str | None, photo: str | None
    ) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None:
            return None
        step, data = found
        now = self.clock.now()
        zone = self.settings.zone
        if step is Step.TEXT:
            body = check(text, TEXT_MAX)
            if body.problem is Problem.EMPTY:
                return self._error(step, data, "calls.error.text_expected")
            if not body.ok:
                return self._error(
                    step, data, "calls.error.text_length", body.value, limit=TEXT_MAX
                )
            data.update(text=body.value, photo=photo)
            return await self._save(coordinator_id, Step.PLACE, data)
        if text is None or photo is not None:
            key = "calls.error.use_buttons" if step in _BUTTON_STEPS else "common.text_expected"
            return self._error(step, data, key)
        text = clean(text)
        if step is Step.PLACE:
            place = check(text, PLACE_MAX)
            if not place.ok:
                key = "calls.error.place_length"
                return self._error(step, data, key, place.value, limit=PLACE_MAX)
            data["place"] = place.value
            return await self._save(coordinator_id, Step.WHEN, data)
        if step in (Step.WHEN, Step.DEADLINE, Step.SCHEDULE):
            when = parse_when(text, now, zone)
            if when is None:
                missing = day_without_hour(text, now, zone)
                key = "calls.error.date_no_hour" if missing else "calls.error.date_format"
                return self._error(step, data, key)
            return await self._set_time(coordinator_id, step, data, when)
        if step is Step.NEEDED:
            needed = parse_int(text, *NEEDED_RANGE)
            if needed is None:
                return self._error(
                    step,
                    data,
                    "calls.error.needed",
                    None,
                    low=NEEDED_RANGE[0],
                    high=NEEDED_RANGE[1],
                )
            data["needed"] = needed
            return await self._save(coordinator_id, Step.DEADLINE, data)
        return self._error(step, data, "calls.error.use_buttons")

    async def _set_time(
        self, coordinator_id: int, step: Step, data: dict[str, Any], when: datetime
    ) -> DraftView | None:
        now = self.clock.now()
        lang = await self._language(coordinator_id)
        if when <= now:
            return self._error(
                step, data, "calls.error.past", None, when=self.calls.local(when, lang)
            )
        if step is Step.WHEN:
            data["event_at"] = when.isoformat()
            return await self._save(coordinator_id, Step.NEEDED, data)
        event_at = datetime.fromisoformat(data["event_at"])
        if step is Step.DEADLINE:
            if when > event_at:
                when_text = self.calls.local(event_at, lang)
                return self._error(step, data, "calls.error.deadline_after", None, when=when_text)
            data["deadline_at"] = when.isoformat()
            return await self._save(coordinator_id, Step.TERRITORIES, data)
        deadline = datetime.fromisoformat(data["deadline_at"])
        if when >= deadline:
            return self._error(
                step,
                data,
                "calls.error.schedule_after",
                None,
                when=self.calls.local(deadline, lang),
            )
        return await self._send(coordinator_id, Step.SCHEDULE, scheduled_at=when)

    async def draft_deadline(
        self, coordinator_id: int, preset: DeadlinePreset
    ) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.DEADLINE:
            return None
        step, data = found
        event_at = datetime.fromisoformat(data["event_at"])
        if preset is DeadlinePreset.TWO_HOURS:
            when = event_at - timedelta(hours=2)
        else:
            local = event_at.astimezone(self.settings.zone)
            eve = datetime.combine(local.date() - timedelta(days=1), time(18, 0))
            when = eve.replace(tzinfo=self.settings.zone).astimezone(event_at.tzinfo)
        return await self._set_time(coordinator_id, step, data, when)

    def options(self, step: Step) -> list[str]:
        return self.audience.options(AudienceStep(step.value))

    async def draft_toggle(
        self, coordinator_id: int, step: Step, index: int | None
    ) -> DraftView | None:
        """Tick/untick one territory, theme or role; index None = everyone for this step."""
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not step or step not in AUDIENCE_STEPS:
            return None
        data = found[1]
        audience_step = AudienceStep(step.value)
        if index is None:
            moved = self.audience.select_all(data, audience_step)
        else:
            result = self.audience.toggle(data, audience_step, index)
            if result is None:
                return None
            moved = result
        return await self._save(coordinator_id, _after_audience(moved.next), data)

    async def draft_confirm(self, coordinator_id: int, step: Step) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not step or step not in AUDIENCE_STEPS:
            return None
        data = found[1]
        moved = self.audience.confirm(data, AudienceStep(step.value))
        if moved.error is not None:
            return self._error(step, data, moved.error)
        return await self._save(coordinator_id, _after_audience(moved.next), data)

    async def draft_audience(
        self, coordinator_id: int, ambassadors_only: bool
    ) -> DraftView | None:
        """The one-tap audience buttons of drafts started before roles were a checklist."""
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.ROLES:
            return None
        data = found[1]
        data[AudienceStep.ROLES.value] = ["ambassador"] if ambassadors_only else []
        return await self._save(coordinator_id, Step.PREVIEW, data)

    async def draft_schedule(self, coordinator_id: int) -> DraftView | None:
        found = await self._draft(coordinator_id)
        if found is None or found[0] is not Step.PREVIEW:
            return None
        return await self._save(coordinator_id, Step.SCHEDULE, found[1])

    async def cancel_draft(self, coordinator_id: int) -> bool:
        found = await self._draft(coordinator_id)
        if found is None:
            return False
        await self.conversations.clear(coordinator_id, FLOW)
        return True

    def _new_call(self, coordinator_id: int, data: dict[str, Any]) -> NewCall:
        audience = self.audience.audience(data)
        return NewCall(
            coordinator_id=coordinator_id,
            text=data["text"],
            photo=data.get("photo"),
            place=data["place"],
            event_at=datetime.fromisoformat(data["event_at"]),
            needed=int(data["needed"]),
            deadline_at=datetime.fromisoformat(data["deadline_at"]),
            territories=audience.territories,
            themes=audience.themes,
            ambassadors_only=audience.roles == ["ambassador"],
            roles=audience.roles,
        )

    async def _fill_preview(self, view: DraftView, coordinator_id: int) -> None:
        lang = await self._language(coordinator_id)
        call = self._new_call(coordinator_id, view.data)
        view.preview = self.calls.render_call(call, lang)
        view.photo = call.photo
        view.recipients = await self.calls.audience_size(call)

    async def send_now(self, coordinator_id: int) -> DraftView | None:
        return await self._send(coordinator_id, Step.PREVIEW, scheduled_at=None)

    async def _send(
        self, coordinator_id: int, expected: Step, scheduled_at: datetime | None
    ) -> DraftView | None:
        """Publish the draft and clear it in one transaction. The draft is read again inside
        it: a second press (a double tap, a second device) finds no draft and sends nothing."""
        now = self.clock.now()
        async with self.db.transaction():
            found = await self._draft(coordinator_id)
            if found is None or found[0] is not expected:
                return None
            data = found[1]
            call = self._new_call(coordinator_id, data)
            if call.event_at <= now or call.deadline_at <= now:
                # The draft waited too long (it survives restarts): ask the time again.
                step = Step.WHEN if call.event_at <= now else Step.DEADLINE
                await self.conversations.save(coordinator_id, FLOW, step, data, now)
                return self._error(step, data, f"calls.error.{step.value}_passed")
            too_long = await self._caption_error(coordinator_id, data)
            if too_long is not None:
                return too_long
            stored = await self.calls.publish(call, scheduled_at)
            await self.conversations.clear(coordinator_id, FLOW)
            for hook in self.after_publish:
                await hook(stored.id, data)
        return DraftView(step=None, data=data, call=stored)

    async def _caption_error(self, coordinator_id: int, data: dict[str, Any]) -> DraftView | None:
        """With a photo, the whole call (text, place, dates) is its caption, which Telegram
        limits to 1,024 UTF-16 units: past it, back to the text step, with the text to
        shorten and by how much."""
        if not data.get("photo"):
            return None
        lang = await self._language(coordinator_id)
        caption = self.calls.render_call(self._new_call(coordinator_id, data), lang)
        over = utf16_len(plain(caption)) - CAPTION_LIMIT
        if over <= 0:
            return None
        await self.conversations.save(coordinator_id, FLOW, Step.TEXT, data, self.clock.now())
        return self._error(Step.TEXT, data, "calls.error.caption_length", data["text"], count=over)

    async def _language(self, coordinator_id: int) -> str:
        member = await self.members.get(coordinator_id)
        return member.language if member else self.settings.default_language


def _after_audience(step: AudienceStep | None) -> Step:
    """The draft's step for where the audience steps lead: the next one, or the preview."""
    return Step.PREVIEW if step is None else Step(step.value)
