"""The audience steps' screens (territories, themes, roles), for any broadcast's draft.

The owner of the draft (/appel, /consulter) gives the callback data of each press, so these
screens know nothing of the feature they serve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.callbacks import Press
from bot.context import AppContext
from bot.services.audience import AudienceStep
from handlers.checklist import checklist_rows
from handlers.common import button, label, t
from storage.outbox import Rows

PROMPTS = {
    AudienceStep.TERRITORIES: "audience.ask.territories",
    AudienceStep.THEMES: "audience.ask.themes",
    AudienceStep.ROLES: "audience.ask.roles",
}
_EVERYONE = {
    AudienceStep.TERRITORIES: "audience.button.all_territories",
    AudienceStep.THEMES: "audience.button.all_themes",
    AudienceStep.ROLES: "audience.button.everyone",
}


def option_labels(context: AppContext, lang: str, step: AudienceStep) -> list[str]:
    options = context.services.audience.options(step)
    if step is AudienceStep.ROLES:
        return [label(context, lang, f"audience.role.{role}") for role in options]
    return options


def audience_screen(
    context: AppContext,
    lang: str,
    step: AudienceStep,
    data: Mapping[str, Any],
    press: Callable[[int | None], Press],
    confirm: Press,
) -> tuple[str, Rows]:
    """The question and its checklist; `press(index)` is the data of ticking an option,
    `press(None)` of taking everyone, `confirm` of the confirm button."""
    options = context.services.audience.options(step)
    chosen = set(data.get(step.value) or [])
    rows = checklist_rows(
        option_labels(context, lang, step), [o in chosen for o in options], press
    )
    rows.append([button(label(context, lang, _EVERYONE[step]), press(None))])
    rows.append([button(label(context, lang, "common.button.confirm"), confirm)])
    return t(context, lang, PROMPTS[step]), rows
