"""Citizen initiatives: the proposal draft, moderation, browsing, supports and stages.

Redevabilité is the rule here: every proposer learns what happened to their proposal and
why, every stage change reaches the author and the participants, and every coordinator
decision lands in the audit log. Decisions are conditional UPDATEs, so when two coordinators
press at once the first one wins and the second is told it was already handled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from bot.callbacks import Layout, Pick, Press
from bot.clock import Clock
from bot.config import Settings
from bot.inputs import check
from bot.services.base import FeatureService
from bot.services.checklist import toggle
from bot.services.members import MemberService
from bot.services.outbox import Button, NewDelivery, OutboxService, Payload
from bot.texts import Raw, Texts
from storage.db import Database
from storage.initiatives import Initiative, InitiativeRepository, Status, SupportKind
from storage.members import Member, MemberRepository

log = logging.getLogger(__name__)

PREFIX = "ini"
FLOW = "proposal"
MOD_FLOW = "ini_mod"
TITLE_MAX = 80
DESCRIPTION_MAX = 600
MESSAGE_MAX = 600
PAGE_SIZE = 5
OTHER_TERRITORY = "autre"
NEEDS = ("people", "place", "equipment", "money", "knowhow")
STAGES = ("emergence", "consolidation", "concretisation", "realisee", "abandonnee")
NEXT_STAGE = {
    "emergence": "consolidation",
    "consolidation": "concretisation",
    "concretisation": "realisee",
}
FINAL_STAGES = ("realisee", "abandonnee")
# Coordinators hear about new proposals at most this often (the first one goes at once).
NOTICE_INTERVAL = timedelta(minutes=5)


class Step(StrEnum):
    TITLE = "title"
    DESCRIPTION = "description"
    THEME = "theme"
    TERRITORY = "territory"
    NEEDS = "needs"
    PREVIEW = "preview"


ORDER = [Step.TITLE, Step.DESCRIPTION, Step.THEME, Step.TERRITORY, Step.NEEDS, Step.PREVIEW]
LIMITS = {Step.TITLE: TITLE_MAX, Step.DESCRIPTION: DESCRIPTION_MAX}


class InitiativeAction(StrEnum):
    CANCEL_DRAFT = "cx"
    SUBMIT = "sub"
    EDIT = "ed"
    THEME = "th"
    TERRITORY = "te"
    NEED = "nd"
    NEEDS_DONE = "ndok"
    REOPEN = "rs"
    BROWSE = "br"
    FILTER_TERRITORY = "ft"
    FILTER_THEME = "fh"
    OPEN = "op"
    SUPPORT = "sup"
    PARTICIPATE = "par"
    PROPOSE_STAGE = "pst"
    SET_STAGE = "stg"
    REFUSE_STAGE = "nst"
    GARDENER_YES = "gy"
    GARDENER_NO = "gn"


_BACK = "territory? theme? page?"  # the list position a detail screen returns to


@dataclass(frozen=True)
class InitiativePress(Press):
    """A press on an initiative button: the draft, browsing, supports, stages, gardeners."""

    PREFIX: ClassVar[str] = PREFIX
    LAYOUT: ClassVar[Layout] = {
        InitiativeAction.EDIT: "step",
        InitiativeAction.THEME: "theme",
        InitiativeAction.TERRITORY: "territory",
        InitiativeAction.NEED: "need",
        InitiativeAction.REOPEN: "initiative_id",
        InitiativeAction.BROWSE: "territory theme page",
        InitiativeAction.FILTER_TERRITORY: "theme?",
        InitiativeAction.FILTER_THEME: "territory?",
        InitiativeAction.OPEN: "initiative_id " + _BACK,
        InitiativeAction.SUPPORT: "initiative_id " + _BACK,
        InitiativeAction.PARTICIPATE: "initiative_id " + _BACK,
        InitiativeAction.PROPOSE_STAGE: "initiative_id stage",
        InitiativeAction.SET_STAGE: "initiative_id stage",
        InitiativeAction.REFUSE_STAGE: "initiative_id",
        InitiativeAction.GARDENER_YES: "initiative_id",
        InitiativeAction.GARDENER_NO: "initiative_id",
    }
    action: InitiativeAction
    initiative_id: int = 0
    step: Step = Step.PREVIEW
    theme: int | Pick = Pick.ALL
    territory: int | Pick = Pick.ALL
    page: int = 0
    need: str = ""
    stage: str = ""


class ModerationAction(StrEnum):
    PUBLISH = "pub"
    ASK_CHANGES = "chg"
    DECLINE = "dec"
    QUEUE = "q"
    CANCEL = "mcx"


@dataclass(frozen=True)
class ModerationPress(Press):
    """A press in the coordinators' moderation queue (same prefix, its own actions)."""

    PREFIX: ClassVar[str] = PREFIX
    LAYOUT: ClassVar[Layout] = {
        ModerationAction.PUBLISH: "initiative_id",
        ModerationAction.ASK_CHANGES: "initiative_id",
        ModerationAction.DECLINE: "initiative_id",
        ModerationAction.QUEUE: "position?",
    }
    action: ModerationAction
    initiative_id: int = 0
    position: int = 0


class ModKind(StrEnum):
    CHANGES = "changes"
    DECLINE = "decline"


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"
    DENIED = "denied"
    STALE = "stale"
    TOO_MANY = "too_many"
    INCOMPLETE = "incomplete"


