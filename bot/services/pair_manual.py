"""Pairing by hand: when the matcher finds nobody for a citizen gardener, a coordinator
chooses the technician themself, seeing each one's load and capacity. The confirmation is the
matcher's own (`confirm_match`): same checks, same capacity count, same notices."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.pair_base import Confirmation, ConfirmOutcome
from bot.services.pair_proposals import PairProposals
from storage.members import Member

# Technicians shown on one page of buttons.
PAGE_SIZE = 8


@dataclass
class TechnicianChoice:
    technician: Member
    territories: list[str]
    capacity: int
    load: int
    shares_theme: bool

    @property
    def full(self) -> bool:
        return self.load >= self.capacity


@dataclass
class ManualChoices:
    """One page of technicians to choose from for one citizen gardener."""

    citizen: Member
    choices: list[TechnicianChoice]
    page: int
    pages: int


class PairManual(PairProposals):
    async def technician_choices(
        self, coordinator_id: int, citizen_id: int, page: int = 0
    ) -> ManualChoices | None:
        """The technicians a citizen without a pair could get: those with room first, those
        sharing a theme before the others, the lightest load first. None if it is too late
        (the citizen has a pair now, or left) or the person asking is not a coordinator."""
        if not await self._is_coordinator(coordinator_id):
            return None
        citizen = await self.member_repo.get(citizen_id)
        if (
            citizen is None
            or not citizen.is_citizen_gardener
            or citizen.status != "active"
            or await self.repo.active_citizen_pair(citizen_id) is not None
        ):
            return None
        rows = await self.repo.technicians()
        people = await self.member_repo.get_many([r.member_id for r in rows])
        choices = [
            TechnicianChoice(
                people[r.member_id],
                sorted(r.territories),
                r.capacity,
                r.load,
                bool(r.themes & set(citizen.themes)),
            )
            for r in rows
            if r.member_id in people
        ]
        choices.sort(key=lambda c: (c.full, not c.shares_theme, c.load, c.technician.display_name))
        pages = max(1, -(-len(choices) // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        shown = choices[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        return ManualChoices(citizen, shown, page, pages)

    async def confirm_manual(
        self, coordinator_id: int, citizen_id: int, technician_id: int
    ) -> Confirmation:
        """A double tap finds the citizen paired already: one pair, never two."""
        if not await self._is_coordinator(coordinator_id):
            return Confirmation(ConfirmOutcome.STALE)
        return await self.confirm_match(citizen_id, technician_id, by=coordinator_id)
