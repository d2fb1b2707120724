"""The typed context every handler receives: services instead of string keys in bot_data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.services.audience import AudienceService
from bot.services.broadcasts import Broadcasts
from bot.services.call_drafts import CallDrafts
from bot.services.call_management import CallManagement
from bot.services.call_mine import MemberCalls
from bot.services.calls import CallService
from bot.services.circle_decision_drafts import DecisionDrafts
from bot.services.circle_decisions import CircleDecisions
from bot.services.circles import CircleService
from bot.services.consultation_admin import ConsultationAdmin
from bot.services.consultation_drafts import ConsultationDrafts
from bot.services.consultation_results import ConsultationResults
from bot.services.consultations import ConsultationService
from bot.services.conversations import ConversationService
from bot.services.initiatives import InitiativeService
from bot.services.members import MemberService
from bot.services.outbox import OutboxService
from bot.services.pairs import PairService
from bot.services.presence import Presence
from bot.services.privacy import PrivacyService
from bot.services.report_followup import ReportFollowUp
from bot.services.reports import ReportService
from bot.services.stats import StatsService
from bot.texts import Texts
from storage.db import Database

if TYPE_CHECKING:
    from bot.health import HealthServer
    from bot.lease import SoleLease


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    texts: Texts
    members: MemberService
    outbox: OutboxService
    broadcasts: Broadcasts
    audience: AudienceService
    privacy: PrivacyService
    stats: StatsService
    calls: CallService
    call_drafts: CallDrafts
    call_management: CallManagement
    call_mine: MemberCalls
    consultations: ConsultationService
    consultation_drafts: ConsultationDrafts
    consultation_admin: ConsultationAdmin
    consultation_results: ConsultationResults
    circle_decisions: CircleDecisions
    decision_drafts: DecisionDrafts
    initiatives: InitiativeService
    pairs: PairService
    conversations: ConversationService
    reports: ReportService
    report_followup: ReportFollowUp
    presence: Presence
    circles: CircleService
    dispatcher: Dispatcher | None = None
    health: HealthServer | None = None
    lease: SoleLease | None = None
    """The sender lease: its holder runs the dispatcher and the periodic duties."""
    # Periodic duties (scheduled calls, reminders, check-ins, digests, retention): each reads
    # what is due from the database, so the scheduler job can run them at any interval.
    sweepers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def require_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise RuntimeError("dispatcher not started")
        return self.dispatcher


class AppData:
    """bot_data of the Application: holds the services once they are built."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not initialised yet")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value


class AppContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], AppData]):
    @property
    def services(self) -> Services:
        return self.bot_data.services


EssaimApp = Application[ExtBot[None], AppContext, dict[Any, Any], dict[Any, Any], AppData, Any]
