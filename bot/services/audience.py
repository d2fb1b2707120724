"""Who receives a broadcast: the audience rule and the draft steps that choose it.

A draft (a call's, a consultation's) keeps its audience in its own data as three lists,
`territories`, `themes` and `roles`, and walks the steps TERRITORIES -> THEMES -> ROLES with
the shared checklist: tick one or more, then confirm, or take everyone at once. The rule
reads those lists back as an `Audience` and asks storage for the recipients and their exact
count. Nothing here knows which feature it serves: a new kind of broadcast reuses it as is.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.config import Settings
from bot.services.checklist import toggle_at
from storage.audience import ROLES, Audience, AudienceRepository, Recipient
from storage.db import Database


class AudienceStep(StrEnum):
    TERRITORIES = "territories"
    THEMES = "themes"
    ROLES = "roles"


STEPS = tuple(AudienceStep)
FIRST = AudienceStep.TERRITORIES


@dataclass(frozen=True)
class StepResult:
    """The audience step to show next (None once the audience is chosen), and an error to
    show with it."""

    next: AudienceStep | None
    error: str | None = None


def _after(step: AudienceStep) -> AudienceStep | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


class AudienceService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.settings = settings
        self.repo = AudienceRepository(db)

    def options(self, step: AudienceStep) -> list[str]:
        if step is AudienceStep.TERRITORIES:
            return list(self.settings.territories)
        if step is AudienceStep.THEMES:
            return list(self.settings.themes)
        return list(ROLES)

    # --- the draft steps, on the draft's data ----------------------------------------------

    @staticmethod
    def start(data: MutableMapping[str, Any]) -> AudienceStep:
        for step in STEPS:
            data[step.value] = []
        return FIRST

    @staticmethod
    def chosen(data: MutableMapping[str, Any], step: AudienceStep) -> list[str]:
        value = data.get(step.value)
        return [str(v) for v in value] if isinstance(value, list) else []

    def toggle(
        self, data: MutableMapping[str, Any], step: AudienceStep, index: object
    ) -> StepResult | None:
        """Tick or untick one option; None when the index is not one the screen showed."""
        selected = toggle_at(self.chosen(data, step), self.options(step), index)
        if selected is None:
            return None
        data[step.value] = selected
        return StepResult(step)

    @staticmethod
    def select_all(data: MutableMapping[str, Any], step: AudienceStep) -> StepResult:
        """Everyone for this step (every territory, theme or role): on to the next one."""
        data[step.value] = []
        return StepResult(_after(step))

    def confirm(self, data: MutableMapping[str, Any], step: AudienceStep) -> StepResult:
        if not self.chosen(data, step):
            return StepResult(step, "audience.error.select_one")
        return StepResult(_after(step))

    def audience(self, data: MutableMapping[str, Any]) -> Audience:
        """The audience a draft chose. Names stay as chosen even if the configuration drops
        one later (it then matches nobody: an audience never widens by itself). Drafts
        written before roles existed said `ambassadors_only` instead."""
        roles = self.chosen(data, AudienceStep.ROLES)
        if not roles and data.get("ambassadors_only"):
            roles = ["ambassador"]
        return Audience(
            territories=self.chosen(data, AudienceStep.TERRITORIES),
            themes=self.chosen(data, AudienceStep.THEMES),
            roles=[r for r in ROLES if r in roles],
        )

    # --- who ---------------------------------------------------------------------------

    async def count(self, audience: Audience, sender: int = 0) -> int:
        """Exactly how many members would receive it now (paused and blocked ones excluded)."""
        return await self.repo.count(audience, sender)

    async def recipients(self, audience: Audience, sender: int = 0) -> list[Recipient]:
        return await self.repo.members(audience, sender)
