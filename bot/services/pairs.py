"""Gardener pairs (flow 4): matching, pairing notices, the private relay, check-ins, escalation.

The matcher itself is pure (`bot.services.matching`); this service feeds it from SQLite, keeps
what it proposed, and turns a confirmation into a pair inside one BEGIN IMMEDIATE transaction
that re-counts the technician's active pairs, so two coordinators confirming at once can never
push a technician over capacity.

Check-ins are driven by one sweeper reading `pairs.next_due_at` (indexed): SQLite is the
source of truth, so a restart loses nothing. A check-in only goes out inside the day window
(local time in `settings.zone`); one falling due at night waits for the next opening."""

from __future__ import annotations

from bot.services.pair_base import (
    ANSWER_HEALTH,
    ESCALATING,
    INTERVAL_CHOICES,
    NOTE_FLOW,
    NOTE_MAX,
    RELAY_CAPTION_MAX,
    RELAY_FLOW,
    RELAY_TEXT_MAX,
    REPLY_CODES,
    SWEEP_BATCH,
    AnswerResult,
    CheckinLine,
    CheckinReply,
    Confirmation,
    ConfirmOutcome,
    MatchView,
    NoteResult,
    Overview,
    PairAction,
    PairCard,
    PairPress,
    Peer,
    ProposalLine,
    RelayResult,
    UnmatchedLine,
    window_opening,
)
from bot.services.pair_follow_up import PairFollowUp
from bot.services.pair_manual import ManualChoices, PairManual, TechnicianChoice
from bot.services.pair_relay import PairRelay

__all__ = [
    "ANSWER_HEALTH",
    "ESCALATING",
    "INTERVAL_CHOICES",
    "NOTE_FLOW",
    "NOTE_MAX",
    "RELAY_CAPTION_MAX",
    "RELAY_FLOW",
    "RELAY_TEXT_MAX",
    "REPLY_CODES",
    "SWEEP_BATCH",
    "AnswerResult",
    "CheckinLine",
    "CheckinReply",
    "ConfirmOutcome",
    "Confirmation",
    "ManualChoices",
    "MatchView",
    "NoteResult",
    "Overview",
    "PairAction",
    "PairCard",
    "PairPress",
    "PairService",
    "Peer",
    "ProposalLine",
    "RelayResult",
    "TechnicianChoice",
    "UnmatchedLine",
    "window_opening",
]


class PairService(PairManual, PairRelay, PairFollowUp):
    """The pairs feature, one part per sub-feature module, joined; the sweeper drives them."""

    async def sweep(self) -> None:
        """The one periodic duty of this feature (registered in services.sweepers)."""
        for technician_id in await self.repo.with_blocked_technician():
            await self.release_member(technician_id)
        await self.auto_confirm()
        await self.send_due_checkins()
