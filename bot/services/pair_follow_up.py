"""The coordinators' views and tools on pairs: overview, card, nudge, interval, end, and
freeing the pairs of a member who leaves."""

from __future__ import annotations

from datetime import timedelta

from bot.services.pair_base import (
    INTERVAL_CHOICES,
    NOTE_FLOW,
    RELAY_FLOW,
    CheckinLine,
    Overview,
    PairCard,
    _ids,
    log,
)
from bot.services.pair_checkins import PairCheckins
from storage.pairs import (
    EndReason,
)


class PairFollowUp(PairCheckins):
    async def overview(self, coordinator_id: int, limit: int = 15) -> Overview | None:
        if not await self._is_coordinator(coordinator_id):
            return None
        pairs = await self.repo.active(limit)
        people = await self.member_repo.get_many([i for p in pairs for i in _ids(p)])
        return Overview(
            counts=await self.repo.health_counts(),
            pairs=[
                (p, people[p.citizen_id], people[p.technician_id])
                for p in pairs
                if p.citizen_id in people and p.technician_id in people
            ],
        )

    async def card(self, coordinator_id: int, pair_id: int, limit: int = 8) -> PairCard | None:
        """A pair's health and the history of its check-ins (newest first)."""
        if not await self._is_coordinator(coordinator_id):
            return None
        pair = await self.repo.get(pair_id)
        if pair is None:
            return None
        people = await self.member_repo.get_many(_ids(pair))
        if pair.citizen_id not in people or pair.technician_id not in people:
            return None
        checkins = await self.repo.checkins(pair_id, limit)
        answers = await self.repo.answers_for([c.id for c in checkins])
        history = [CheckinLine(c, [a for a in answers if a.checkin_id == c.id]) for c in checkins]
        title = (
            await self.repo.initiative_title(pair.initiative_id) if pair.initiative_id else None
        )
        citizen, technician = people[pair.citizen_id], people[pair.technician_id]
        return PairCard(pair, citizen, technician, history, title)

    async def nudge(self, coordinator_id: int, pair_id: int) -> bool:
        if not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active":
                return False
            await self._send_checkin(pair, "nudge", now)
            await self.audit.record(coordinator_id, "pair.nudge", str(pair_id), now)
        return True

    async def set_interval(self, coordinator_id: int, pair_id: int, days: int) -> bool:
        if days not in INTERVAL_CHOICES or not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active":
                return False
            last = await self.repo.last_checkin(pair_id)
            base = last.sent_at if last else pair.created_at
            await self.repo.set_schedule(
                pair_id, self._schedule(max(base + timedelta(days=days), now)), days
            )
            await self.audit.record(coordinator_id, "pair.interval", str(pair_id), now)
        return True

    async def end_pair(self, coordinator_id: int, pair_id: int, reason: EndReason) -> bool:
        """`ended`: both told it ends; `repair`: the citizen goes back to matching."""
        if reason == "left" or not await self._is_coordinator(coordinator_id):
            return False
        now = self.clock.now()
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or not await self._end(pair, reason, pair.citizen_id):
                return False
            await self.audit.record(coordinator_id, f"pair.{reason}", str(pair_id), now)
        return True

    async def release_member(self, member_id: int) -> int:
        """A member leaves (blocked, erased): end their pairs, free the technicians' places,
        send the citizens back to matching and tell the other gardener. Returns pairs ended.

        Joins the caller's transaction if there is one (the privacy feature erases after)."""
        ended = 0
        async with self.db.transaction():
            for pair in await self.repo.active_of(member_id):
                ended += await self._end(pair, "left", member_id)
            await self.conversations.clear(member_id, RELAY_FLOW)
            await self.conversations.clear(member_id, NOTE_FLOW)
        if ended:
            log.info("member %s left: %s pairs released", member_id, ended)
        return ended
