"""The buttons of consultations, as one typed callback model (bot/callbacks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press

FEATURE = "cs"


class ConsultAction(StrEnum):
    # members
    START = "s"
    AGAIN = "ag"
    PICK = "p"
    CONFIRM = "ok"
    OTHER = "o"
    # the coordinator's draft (/consulter)
    DRAFT_MULTIPLE = "dm"
    DRAFT_OTHER = "do"
    DRAFT_NEXT = "dn"
    DRAFT_DONE = "dd"
    DRAFT_SKIP = "dk"
    DRAFT_ANONYMOUS = "da"
    DRAFT_TOGGLE = "dt"
    DRAFT_CONFIRM = "dc"
    DRAFT_PAGE = "dp"
    SEND_NOW = "go"
    SCHEDULE = "sc"
    CANCEL_DRAFT = "x"
    # /consultations
    LIST = "ls"
    VIEW = "v"
    CLOSE = "cl"
    REMIND = "rm"
    EXPORT = "ex"
    RESULTS = "rs"
    NO_OUTCOME = "no"


class Every(StrEnum):
    ALL = "all"


@dataclass(frozen=True)
class ConsultPress(Press):
    PREFIX: ClassVar[str] = FEATURE
    LAYOUT: ClassVar[Layout] = {
        ConsultAction.START: "consultation_id",
        ConsultAction.AGAIN: "consultation_id",
        ConsultAction.PICK: "consultation_id question option",
        ConsultAction.CONFIRM: "consultation_id question",
        ConsultAction.OTHER: "consultation_id question",
        ConsultAction.DRAFT_MULTIPLE: "flag",
        ConsultAction.DRAFT_OTHER: "flag",
        ConsultAction.DRAFT_ANONYMOUS: "flag",
        ConsultAction.DRAFT_TOGGLE: "step index",
        ConsultAction.DRAFT_CONFIRM: "step",
        ConsultAction.DRAFT_PAGE: "option",
        ConsultAction.VIEW: "consultation_id",
        ConsultAction.CLOSE: "consultation_id",
        ConsultAction.REMIND: "consultation_id",
        ConsultAction.EXPORT: "consultation_id",
        ConsultAction.RESULTS: "consultation_id",
        ConsultAction.NO_OUTCOME: "consultation_id",
    }
    action: ConsultAction
    consultation_id: int = 0
    question: int = 0
    option: int = 0
    flag: bool = False
    step: str = ""
    index: int | Every = Every.ALL
