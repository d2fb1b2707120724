"""Stages of a published initiative: set by a coordinator or proposed by the author and
confirmed, told to the author and the participants; the gardener offer at consolidation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.services.initiative_base import (
    Detail,
    InitiativeAction,
    InitiativePress,
    Outcome,
    log,
)
from bot.services.initiative_browsing import InitiativeBrowsing
from bot.services.outbox import Button, Payload
from storage.initiatives import Initiative

CirclePeople = Callable[[int], Awaitable[tuple[list[int], list[int]]]]
"""An initiative's circle: (members who listen to it, members who muted it); ([], []) when
it has none. Set when circles are wired (bot/app.py)."""


class InitiativeStages(InitiativeBrowsing):
    circle_people: CirclePeople | None = None

    async def set_stage(self, actor_id: int, initiative_id: int, stage: str) -> Detail | None:
        """A coordinator moves the initiative on; the author and participants are told."""
        now = self.clock.now()
        async with self.db.transaction():
            if not await self.members.is_coordinator(actor_id):
                return None
            found = await self.detail(actor_id, initiative_id)
            if found is None or stage not in found.next_stages:
                return None
            item = found.initiative
            current = item.stage or ""
            if not await self.repo.set_stage(initiative_id, current, stage, now):
                return None
            log.info("initiative %d moved to %s by %d", initiative_id, stage, actor_id)
            await self.audit.record(
                actor_id,
                "initiative.stage",
                str(initiative_id),
                now,
                {"from": current, "to": stage},
            )
            await self._tell_stage(item, stage, actor_id)
            return await self.detail(actor_id, initiative_id)

    async def _tell_stage(self, item: Initiative, stage: str, actor_id: int) -> None:
        """The author and the participants are told; those in the initiative's circle are
        told once, as the circle (a muted circle tells nothing), not a second time as
        participants. The author keeps their own notice (it may offer a gardener)."""
        participants = await self.repo.participants(item.id)
        recipients = [i for i in dict.fromkeys([item.author_id, *participants]) if i is not None]
        listening, muted = await self.circle_people(item.id) if self.circle_people else ([], [])
        in_circle = (set(listening) | set(muted)) - {item.author_id}
        recipients = [i for i in recipients if i != actor_id and i not in in_circle]
        circle = [i for i in listening if i not in (actor_id, item.author_id)]
        recipients += circle
        known = await self.member_repo.get_many(recipients)
        offer = stage == "consolidation" and not await self.repo.gardener_requested(item.id)

        def render(chat_id: int) -> Payload:
            member = known.get(chat_id)
            lang = member.language if member else self.settings.default_language
            stage_text = self.stage_label(lang, stage)
            if chat_id == item.author_id:
                text = self.texts.get(
                    lang, "initiatives.stage_changed.author", title=item.title, stage=stage_text
                )
                if offer:
                    text += "\n\n" + self.texts.get(lang, "initiatives.gardener.offer")
                    yes = self._label(lang, "initiatives.button.gardener_yes")
                    no = self._label(lang, "initiatives.button.gardener_no")
                    return Payload(
                        text=text,
                        buttons=[
                            [
                                Button(
                                    text=yes,
                                    data=InitiativePress(
                                        InitiativeAction.GARDENER_YES, initiative_id=item.id
                                    ).pack(),
                                )
                            ],
                            [
                                Button(
                                    text=no,
                                    data=InitiativePress(
                                        InitiativeAction.GARDENER_NO, initiative_id=item.id
                                    ).pack(),
                                )
                            ],
                        ],
                    )
                return Payload(text=text)
            key = (
                "circle_news.stage_changed"
                if chat_id in circle
                else ("initiatives.stage_changed.participant")
            )
            return Payload(text=self.texts.get(lang, key, title=item.title, stage=stage_text))

        await self.outbox.notify(
            [r for r in recipients if r in known], "initiative.stage", render, ref_id=item.id
        )

    async def propose_stage(self, author_id: int, initiative_id: int, stage: str) -> Detail | None:
        """The author proposes the next stage with one tap; a coordinator confirms it."""
        async with self.db.transaction():
            found = await self.detail(author_id, initiative_id)
            if found is None or not found.is_author or stage not in found.next_stages:
                return None
            if found.initiative.proposed_stage == stage:
                return found
            await self.repo.set_proposed_stage(initiative_id, stage)
            item = found.initiative
            coordinators = [c for c in await self.members.coordinator_ids() if c != author_id]
            known = await self.member_repo.get_many(coordinators)

            def render(chat_id: int) -> Payload:
                member = known.get(chat_id)
                lang = member.language if member else self.settings.default_language
                text = self.texts.get(
                    lang,
                    "initiatives.notice.stage_proposed",
                    title=item.title,
                    stage=self.stage_label(lang, stage),
                )
                confirm = self._label(lang, "initiatives.button.confirm_stage")
                refuse = self._label(lang, "initiatives.button.refuse_stage")
                return Payload(
                    text=text,
                    buttons=[
                        [
                            Button(
                                text=confirm,
                                data=InitiativePress(
                                    InitiativeAction.SET_STAGE, initiative_id=item.id, stage=stage
                                ).pack(),
                            )
                        ],
                        [
                            Button(
                                text=refuse,
                                data=InitiativePress(
                                    InitiativeAction.REFUSE_STAGE, initiative_id=item.id
                                ).pack(),
                            )
                        ],
                    ],
                )

            await self.outbox.notify(coordinators, "initiative.stage_proposed", render)
            return await self.detail(author_id, initiative_id)

    async def refuse_stage(self, coordinator_id: int, initiative_id: int) -> Detail | None:
        """A coordinator turns down the author's proposed stage; the author is told."""
        async with self.db.transaction():
            if not await self.members.is_coordinator(coordinator_id):
                return None
            found = await self.detail(coordinator_id, initiative_id)
            if found is None or found.initiative.proposed_stage is None:
                return None
            item = found.initiative
            await self.repo.set_proposed_stage(initiative_id, None)
            await self.audit.record(
                coordinator_id,
                "initiative.stage_refused",
                str(initiative_id),
                self.clock.now(),
                {"proposed": item.proposed_stage},
            )
            if item.author_id is not None:
                author = await self.member_repo.get(item.author_id)
                lang = author.language if author else self.settings.default_language
                text = self.texts.get(
                    lang,
                    "initiatives.stage_refused",
                    title=item.title,
                    stage=self.stage_label(lang, item.proposed_stage),
                )
                await self.outbox.notify(
                    [item.author_id], "initiative.stage", lambda _: Payload(text=text)
                )
            return await self.detail(coordinator_id, initiative_id)

    async def answer_gardener(self, member_id: int, initiative_id: int, accept: bool) -> Outcome:
        """The consolidation offer: accepting makes the author a citizen gardener to pair."""
        async with self.db.transaction():
            item = await self.repo.get(initiative_id)
            if item is None or item.author_id != member_id or item.status != "published":
                return Outcome.STALE
            if item.stage not in ("consolidation", "concretisation"):
                return Outcome.STALE
            if await self.repo.gardener_requested(initiative_id):
                return Outcome.ALREADY
            if not accept:
                return Outcome.DONE
            await self.member_repo.update(member_id, is_citizen_gardener=True)
            await self.repo.request_gardener(member_id, initiative_id, self.clock.now())
            log.info("member %d asked a gardener for initiative %d", member_id, initiative_id)
            return Outcome.DONE
