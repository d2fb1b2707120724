"""Who is in a circle: joining (from "Je veux participer", the author at publication, the
technician gardener), leaving, muting, removal by the owner and requests to come back, and
the handover when the owner leaves or erases their data."""

from __future__ import annotations

from bot.services.circle_base import (
    CircleAction,
    CircleBase,
    CircleLine,
    CirclePress,
    CircleView,
    JoinOutcome,
    RemovalResult,
    Seat,
    Unmuted,
    log,
)
from bot.services.outbox import Payload
from storage.circles import Circle, CircleRole


class CircleMembership(CircleBase):
    # --- joining -----------------------------------------------------------------------

    async def open_for(self, initiative_id: int, author_id: int | None) -> int:
        """At publication (inside its transaction): the circle, with the author in it."""
        return await self.repo.open(initiative_id, author_id, self.clock.now())

    async def _role(self, member_id: int, initiative_id: int) -> CircleRole | None:
        """What the member may join this initiative's circle as, if anything."""
        item = await self.initiatives.get(initiative_id)
        if item is None or item.status != "published":
            return None
        if item.author_id == member_id:
            return "author"
        if any(
            p.initiative_id == initiative_id and p.technician_id == member_id
            for p in await self.pairs.active_of(member_id)
        ):
            return "technician"
        if "participate" in await self.initiatives.supports_of(initiative_id, member_id):
            return "member"
        return None

    async def can_join(self, member_id: int, initiative_id: int) -> Circle | None:
        """The circle to offer the member, when they may join it and are not in it yet."""
        circle = await self.repo.of_initiative(initiative_id)
        if circle is None or await self.repo.membership(circle.id, member_id) is not None:
            return None
        if await self._role(member_id, initiative_id) is None:
            return None
        return circle

    async def member_of(self, member_id: int, initiative_id: int) -> Circle | None:
        circle = await self.repo.of_initiative(initiative_id)
        if circle is None or await self.repo.membership(circle.id, member_id) is None:
            return None
        return circle

    async def join(self, member_id: int, initiative_id: int) -> tuple[JoinOutcome, Circle | None]:
        now = self.clock.now()
        async with self.db.transaction():
            found = await self.repo.of_initiative(initiative_id)
            circle = await self.repo.lock(found.id) if found else None
            member = await self.members.get(member_id)
            role = await self._role(member_id, initiative_id)
            if circle is None or member is None or member.onboarded_at is None or role is None:
                return JoinOutcome.STALE, None
            if await self.repo.membership(circle.id, member_id) is not None:
                return JoinOutcome.ALREADY, circle
            if role != "author" and await self.repo.removal(circle.id, member_id) is not None:
                return JoinOutcome.REMOVED, circle
            if await self.repo.size(circle.id) >= self.settings.circles.size_limit:
                return JoinOutcome.FULL, circle
            await self.repo.add_member(circle.id, member_id, role, now)
            if role == "author" and circle.owner_id is None:
                await self.repo.set_owner(circle.id, member_id)
            if role == "technician":
                await self._tell_technician(circle, member.display_name, member_id)
        log.info("member %d joined circle %d as %s", member_id, circle.id, role)
        return JoinOutcome.JOINED, circle

    async def _tell_technician(self, circle: Circle, name: str, technician_id: int) -> None:
        others = [s.member_id for s in await self.repo.audience(circle.id) if not s.muted]
        others = [i for i in others if i != technician_id]

        def render(lang: str, _chat_id: int) -> Payload:
            text = self.texts.get(lang, "circles.technician_joined", name=name, title=circle.title)
            return Payload(text=text, buttons=[self.open_button(lang, circle.id)])

        await self._tell(others, "circle.notice", render, ref_id=circle.id)

    async def offer_technician(self, technician_id: int, initiative_id: int | None) -> None:
        """A pair was made for an initiative: its technician gardener is offered its circle
        (inside the pairing's transaction)."""
        if initiative_id is None:
            return
        circle = await self.repo.of_initiative(initiative_id)
        if circle is None or await self.repo.membership(circle.id, technician_id) is not None:
            return

        def render(lang: str, _chat_id: int) -> Payload:
            join = CirclePress(CircleAction.JOIN, initiative_id=initiative_id)
            skip = CirclePress(CircleAction.SKIP, initiative_id=initiative_id)
            return Payload(
                text=self.texts.get(lang, "circles.offer.technician", title=circle.title)
                + "\n\n"
                + self.texts.get(lang, "circles.offer.seen"),
                buttons=[
                    [self._button(lang, "circles.button.join", join)],
                    [self._button(lang, "circles.button.not_now", skip)],
                ],
            )

        await self._tell([technician_id], "circle.offer", render, ref_id=circle.id)

    # --- what a member sees ------------------------------------------------------------

    async def lines(self, member_id: int) -> list[CircleLine]:
        """/cercles: the member's circles, the liveliest first."""
        circles = await self.repo.of_member(member_id)
        seats = await self.repo.members_of([c.id for c in circles])
        people = await self.member_repo.get_many(
            s.member_id for group in seats.values() for s in group
        )
        found = []
        for circle in circles:
            group = seats[circle.id]
            me = next(s for s in group if s.member_id == member_id)
            names = [people[s.member_id].display_name for s in group if s.member_id in people]
            found.append(CircleLine(circle, names, me.muted, me.unread))
        return found

    async def view(self, member_id: int, circle_id: int) -> CircleView | None:
        circle = await self.repo.get(circle_id)
        me = await self.repo.membership(circle_id, member_id) if circle else None
        if circle is None or me is None:
            return None
        group = await self.repo.members(circle_id)
        people = await self.member_repo.get_many(s.member_id for s in group)
        seats = [Seat(s, people[s.member_id]) for s in group if s.member_id in people]
        return CircleView(circle, me, seats, circle.owner_id == member_id)

    # --- mute, leave ---------------------------------------------------------------------

    async def mute(self, member_id: int, circle_id: int) -> Circle | None:
        async with self.db.transaction():
            circle = await self.repo.get(circle_id)
            if circle is None or await self.repo.membership(circle_id, member_id) is None:
                return None
            await self.repo.mute(circle_id, member_id)
            return circle

    async def unmute(self, member_id: int, circle_id: int) -> Unmuted | None:
        async with self.db.transaction():
            circle = await self.repo.get(circle_id)
            if circle is None or await self.repo.membership(circle_id, member_id) is None:
                return None
            unread = await self.repo.unmute(circle_id, member_id, self.clock.now())
            return Unmuted(circle, unread or 0)

    async def leave(self, member_id: int, circle_id: int) -> Circle | None:
        async with self.db.transaction():
            circle = await self.repo.lock(circle_id)
            if circle is None or not await self.repo.remove_member(circle_id, member_id):
                return None
            if circle.owner_id == member_id:
                await self._hand_over(circle, member_id)
        log.info("member %d left circle %d", member_id, circle_id)
        return circle

    async def _hand_over(self, circle: Circle, leaving_id: int) -> None:
        """The owner goes: the longest-standing member takes the circle (and is told), or
        the coordination holds it when nobody is left."""
        seats = await self.repo.members(circle.id)
        people = await self.member_repo.get_many(s.member_id for s in seats)
        heir = next(
            (
                s.member_id
                for s in seats
                if s.member_id != leaving_id
                and s.member_id in people
                and people[s.member_id].status != "blocked"
            ),
            None,
        )
        await self.repo.set_owner(circle.id, heir)
        log.info("circle %d passed from %d to %s", circle.id, leaving_id, heir)
        if heir is None:
            return

        def render(lang: str, _chat_id: int) -> Payload:
            text = self.texts.get(lang, "circles.handover", title=circle.title)
            return Payload(text=text, buttons=[self.open_button(lang, circle.id)])

        await self._tell([heir], "circle.handover", render, ref_id=circle.id)

    async def release_member(self, member_id: int) -> None:
        """Before an erasure (same transaction): the circles they hold pass on; the privacy
        model then takes them out of every circle and erases what they said."""
        for circle in await self.repo.owned_by(member_id):
            await self._hand_over(circle, member_id)

    # --- what other features read of circles (decisions, stage changes) ---------------

    async def circles_of(self, member_id: int) -> list[tuple[int, str]]:
        """The circles the member is in: (circle id, its initiative's title)."""
        return [(c.id, c.title) for c in await self.repo.of_member(member_id)]

    async def listeners(self, circle_id: int) -> list[int]:
        """Who something put to the circle reaches: its reachable members who did not mute it."""
        return [s.member_id for s in await self.repo.audience(circle_id) if not s.muted]

    async def circle_people(self, initiative_id: int) -> tuple[list[int], list[int]]:
        """The initiative's circle as (members who listen, members who muted it)."""
        circle = await self.repo.of_initiative(initiative_id)
        if circle is None:
            return [], []
        audience = await self.repo.audience(circle.id)
        return [s.member_id for s in audience if not s.muted], [
            s.member_id for s in audience if s.muted
        ]

    async def has_circles(self, member_id: int) -> bool:
        """Whether /oublier has circles to speak of: memberships, or messages still kept."""
        if await self.repo.memberships(member_id):
            return True
        return await self.messages.count_of(member_id) > 0

    # --- removal by the owner, and coming back ------------------------------------------

    async def remove(self, owner_id: int, seat_id: int) -> RemovalResult:
        async with self.db.transaction():
            seat = await self.repo.seat(seat_id)
            circle = await self.repo.lock(seat.circle_id) if seat else None
            if seat is None or circle is None:
                return RemovalResult("stale")
            if circle.owner_id != owner_id or seat.member_id == owner_id:
                return RemovalResult("denied")
            member = await self.member_repo.get(seat.member_id)
            await self._take_out(circle, seat.member_id, owner_id, "circles.removed")
        log.info("member %d removed from circle %d by %d", seat.member_id, circle.id, owner_id)
        return RemovalResult("removed", member.display_name if member else "", circle)

    async def _take_out(self, circle: Circle, member_id: int, by: int, key: str) -> None:
        """Out of the circle, told, with a button to ask to come back (caller's transaction)."""
        await self.repo.remove_member(circle.id, member_id)
        await self.repo.mark_removed(circle.id, member_id, by, self.clock.now())
        if circle.owner_id == member_id:
            await self._hand_over(circle, member_id)

        def render(lang: str, _chat_id: int) -> Payload:
            ask = CirclePress(CircleAction.ASK_REJOIN, circle_id=circle.id)
            return Payload(
                text=self.texts.get(lang, key, title=circle.title),
                buttons=[[self._button(lang, "circles.button.ask_rejoin", ask)]],
            )

        await self._tell([member_id], "circle.removed", render, ref_id=circle.id)

    async def ask_rejoin(self, member_id: int, circle_id: int) -> str:
        """ "asked", "already" (asked before), or "stale"."""
        now = self.clock.now()
        async with self.db.transaction():
            circle = await self.repo.lock(circle_id)
            removal = await self.repo.removal(circle_id, member_id) if circle else None
            member = await self.member_repo.get(member_id)
            if circle is None or removal is None or member is None:
                return "stale"
            if not await self.repo.ask_rejoin(circle_id, member_id, now):
                return "already"
            deciders = [circle.owner_id] if circle.owner_id else await self._coordinators()

            def render(lang: str, _chat_id: int) -> Payload:
                yes = CirclePress(CircleAction.ACCEPT, removal_id=removal.id)
                no = CirclePress(CircleAction.DECLINE, removal_id=removal.id)
                text = self.texts.get(
                    lang, "circles.rejoin.asked", name=member.display_name, title=circle.title
                )
                return Payload(
                    text=text,
                    buttons=[
                        [
                            self._button(lang, "circles.button.accept", yes),
                            self._button(lang, "circles.button.decline", no),
                        ]
                    ],
                )

            await self._tell(deciders, "circle.rejoin", render, ref_id=circle.id)
            return "asked"

    async def decide_rejoin(self, decider_id: int, removal_id: int, accept: bool) -> str:
        """ "accepted", "declined", "full", "denied" or "stale" (decided already)."""
        now = self.clock.now()
        async with self.db.transaction():
            removal = await self.repo.removal_by_id(removal_id)
            circle = await self.repo.lock(removal.circle_id) if removal else None
            if removal is None or circle is None:
                return "stale"
            may = circle.owner_id == decider_id or (
                circle.owner_id is None and await self.members.is_coordinator(decider_id)
            )
            if not may:
                return "denied"
            if accept and await self.repo.size(circle.id) >= self.settings.circles.size_limit:
                return "full"
            if accept:
                if not await self.repo.clear_removal(circle.id, removal.member_id):
                    return "stale"
                await self.repo.add_member(circle.id, removal.member_id, "member", now)
            elif not await self.repo.decline_rejoin(circle.id, removal.member_id, now):
                return "stale"
            key = "circles.rejoin.accepted" if accept else "circles.rejoin.declined"

            def render(lang: str, _chat_id: int) -> Payload:
                buttons = [self.open_button(lang, circle.id)] if accept else []
                return Payload(text=self.texts.get(lang, key, title=circle.title), buttons=buttons)

            await self._tell([removal.member_id], "circle.rejoin", render, ref_id=circle.id)
            return "accepted" if accept else "declined"
