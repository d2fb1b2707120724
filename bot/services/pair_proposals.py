"""Matching proposals and confirmations: the matcher's proposals kept per batch, a
confirmation that re-counts the technician's pairs in one transaction, the pairing notices."""

from __future__ import annotations

from datetime import timedelta

from bot.services.matching import (
    CitizenCandidate,
    TechnicianCandidate,
    match,
)
from bot.services.outbox import Button, Payload
from bot.services.pair_base import (
    Confirmation,
    ConfirmOutcome,
    MatchView,
    PairAction,
    PairBase,
    PairPress,
    ProposalLine,
    UnmatchedLine,
    log,
)
from storage.members import Member
from storage.pairs import (
    ProposalStatus,
)
from storage.replay import replayable


class PairProposals(PairBase):
    async def propose(self, coordinator_id: int | None) -> MatchView | None:
        """Run the matcher and keep its proposals as a new batch; None if not a coordinator."""
        if coordinator_id is not None and not await self._is_coordinator(coordinator_id):
            return None
        now = self.clock.now()
        async with self.db.transaction():
            citizens = await self.repo.unpaired_citizens()
            technicians = await self.repo.technicians()
            result = match(
                [
                    CitizenCandidate(c.member_id, c.territory, c.themes, c.waiting_since)
                    for c in citizens
                ],
                [
                    TechnicianCandidate(t.member_id, t.territories, t.themes, t.capacity, t.load)
                    for t in technicians
                ],
            )
            batch = await self.repo.next_batch()
            await self.repo.add_proposals(
                batch,
                [
                    (p.citizen_id, p.technician_id, p.same_territory, p.shared_themes)
                    for p in result.proposals
                ],
                coordinator_id,
                now,
            )
        view = await self.batch_view(batch)
        people = await self.member_repo.get_many(u.citizen_id for u in result.unmatched)
        view.unmatched = [
            UnmatchedLine(people[u.citizen_id], u.reason)
            for u in result.unmatched
            if u.citizen_id in people
        ]
        return view

    async def batch_view(self, batch: int) -> MatchView:
        proposals = await self.repo.batch(batch)
        people = await self.member_repo.get_many(
            [p.citizen_id for p in proposals] + [p.technician_id for p in proposals]
        )
        lines = [
            ProposalLine(p, people[p.citizen_id], people[p.technician_id])
            for p in proposals
            if p.citizen_id in people and p.technician_id in people
        ]
        return MatchView(batch=batch, lines=lines)

    @replayable
    async def confirm_proposal(self, coordinator_id: int, proposal_id: int) -> Confirmation:
        if not await self._is_coordinator(coordinator_id):
            return Confirmation(ConfirmOutcome.STALE)
        async with self.db.transaction():
            return await self._confirm_proposal(proposal_id, coordinator_id)

    async def _confirm_proposal(self, proposal_id: int, by: int | None) -> Confirmation:
        proposal = await self.repo.proposal(proposal_id)
        if proposal is None or proposal.status != "proposed":
            return Confirmation(ConfirmOutcome.STALE)
        done = await self.confirm_match(proposal.citizen_id, proposal.technician_id, by=by)
        status: ProposalStatus = (
            "confirmed" if done.outcome is ConfirmOutcome.CREATED else "failed"
        )
        await self.repo.decide_proposal(proposal_id, status, self.clock.now())
        return done

    async def skip_proposal(self, coordinator_id: int, proposal_id: int) -> bool:
        if not await self._is_coordinator(coordinator_id):
            return False
        return await self.repo.decide_proposal(proposal_id, "skipped", self.clock.now())

    async def confirm_batch(self, coordinator_id: int, batch: int) -> list[Confirmation] | None:
        if not await self._is_coordinator(coordinator_id):
            return None
        results = []
        for proposal in await self.repo.batch(batch, "proposed"):
            async with self.db.transaction():
                results.append(await self._confirm_proposal(proposal.id, coordinator_id))
        return results

    @replayable
    async def confirm_match(
        self,
        citizen_id: int,
        technician_id: int,
        *,
        by: int | None = None,
        initiative_id: int | None = None,
    ) -> Confirmation:
        """Create the pair if the citizen has none and the technician has room; notify both.

        Runs in (or joins) one BEGIN IMMEDIATE transaction: the capacity count and the insert
        see the same state, whoever else is confirming.
        """
        now = self.clock.now()
        async with self.db.transaction():
            people = await self.member_repo.get_many([citizen_id, technician_id])
            citizen, tech = people.get(citizen_id), people.get(technician_id)
            if (
                citizen is None
                or tech is None
                or not citizen.is_citizen_gardener
                or citizen.status != "active"
                or citizen.onboarded_at is None
                or not tech.is_technician
                or tech.status != "active"
                or tech.onboarded_at is None
            ):
                return Confirmation(ConfirmOutcome.UNAVAILABLE)
            if await self.repo.active_citizen_pair(citizen_id) is not None:
                return Confirmation(ConfirmOutcome.CITIZEN_PAIRED)
            capacity = await self.repo.capacity_of(technician_id)
            if capacity is None:
                return Confirmation(ConfirmOutcome.UNAVAILABLE)
            if await self.repo.load_of(technician_id) >= capacity:
                return Confirmation(ConfirmOutcome.FULL)
            if initiative_id is None:
                initiative_id = await self.repo.requested_initiative(citizen_id)
            title = await self.repo.initiative_title(initiative_id) if initiative_id else None
            interval = self.settings.checkins.interval_days
            pair_id = await self.repo.create(
                citizen_id=citizen_id,
                technician_id=technician_id,
                initiative_id=initiative_id,
                interval_days=interval,
                next_due_at=self._schedule(now + timedelta(days=interval)),
                created_by=by,
                now=now,
            )
            if by is not None:
                await self.audit.record(by, "pair.create", str(pair_id), now)
            await self._pairing_notices(pair_id, citizen, tech, title)
            for hook in self.on_paired:
                await hook(technician_id, initiative_id)
        log.info("pair %s created (citizen %s, technician %s)", pair_id, citizen_id, technician_id)
        return Confirmation(ConfirmOutcome.CREATED, pair_id)

    async def auto_confirm(self) -> int:
        """Sweeper duty when settings.pairs.auto_confirm: confirm whatever the matcher proposes."""
        if not self.settings.pairs.auto_confirm:
            return 0
        citizens = await self.repo.unpaired_citizens()
        if not citizens:
            return 0
        # Citizens nobody can take stay unpaired: do not re-run the matcher every tick
        # until someone joins, leaves or frees a place (kept in memory: a restart re-runs it).
        technicians = await self.repo.technicians()
        signature = hash(
            (
                frozenset((c.member_id, c.territory, c.themes) for c in citizens),
                frozenset(
                    (t.member_id, t.capacity, t.load, t.themes, t.territories) for t in technicians
                ),
            )
        )
        if signature == self._idle_signature:
            return 0
        view = await self.propose(None)
        if view is None:
            return 0
        if not view.lines:
            self._idle_signature = signature
        created = 0
        for line in view.lines:
            async with self.db.transaction():
                done = await self._confirm_proposal(line.proposal.id, None)
            created += done.outcome is ConfirmOutcome.CREATED
        return created

    async def _pairing_notices(
        self, pair_id: int, citizen: Member, tech: Member, initiative: str | None
    ) -> None:
        profile = await self.member_repo.technician(tech.telegram_id)
        days = self.settings.checkins.interval_days

        def render(chat_id: int) -> Payload:
            me, other = (citizen, tech) if chat_id == citizen.telegram_id else (tech, citizen)
            lang = me.language
            text = self.texts.get(
                lang,
                "pairs.notice.paired",
                name=other.display_name,
                role=self.role(lang, other),
                themes=", ".join(other.themes) or "—",
                territory=self._territory(lang, other, profile.territories if profile else []),
            )
            if other.is_technician and profile is not None:
                text += "\n" + self.texts.get(
                    lang, "pairs.notice.service", service=profile.service
                )
            if initiative is not None:
                text += "\n" + self.texts.get(lang, "pairs.notice.initiative", title=initiative)
            text += "\n\n" + self.texts.get(lang, "pairs.notice.next", count=days)
            return Payload(
                text=text,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.write"),
                            data=PairPress(PairAction.WRITE).pack(),
                        )
                    ]
                ],
            )

        await self.outbox.notify(
            [citizen.telegram_id, tech.telegram_id], "pair.notice", render, ref_id=pair_id
        )
