"""What every feature service is given, so each one only adds its own repositories."""

from __future__ import annotations

from bot.clock import Clock
from bot.config import Settings
from bot.services.outbox import OutboxService
from bot.texts import Texts
from storage.audit import AuditRepository
from storage.conversations import ConversationRepository
from storage.db import Database


class FeatureService:
    def __init__(
        self, db: Database, settings: Settings, clock: Clock, texts: Texts, outbox: OutboxService
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.texts = texts
        self.outbox = outbox
        self.conversations = ConversationRepository(db)
        self.audit = AuditRepository(db)
