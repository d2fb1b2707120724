"""Moderation of proposals: the coordinators' notices and queue, publish, ask for changes or
decline with a message (the first decision wins, the author is told why)."""

from __future__ import annotations

from datetime import datetime

from bot.inputs import LIST_LIMIT, check, fit_lines
from bot.services.initiative_base import (
    MESSAGE_MAX,
    MOD_FLOW,
    NOTICE_INTERVAL,
    InitiativeAction,
    InitiativeBase,
    InitiativePress,
    ModerationAction,
    ModerationPress,
    ModKind,
    ModResult,
    Outcome,
    log,
)
from bot.services.outbox import Button, NewDelivery, Payload
from bot.texts import Raw
from storage.initiatives import Initiative, Status
from storage.replay import replayable


class InitiativeModeration(InitiativeBase):
    async def _announce(self, now: datetime) -> None:
        """Tell coordinators about new proposals: one notice, or one digest per window."""
        fresh = await self.repo.unannounced()
        if not fresh:
            return
        last = await self.repo.last_announced_at()
        if last is not None and now - last < NOTICE_INTERVAL:
            return
        coordinators = await self.members.coordinator_ids()
        known = await self.member_repo.get_many(coordinators)
        names = await self.author_names(fresh)

        def render(chat_id: int) -> Payload:
            member = known.get(chat_id)
            lang = member.language if member else self.settings.default_language
            if len(fresh) == 1:
                item = fresh[0]
                head = "revised_one" if self.revised(item) else "new_one"
                text = self.texts.get(lang, f"initiatives.notice.{head}") + "\n\n"
                text += self.moderation_card(lang, item, names)
                return Payload(text=text, buttons=self.moderation_buttons(lang, item.id))
            lines = [self._digest_line(lang, i, names) for i in fresh]
            shown, rest = fit_lines(lines, LIST_LIMIT)
            if rest:
                shown.append(self.texts.get(lang, "common.more", count=rest))
            titles = "\n".join(shown)
            text = self.texts.get(
                lang, "initiatives.notice.new_many", count=len(fresh), titles=Raw(titles)
            )
            button = Button(
                text=self._label(lang, "initiatives.button.queue"),
                data=ModerationPress(ModerationAction.QUEUE).pack(),
            )
            return Payload(text=text, buttons=[[button]])

        await self.outbox.notify(coordinators, "initiative.moderation", render)
        await self.repo.mark_announced([i.id for i in fresh], now)

    def _digest_line(self, lang: str, item: Initiative, names: dict[int, str]) -> str:
        name = names.get(item.author_id) if item.author_id is not None else None
        if name is None:
            return self.texts.get(lang, "initiatives.list_line", title=item.title)
        key = "list_line_revised" if self.revised(item) else "list_line_by"
        return self.texts.get(lang, f"initiatives.notice.{key}", title=item.title, name=name)

    async def announce_new_proposals(self) -> None:
        """Sweeper: the digest of proposals that arrived while the last notice was recent."""
        async with self.db.transaction():
            await self._announce(self.clock.now())

    async def queue(self, coordinator_id: int) -> list[Initiative] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        return await self.repo.pending()

    @replayable
    async def publish(self, coordinator_id: int, initiative_id: int) -> ModResult:
        async with self.db.transaction():
            if not await self.members.is_coordinator(coordinator_id):
                return ModResult(Outcome.DENIED)
            return await self._decide(coordinator_id, initiative_id, "published", None)

    @replayable
    async def begin_decision(
        self, coordinator_id: int, initiative_id: int, kind: ModKind
    ) -> ModResult:
        """Ask changes / decline: the coordinator is asked for the message to the author."""
        async with self.db.transaction():
            if not await self.members.is_coordinator(coordinator_id):
                return ModResult(Outcome.DENIED)
            item = await self.repo.get(initiative_id)
            if item is None:
                return ModResult(Outcome.STALE)
            if item.status != "pending":
                return ModResult(Outcome.ALREADY, item)
            await self.conversations.save(
                coordinator_id, MOD_FLOW, kind, {"initiative_id": initiative_id}, self.clock.now()
            )
            return ModResult(Outcome.DONE, item, kind)

    @replayable
    async def decision_text(self, coordinator_id: int, text: str) -> ModResult:
        """The coordinator's message (changes) or reason (decline), mandatory, then decide."""
        async with self.db.transaction():
            conv = await self.conversations.get(coordinator_id, MOD_FLOW)
            if conv is None or conv.flow != MOD_FLOW:
                return ModResult(Outcome.STALE)
            if not await self.members.is_coordinator(coordinator_id):
                await self.conversations.clear(coordinator_id, MOD_FLOW)
                return ModResult(Outcome.DENIED)
            kind = ModKind(conv.step)
            initiative_id = int(conv.data["initiative_id"])
            checked = check(text, MESSAGE_MAX)
            value = checked.value
            if not checked.ok:
                return ModResult(
                    Outcome.DONE,
                    await self.repo.get(initiative_id),
                    kind,
                    error="initiatives.error.message_length",
                    kept_text=value,
                )
            await self.conversations.clear(coordinator_id, MOD_FLOW)
            status: Status = "changes" if kind is ModKind.CHANGES else "declined"
            result = await self._decide(coordinator_id, initiative_id, status, value)
            result.kind = kind
            return result

    async def pending_decision(self, coordinator_id: int) -> ModResult | None:
        conv = await self.conversations.get(coordinator_id, MOD_FLOW)
        if conv is None or conv.flow != MOD_FLOW:
            return None
        item = await self.repo.get(int(conv.data["initiative_id"]))
        return ModResult(Outcome.DONE, item, ModKind(conv.step))

    async def cancel_decision(self, coordinator_id: int) -> bool:
        async with self.db.transaction():
            conv = await self.conversations.get(coordinator_id, MOD_FLOW)
            if conv is None or conv.flow != MOD_FLOW:
                return False
            await self.conversations.clear(coordinator_id, MOD_FLOW)
            return True

    async def _decide(
        self, coordinator_id: int, initiative_id: int, status: Status, message: str | None
    ) -> ModResult:
        now = self.clock.now()
        if not await self.repo.decide(initiative_id, status, coordinator_id, message, now):
            item = await self.repo.get(initiative_id)
            return ModResult(Outcome.ALREADY if item else Outcome.STALE, item)
        item = await self.repo.get(initiative_id)
        if item is None:
            raise LookupError(initiative_id)
        log.info("initiative %d %s by %d", initiative_id, status, coordinator_id)
        if status == "published":
            for hook in self.on_published:
                await hook(item.id, item.author_id)
        await self.audit.record(
            coordinator_id,
            f"initiative.{status}",
            str(initiative_id),
            now,
            {"message": message} if message else None,
        )
        if item.author_id is not None:
            author = await self.member_repo.get(item.author_id)
            lang = author.language if author else self.settings.default_language
            text = self.texts.get(
                lang, f"initiatives.outcome.{status}", title=item.title, message=message or ""
            )
            buttons: list[list[Button]] = []
            if status in ("changes", "declined"):
                label = self._label(lang, "initiatives.button.edit_resubmit")
                if status == "declined":
                    label = self._label(lang, "initiatives.button.revise")
                press = InitiativePress(InitiativeAction.REOPEN, initiative_id=item.id)
                buttons = [[Button(text=label, data=press.pack())]]
            await self.outbox.enqueue(
                [
                    NewDelivery(
                        chat_id=item.author_id,
                        kind="initiative.outcome",
                        ref_id=item.id,
                        priority=3,
                        payload=Payload(text=text, buttons=buttons),
                    )
                ]
            )
        return ModResult(Outcome.DONE, item)
