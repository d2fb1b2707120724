"""The private relay between the two gardeners of a pair (no usernames shared)."""

from __future__ import annotations

from bot.inputs import Problem, check
from bot.services.outbox import Button, Payload
from bot.services.pair_base import (
    RELAY_CAPTION_MAX,
    RELAY_FLOW,
    RELAY_TEXT_MAX,
    PairAction,
    PairBase,
    PairPress,
    Peer,
    RelayResult,
    _ids,
    _other,
    log,
)


class PairRelay(PairBase):
    async def peers(self, member_id: int) -> list[Peer]:
        """The member's active pairs, each with the other gardener."""
        pairs = await self.repo.active_of(member_id)
        others = await self.member_repo.get_many(_other(p, member_id) for p in pairs)
        return [
            Peer(p.id, others[_other(p, member_id)])
            for p in pairs
            if _other(p, member_id) in others
        ]

    async def start_relay(self, member_id: int, pair_id: int) -> Peer | None:
        """The member's next message goes to the other gardener of this (active) pair."""
        for peer in await self.peers(member_id):
            if peer.pair_id == pair_id:
                await self.conversations.save(
                    member_id, RELAY_FLOW, "message", {"pair_id": pair_id}, self.clock.now()
                )
                return peer
        return None

    async def cancel_relay(self, member_id: int) -> None:
        await self.conversations.clear(member_id, RELAY_FLOW)

    async def relay(
        self, member_id: int, pair_id: int, text: str | None, photo: str | None
    ) -> RelayResult:
        """Deliver a copy labelled with the sender's first name and role, nothing else."""
        limit = RELAY_CAPTION_MAX if photo else RELAY_TEXT_MAX
        checked = check(text, limit)
        body = checked.value
        if checked.problem is Problem.TOO_LONG:
            return RelayResult("too_long", limit=limit)
        if checked.problem is Problem.EMPTY and photo is None:
            return RelayResult("empty")
        async with self.db.transaction():
            pair = await self.repo.get(pair_id)
            if pair is None or pair.status != "active" or member_id not in _ids(pair):
                await self.conversations.clear(member_id, RELAY_FLOW)
                return RelayResult("ended")
            people = await self.member_repo.get_many(_ids(pair))
            sender, other = people[member_id], people[_other(pair, member_id)]
            lang = other.language
            key = "pairs.relay.incoming_photo" if photo else "pairs.relay.incoming"
            payload = Payload(
                text=self.texts.get(
                    lang, key, name=sender.display_name, role=self.role(lang, sender), text=body
                ),
                photo=photo,
                buttons=[
                    [
                        Button(
                            text=self._label(lang, "pairs.button.reply"),
                            data=PairPress(PairAction.REPLY, pair_id=pair_id).pack(),
                        )
                    ]
                ],
            )
            await self.outbox.notify([other.telegram_id], "pair.relay", lambda _c: payload)
            await self.conversations.clear(member_id, RELAY_FLOW)
        log.info("pair %s: relayed a message from %s", pair_id, member_id)
        return RelayResult("sent", other=other)
