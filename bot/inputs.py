"""What people type, made safe and measured the way Telegram measures it, in one place.

Telegram counts a message's length in UTF-16 code units (4,096 for a text, 1,024 for a
caption): an emoji outside the Basic Multilingual Plane counts twice. Every limit of the bot
is checked with `utf16_len`, and every text shown back is cut with `utf16_cut`, so a member
who pastes 5,000 emoji is told "too long" instead of meeting an error.

Typed text is normalised before anything else (`clean`): Unicode NFC, bidirectional override
and isolate controls removed (they let a name display as someone else's), and surrounding
spaces trimmed. A text with nothing visible left (spaces, zero-width characters, fillers) is
refused. Arabic or Hebrew script is left as it is: only the invisible controls go.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
# A text shown back for shortening leaves room for the question around it in one message.
ECHO_LIMIT: Final = 3000
# A list inside a notice (titles, report numbers) leaves room for the sentences around it.
LIST_LIMIT: Final = 3000

# Embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069): they reorder what others
# read. The plain marks U+200E/U+200F stay (they are invisible and harmless).
_BIDI_CONTROLS: Final = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)
# Characters that show nothing although they are not "space" for Python.
_BLANKS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u180e")
# Trimmed at both ends besides spaces (never inside: a ZWJ joins emoji, a ZWNJ Persian words).
_EDGE: Final = "\u200b\u2060\ufeff"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def utf16_cut(text: str, limit: int) -> str:
    """The longest start of the text within `limit` UTF-16 units, never half a character."""
    if len(text) * 2 <= limit or utf16_len(text) <= limit:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def fit_lines(lines: Sequence[str], budget: int) -> tuple[list[str], int]:
    """As many lines (from the first) as fit in `budget` UTF-16 units joined by newlines, and
    how many were left out: a list that grows with data never breaks a message's limit."""
    shown: list[str] = []
    used = 0
    for line in lines:
        cost = utf16_len(line) + (1 if shown else 0)
        if used + cost > budget:
            break
        shown.append(line)
        used += cost
    return shown, len(lines) - len(shown)


def echo(text: str | None) -> str:
    """A member's text to show back to them (to shorten it): cut to fit in a message."""
    return utf16_cut(text or "", ECHO_LIMIT)


def clean(text: str) -> str:
    """NFC, without bidirectional overrides and isolates, trimmed."""
    normal = unicodedata.normalize("NFC", text).translate(_BIDI_CONTROLS)
    return normal.strip().strip(_EDGE).strip()


def visible(text: str) -> bool:
    """Whether anything would show: not only spaces, zero-width characters or fillers."""
    return any(
        not char.isspace()
        and char not in _BLANKS
        and unicodedata.category(char) not in ("Cf", "Cc", "Mn", "Me")
        for char in text
    )


class Problem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Checked:
    """A typed text once cleaned: its value, its length, and what is wrong with it."""

    value: str
    length: int
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check(text: str | None, limit: int) -> Checked:
    """Clean a typed text and check it against a limit in UTF-16 units."""
    value = clean(text or "")
    length = utf16_len(value)
    if not visible(value):
        return Checked(value, length, Problem.EMPTY)
    if length > limit:
        return Checked(value, length, Problem.TOO_LONG)
    return Checked(value, length)


INT_MAX: Final = 2**53 - 1
"""Above any id this bot stores (Telegram ids stay below 2**52), below SQLite's 2**63."""


def strict_int(text: str, low: int = 0, high: int = INT_MAX) -> int | None:
    """`text` as a whole number in [low, high], or None: ASCII digits only, no sign, no space.

    The one place numbers from outside are read (typed answers through `parse_int`, button
    data through bot/callbacks.py): `int()` takes "²" and "٣" (digits to `str.isdigit`),
    signs, underscores and spaces, and turns 25 digits into a value no column holds.
    """
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse_int(text: str | None, low: int, high: int) -> int | None:
    """A whole number typed by a person, within [low, high]; None for anything else."""
    return strict_int(clean(text or ""), low, high)
