"""Which of a member's open flows a typed message goes to, and which one to offer back.

Each feature service keeps its own flow's state (`storage.conversations`); this service only
answers the questions that concern all of them at once: the flow whose question was asked
last (where a typed message goes), the flow to offer back when another one has just ended,
and bringing a flow back to the front when the member chooses to continue it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press
from bot.clock import Clock
from storage.conversations import Conversation, ConversationRepository
from storage.db import Database


class FlowAction(StrEnum):
    RESUME = "go"


@dataclass(frozen=True)
class FlowPress(Press):
    """ "Continuer": bring an open flow back to the front."""

    PREFIX: ClassVar[str] = "flow"
    LAYOUT: ClassVar[Layout] = {FlowAction.RESUME: "flow"}
    action: FlowAction
    flow: str = ""


class ConversationService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.clock = clock
        self.repo = ConversationRepository(db)

    async def current(self, member_id: int) -> Conversation | None:
        """The flow whose question the bot asked last: typed messages go there."""
        return await self.repo.get(member_id)

    def forget_ended(self, member_id: int) -> None:
        """Before an update: what happened earlier was already said (or happened elsewhere)."""
        self.repo.take_hints(member_id)

    async def after_update(
        self, member_id: int
    ) -> tuple[Conversation | None, Conversation | None]:
        """After an update: (the flow to offer back, the flow kept aside).

        A flow that ended leaves the one still open to offer back ("continue?"); a flow that
        started while another was open leaves that other one kept aside ("it is kept")."""
        hints = self.repo.take_hints(member_id)
        if "ended" in hints:
            remaining = await self.repo.get(member_id)
            if remaining is not None and remaining.flow != hints["ended"]:
                return remaining, None
            return None, None
        if "started" in hints:
            others = [
                c for c in await self.repo.open_flows(member_id) if c.flow != hints["started"]
            ]
            if others:
                return None, others[0]
        return None, None

    async def bring_back(self, member_id: int, flow: str) -> Conversation | None:
        """The member continues this flow: its question is the one typed messages answer."""
        conversation = await self.repo.get(member_id, flow)
        if conversation is not None:
            await self.repo.save(
                member_id, flow, conversation.step, conversation.data, self.clock.now()
            )
        return conversation
