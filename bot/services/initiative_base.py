"""What every part of the initiatives feature shares: steps, outcomes, views, the button
models, and the texts screens and notices have in common (cards, labels)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar

from bot.callbacks import Layout, Pick, Press
from bot.clock import Clock
from bot.config import Settings
from bot.services.base import FeatureService
from bot.services.members import MemberService
from bot.services.outbox import Button, OutboxService
from bot.texts import Texts
from storage.db import Database
from storage.initiatives import Initiative, InitiativeRepository
from storage.members import OTHER_TERRITORY, Member, MemberRepository

log = logging.getLogger(__name__)

PREFIX = "ini"
FLOW = "proposal"
MOD_FLOW = "ini_mod"
TITLE_MAX = 80
DESCRIPTION_MAX = 600
MESSAGE_MAX = 600
PAGE_SIZE = 5
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


class InitiativeBase(FeatureService):
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
        self.on_published: list[Callable[[int, int | None], Awaitable[object]]] = []
        """Run inside the publishing transaction with (initiative id, author id)."""

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

    async def author_names(self, items: list[Initiative]) -> dict[int, str]:
        """Display names of the authors (an erased author has none)."""
        ids = [i.author_id for i in items if i.author_id is not None]
        return {k: m.display_name for k, m in (await self.member_repo.get_many(ids)).items()}

    @staticmethod
    def revised(item: Initiative) -> bool:
        """Sent back for changes, then submitted again: a moderator already looked at it."""
        return item.status == "pending" and item.moderator_id is not None

    def moderation_card(self, lang: str, item: Initiative, names: dict[int, str]) -> str:
        """The card a coordinator moderates: who proposed it, and whether it was revised."""
        text = self.card(lang, item)
        name = names.get(item.author_id) if item.author_id is not None else None
        if name is not None:
            text += "\n" + self.texts.get(lang, "initiatives.notice.author", name=name)
        if self.revised(item):
            text += "\n" + self.texts.get(lang, "initiatives.notice.revised")
        return text

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

    async def _member(self, member_id: int) -> Member | None:
        member = await self.members.get(member_id)
        if member is None or member.onboarded_at is None:
            return None
        return member
