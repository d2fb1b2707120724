"""The buttons of calls for help, as one typed callback model (bot/callbacks.py).

`AUDIENCE` is the one-tap "ambassadors only / everyone" of drafts started before the roles
became a checklist: such buttons still work (roles are chosen with `TOGGLE` and `CONFIRM`
like territories and themes now).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from bot.callbacks import Layout, Press

FEATURE = "call"


class CallAction(StrEnum):
    ANSWER = "a"
    RELAY = "r"
    CANCEL_DRAFT = "x"
    DEADLINE = "dl"
    TOGGLE = "tg"
    CONFIRM = "ok"
    AUDIENCE = "au"
    SEND_NOW = "go"
    SCHEDULE = "sc"
    LIST = "ls"
    VIEW = "v"
    REMIND = "rm"
    CLOSE = "cl"
    ASK_CANCEL = "ca"
    CANCEL = "cy"
    FULL_LIST = "vl"
    MINE = "me"
    WITHDRAW = "wd"
    WITHDRAW_REMINDED = "wr"


class CallReply(StrEnum):
    YES = "y"
    NO = "n"


class Every(StrEnum):
    ALL = "all"


@dataclass(frozen=True)
class CallPress(Press):
    """A press on a call button: members' answers (on their copy, on a reminder, in
    /mesappels), the /appel draft, the /appels screens.

    `step` and `preset` are the draft's Step and DeadlinePreset values (call_drafts.py imports
    this module, so they travel as strings and the handler reads them back).
    """

    PREFIX: ClassVar[str] = FEATURE
    LAYOUT: ClassVar[Layout] = {
        CallAction.ANSWER: "call_id reply",
        CallAction.RELAY: "call_id",
        CallAction.DEADLINE: "preset",
        CallAction.TOGGLE: "step index",
        CallAction.CONFIRM: "step",
        CallAction.AUDIENCE: "ambassadors",
        CallAction.VIEW: "call_id",
        CallAction.REMIND: "call_id",
        CallAction.CLOSE: "call_id",
        CallAction.ASK_CANCEL: "call_id",
        CallAction.CANCEL: "call_id",
        CallAction.FULL_LIST: "call_id",
        CallAction.MINE: "page",
        CallAction.WITHDRAW: "call_id page",
        CallAction.WITHDRAW_REMINDED: "call_id",
    }
    action: CallAction
    call_id: int = 0
    reply: CallReply = CallReply.YES
    preset: str = ""
    step: str = ""
    index: int | Every = Every.ALL
    ambassadors: bool = False
    page: int = 0
