"""The multi-select screen every checklist step shares: one button per option, ticked or
not, then "everyone" and "confirm" as the step needs (see bot/services/checklist.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.callbacks import Press
from handlers.common import button
from storage.outbox import Rows

TICKED = "✅ "
UNTICKED = "▫️ "


def checklist_rows(
    labels: Sequence[str], ticked: Sequence[bool], data_for: Callable[[int], Press]
) -> Rows:
    """One row per option: its label with a tick or an empty box, pressing sends
    `data_for(index)`."""
    return [
        [button((TICKED if on else UNTICKED) + label, data_for(i))]
        for i, (label, on) in enumerate(zip(labels, ticked, strict=True))
    ]
