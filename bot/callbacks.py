"""Callback data: the one codec for what a button carries, typed end to end, Telegram-free.

A feature declares one small frozen model (as aiogram's `CallbackData` factories do):

    class PairAction(StrEnum):
        CARD = "c"                    # readable name in code, short code on the wire

    @dataclass(frozen=True)
    class PairPress(Press):
        PREFIX: ClassVar[str] = "pair"
        LAYOUT: ClassVar[Layout] = {PairAction.CARD: "pair_id"}
        action: PairAction
        pair_id: int = 0

`PairPress(PairAction.CARD, pair_id=7).pack()` gives `pair:1:c:7`, and
`PairPress.parse(data)` gives the model back, or None for anything else: another prefix, an
unknown version or action, missing or extra fields, a field of the wrong type, a number that
is not plain ASCII digits within bounds. `LAYOUT` names, per action, the fields it carries in
wire order; a field ending in "?" may be left off the end (data packed before it existed).
Optional fields at their default are left off when packing. Fields an action does not carry
keep their default and must not be set when packing.

The wire shape `<prefix>:<version>:<action>[:<field>...]` is the one every button delivered
so far carries, so old buttons parse as they are. A change that cannot read old data bumps
`VERSION` and keeps the old one readable in `READABLE`.

Nothing here authorises anything: a client can send any data, so every press is re-checked
by the service.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Self

from bot.inputs import INT_MAX, strict_int

VERSION = "1"
READABLE = frozenset({VERSION})
LIMIT = 64
"""Telegram's limit on callback data, in UTF-8 bytes."""
SEPARATOR = ":"

Layout = Mapping[Any, str]


class Pick(StrEnum):
    """A choice field's value that is not an index into a list of options (field type
    `int | Pick`): every option, or "autre / hors territoire"."""

    ALL = "-"
    OTHER = "x"


class CallbackError(ValueError):
    """Data that cannot be packed: a bug in the code building the button, never user input."""


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    kinds: tuple[type, ...]
    optional: bool


def fits(value: str) -> bool:
    """Whether a free string (a /start payload, say) can travel as one field."""
    return bool(value) and SEPARATOR not in value and len(value.encode()) <= LIMIT


def _kinds(hint: Any) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(typing.get_args(hint))
    return (hint,)


def _read(kinds: tuple[type, ...], raw: str) -> object | None:
    for kind in kinds:
        if kind is bool:
            if raw in ("0", "1"):
                return raw == "1"
        elif kind is int:
            number = strict_int(raw)
            if number is not None:
                return number
        elif kind is str:
            if raw:
                return raw
        elif issubclass(kind, StrEnum):
            try:
                return kind(raw)
            except ValueError:
                pass
    return None


def _write(kinds: tuple[type, ...], value: object, name: str) -> str:
    if isinstance(value, bool):
        if bool in kinds:
            return "1" if value else "0"
    elif isinstance(value, StrEnum) and type(value) in kinds:
        return value.value
    elif isinstance(value, str):
        if str in kinds and fits(value):
            return str(value)
    elif isinstance(value, int) and int in kinds and 0 <= value <= INT_MAX:
        return str(value)
    raise CallbackError(f"field {name}: cannot pack {value!r}")


class Press:
    """Base of every feature's callback model (subclasses are frozen dataclasses)."""

    PREFIX: ClassVar[str]
    action: StrEnum  # each model narrows it to its own enum of actions
    LAYOUT: ClassVar[Layout] = {}
    _specs: ClassVar[dict[type, tuple[type[StrEnum], dict[Any, tuple[_Field, ...]]]]] = {}

    @classmethod
    def _spec(cls) -> tuple[type[StrEnum], dict[Any, tuple[_Field, ...]]]:
        """The action enum and each action's fields, read once from the annotations."""
        if cls not in Press._specs:
            hints = typing.get_type_hints(cls)
            actions = hints["action"]
            fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
            layouts: dict[Any, tuple[_Field, ...]] = {}
            for action in actions:
                names = cls.LAYOUT.get(action, "").split()
                spec = []
                for word in names:
                    name = word.rstrip("?")
                    if name not in fields or name == "action":
                        raise CallbackError(f"{cls.__name__}: no field {name}")
                    spec.append(_Field(name, _kinds(hints[name]), word.endswith("?")))
                layouts[action] = tuple(spec)
            unknown = set(cls.LAYOUT) - set(actions)
            if unknown or SEPARATOR in cls.PREFIX:
                raise CallbackError(f"{cls.__name__}: bad prefix or actions {unknown}")
            Press._specs[cls] = (actions, layouts)
        return Press._specs[cls]

    def pack(self) -> str:
        layout = self._spec()[1][self.action]
        carried = {f.name for f in layout} | {"action"}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            if field.name not in carried and getattr(self, field.name) != field.default:
                raise CallbackError(f"{self.action!r} does not carry {field.name}")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        written = list(layout)
        while written and written[-1].optional:  # left off at their default: shorter data
            if getattr(self, written[-1].name) != defaults[written[-1].name]:
                break
            written.pop()
        parts = [self.PREFIX, VERSION, self.action.value]
        parts += [_write(f.kinds, getattr(self, f.name), f.name) for f in written]
        data = SEPARATOR.join(parts)
        if len(data.encode()) > LIMIT:
            raise CallbackError(f"callback data over {LIMIT} bytes: {data}")
        return data

    @classmethod
    def parse(cls, data: str | None) -> Self | None:
        """The press this data stands for, or None when it is forged, garbled or outdated."""
        if not data or len(data.encode()) > LIMIT:
            return None
        prefix, _, rest = data.partition(SEPARATOR)
        version, _, rest = rest.partition(SEPARATOR)
        if prefix != cls.PREFIX or version not in READABLE or not rest:
            return None
        actions, layouts = cls._spec()
        code, *raw = rest.split(SEPARATOR)
        try:
            action = actions(code)
        except ValueError:
            return None
        layout = layouts[action]
        required = sum(not f.optional for f in layout)
        if not required <= len(raw) <= len(layout):
            return None
        values: dict[str, Any] = {"action": action}
        for field, text in zip(layout, raw, strict=False):
            value = _read(field.kinds, text)
            if value is None:
                return None
            values[field.name] = value
        return cls(**values)

    @classmethod
    def matches(cls, data: object) -> bool:
        """For a handler's `pattern`: this prefix and one of this model's actions."""
        if not isinstance(data, str):
            return False
        parts = data.split(SEPARATOR, 3)
        if len(parts) < 3 or parts[0] != cls.PREFIX or parts[1] not in READABLE:
            return False
        return parts[2] in {a.value for a in cls._spec()[0]}

    @classmethod
    def pattern(cls) -> str:
        """For a handler's `pattern`: everything under this prefix (stale data included)."""
        return f"^{cls.PREFIX}{SEPARATOR}"
