"""The multi-select step ("tick one or more, then confirm") that several flows share: the
audience of a broadcast (territories, themes, roles), a member's themes, an initiative's
needs, a multiple-choice question of a consultation.

A press names an option by its index in the list the screen showed; the index is checked
here, in one place, so a forged or outdated press changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence


def option_at(options: Sequence[str], index: object) -> str | None:
    """The option a press names, or None when the index is not one the screen showed."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(options):
        return None
    return options[index]


def toggle(selected: Sequence[str], options: Sequence[str], choice: str) -> list[str]:
    """Tick `choice` if it was not ticked, untick it if it was; the selection comes back in
    the options' order (and without anything that is no longer an option)."""
    chosen = set(selected) ^ {choice}
    return [o for o in options if o in chosen]


def toggle_at(selected: Sequence[str], options: Sequence[str], index: object) -> list[str] | None:
    """`toggle` for the option at `index`; None when the index is not valid."""
    choice = option_at(options, index)
    return None if choice is None else toggle(selected, options, choice)
