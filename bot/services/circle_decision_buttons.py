"""The buttons of decisions put to an initiative circle, as one typed callback model."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press

FEATURE = "cd"


class DecisionAction(StrEnum):
    # members of the circle
    PICK = "p"
    # the proposer's draft (/decider)
    CIRCLE = "c"
    SEND = "go"
    CANCEL = "x"


@dataclass(frozen=True)
class DecisionPress(Press):
    PREFIX: ClassVar[str] = FEATURE
    LAYOUT: ClassVar[Layout] = {
        DecisionAction.PICK: "decision_id option",
        DecisionAction.CIRCLE: "circle_id",
    }
    action: DecisionAction
    decision_id: int = 0
    option: int = 0
    circle_id: int = 0