@dataclass
class DraftView:
    """Where a member is in their proposal, and what to tell them about their last input."""

    step: Step
    values: dict[str, Any]
    error: str | None = None
    limit: int = 0
    kept_text: str | None = None

    @property
    def needs(self) -> list[str]:
        return list(self.values.get("needs", []))


@dataclass
class OpenResult:
    outcome: Outcome
    draft: DraftView | None = None
    limit: int = 0
    resumed: bool = False


@dataclass
class SubmitResult:
    outcome: Outcome
    initiative_id: int | None = None
    limit: int = 0


@dataclass
class ModResult:
    """A moderation step: the outcome, the proposal, and an input error to show back."""

    outcome: Outcome
    initiative: Initiative | None = None
    kind: ModKind | None = None
    error: str | None = None
    kept_text: str | None = None


@dataclass
class BrowsePage:
    items: list[Initiative]
    total: int
    page: int
    pages: int


@dataclass
class Detail:
    initiative: Initiative
    mine: set[str] = field(default_factory=set)
    is_author: bool = False
    is_coordinator: bool = False
    next_stages: list[str] = field(default_factory=list)
    outcome: Outcome = Outcome.DONE


def next_stages(stage: str | None) -> list[str]:
    if stage is None or stage in FINAL_STAGES:
        return []
    following = NEXT_STAGE.get(stage)
    return ([following] if following else []) + ["abandonnee"]


class InitiativeService(FeatureService):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        texts: Texts,
        outbox: OutboxService,
        members: MemberService,
    ) -> None:
        super().__init__(db, settings, clock, texts, outbox)
        self.members = members
        self.repo = InitiativeRepository(db)
        self.member_repo = MemberRepository(db)

    # --- texts shared by screens and notices -------------------------------------------

    def territory_label(self, lang: str, territory: str) -> str:
        if territory == OTHER_TERRITORY:
            return self.texts.get(lang, "initiatives.territory.other")
        return territory

    def needs_label(self, lang: str, needs: list[str]) -> str:
        if not needs:
            return "—"
        return ", ".join(self.texts.get(lang, f"initiatives.need.{n}") for n in needs)

    def stage_label(self, lang: str, stage: str | None) -> str:
        return self.texts.get(lang, f"initiatives.stage.{stage or 'none'}")

    def card(self, lang: str, item: Initiative) -> str:
        """The full description of an initiative or proposal (HTML, member text escaped)."""
        return self.texts.get(
            lang,
            "initiatives.card",
            title=item.title,
            description=item.description,
            theme=item.theme,
            territory=self.territory_label(lang, item.territory),
            needs=self.needs_label(lang, item.needs),
        )

    def draft_card(self, lang: str, values: dict[str, Any]) -> str:
        return self.texts.get(
            lang,
            "initiatives.card",
            title=values.get("title", "—"),
            description=values.get("description", "—"),
            theme=values.get("theme", "—"),
            territory=self.territory_label(lang, values.get("territory", "—")),
            needs=self.needs_label(lang, list(values.get("needs", []))),
        )

    def moderation_buttons(self, lang: str, initiative_id: int) -> list[list[Button]]:
        def button(key: str, action: ModerationAction) -> Button:
            press = ModerationPress(action, initiative_id=initiative_id)
            return Button(text=self._label(lang, key), data=press.pack())

        return [
            [button("initiatives.button.publish", ModerationAction.PUBLISH)],
            [button("initiatives.button.ask_changes", ModerationAction.ASK_CHANGES)],
            [button("initiatives.button.decline", ModerationAction.DECLINE)],
        ]

    def _label(self, lang: str, key: str, **params: Any) -> str:
        from bot.texts import plain

        return plain(self.texts.get(lang, key, **params))

    # --- the proposal draft ------------------------------------------------------------

    async def _member(self, member_id: int) -> Member | None:
        member = await self.members.get(member_id)
        if member is None or member.onboarded_at is None:
            return None
        return member

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

    # --- moderation ----------------------------------------------------------------------

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

        def render(chat_id: int) -> Payload:
            member = known.get(chat_id)
            lang = member.language if member else self.settings.default_language
            if len(fresh) == 1:
                item = fresh[0]
                text = self.texts.get(lang, "initiatives.notice.new_one") + "\n\n"
                text += self.card(lang, item)
                return Payload(text=text, buttons=self.moderation_buttons(lang, item.id))
            titles = "\n".join(
                self.texts.get(lang, "initiatives.list_line", title=i.title) for i in fresh
            )
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

    async def announce_new_proposals(self) -> None:
        """Sweeper: the digest of proposals that arrived while the last notice was recent."""
        async with self.db.transaction():
            await self._announce(self.clock.now())

    async def queue(self, coordinator_id: int) -> list[Initiative] | None:
        if not await self.members.is_coordinator(coordinator_id):
            return None
        return await self.repo.pending()

    async def publish(self, coordinator_id: int, initiative_id: int) -> ModResult:
        async with self.db.transaction():
            if not await self.members.is_coordinator(coordinator_id):
                return ModResult(Outcome.DENIED)
            return await self._decide(coordinator_id, initiative_id, "published", None)

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

    # --- browsing and supporting -------------------------------------------------------

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

    # --- stages --------------------------------------------------------------------------

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
        participants = await self.repo.participants(item.id)
        recipients = [i for i in dict.fromkeys([item.author_id, *participants]) if i is not None]
        recipients = [i for i in recipients if i != actor_id]
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
            text = self.texts.get(
                lang, "initiatives.stage_changed.participant", title=item.title, stage=stage_text
            )
            return Payload(text=text)

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
