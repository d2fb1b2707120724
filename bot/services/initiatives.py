"""Citizen initiatives: the proposal draft, moderation, browsing, supports and stages.

Redevabilité is the rule here: every proposer learns what happened to their proposal and
why, every stage change reaches the author and the participants, and every coordinator
decision lands in the audit log. Decisions are conditional UPDATEs, so when two coordinators
press at once the first one wins and the second is told it was already handled."""

from __future__ import annotations

from bot.services.initiative_base import (
    DESCRIPTION_MAX,
    FINAL_STAGES,
    FLOW,
    LIMITS,
    MESSAGE_MAX,
    MOD_FLOW,
    NEEDS,
    NEXT_STAGE,
    NOTICE_INTERVAL,
    ORDER,
    PAGE_SIZE,
    PREFIX,
    STAGES,
    TITLE_MAX,
    BrowsePage,
    Detail,
    DraftView,
    InitiativeAction,
    InitiativePress,
    ModerationAction,
    ModerationPress,
    ModKind,
    ModResult,
    OpenResult,
    Outcome,
    Step,
    SubmitResult,
    next_stages,
)
from bot.services.initiative_drafts import InitiativeDrafts
from bot.services.initiative_stages import InitiativeStages
from storage.members import OTHER_TERRITORY

__all__ = [
    "DESCRIPTION_MAX",
    "FINAL_STAGES",
    "FLOW",
    "LIMITS",
    "MESSAGE_MAX",
    "MOD_FLOW",
    "NEEDS",
    "NEXT_STAGE",
    "NOTICE_INTERVAL",
    "ORDER",
    "OTHER_TERRITORY",
    "PAGE_SIZE",
    "PREFIX",
    "STAGES",
    "TITLE_MAX",
    "BrowsePage",
    "Detail",
    "DraftView",
    "InitiativeAction",
    "InitiativePress",
    "InitiativeService",
    "ModKind",
    "ModResult",
    "ModerationAction",
    "ModerationPress",
    "OpenResult",
    "Outcome",
    "Step",
    "SubmitResult",
    "next_stages",
]


class InitiativeService(InitiativeDrafts, InitiativeStages):
    """The initiatives feature, one service per sub-feature module, joined."""
