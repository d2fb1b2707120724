"""What tests read back from the database, through the bot's own repositories.

Tests never open the database file: they read state as the bot does, through the `Database`
interface, so the same test runs on every backend. `bot.state` gives one of these.
"""

from __future__ import annotations

from storage.audit import AuditEntry, AuditRepository
from storage.calls import Answer as CallAnswer
from storage.calls import Call, CallRepository
from storage.conversations import ConversationRepository
from storage.db import Database
from storage.inbox import InboxRepository
from storage.initiatives import Initiative, InitiativeRepository
from storage.invites import InviteRepository
from storage.members import Member, MemberRepository
from storage.outbox import Delivery, OutboxRepository
from storage.pairs import Answer as CheckinAnswer
from storage.pairs import Checkin, Pair, PairRepository, ProposalRow
from storage.privacy import PrivacyRepository


class State:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.members = MemberRepository(db)
        self.invites = InviteRepository(db)
        self.conversations = ConversationRepository(db)
        self.deliveries = OutboxRepository(db)
        self.calls = CallRepository(db)
        self.audit = AuditRepository(db)
        self.initiatives = InitiativeRepository(db)
        self.pairs = PairRepository(db)
        self.privacy = PrivacyRepository(db)
        self.inbox = InboxRepository(db)

    async def member(self, telegram_id: int) -> Member:
        found = await self.members.get(telegram_id)
        assert found is not None, f"no member {telegram_id}"
        return found

    async def member_ids(self) -> list[int]:
        return [m.telegram_id for m in await self.members.all()]

    async def only_call(self) -> Call:
        """The call of a test that sent exactly one."""
        [call] = await self.calls.all()
        return call

    async def call_answers(self) -> dict[int, CallAnswer]:
        """Member id -> answer, over every call (tests send one call at a time)."""
        answers: dict[int, CallAnswer] = {}
        for call in await self.calls.all():
            answers.update(await self.calls.answers(call.id))
        return answers

    async def deliveries_of(self, kind: str | None = None) -> list[Delivery]:
        return await self.deliveries.all(kind)

    async def audit_actions(self, prefix: str = "") -> list[str]:
        return [e.action for e in await self.audit.entries(prefix)]

    async def audit_entries(self, prefix: str = "") -> list[AuditEntry]:
        return await self.audit.entries(prefix)

    async def only_initiative(self) -> Initiative:
        [initiative] = await self.initiatives.all()
        return initiative

    async def proposals(self) -> list[ProposalRow]:
        found: list[ProposalRow] = []
        for batch in range(1, await self.pairs.next_batch()):
            found += await self.pairs.batch(batch)
        return found

    async def pair(self, pair_id: int) -> Pair:
        found = await self.pairs.get(pair_id)
        assert found is not None, f"no pair {pair_id}"
        return found

    async def checkins(self) -> list[Checkin]:
        found: list[Checkin] = []
        for pair in await self.pairs.all():
            found += await self.pairs.checkins(pair.id, limit=10_000)
        return sorted(found, key=lambda c: c.id)

    async def checkin_answers(self) -> list[CheckinAnswer]:
        return await self.pairs.answers_for([c.id for c in await self.checkins()])
