"""Every sentence a person reads comes from the gettext catalogues in `bot/locales/<lang>/`.

Message ids are stable keys (`onboarding.consent`), each feature keeps its own `.po` file, and
the catalogues are read with Babel at start (no compile step). Placeholders use `{name}`;
string values are HTML-escaped when filled in, because most of them were typed by a member.
"""

from __future__ import annotations

import html
import re
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from babel.messages.pofile import read_po

LANGUAGES: Final = ("fr", "en")
_FIELDS = string.Formatter()


@dataclass(frozen=True)
class Raw:
    """A value that is already safe HTML (e.g. a rendered list), inserted without escaping."""

    value: str


class MissingText(KeyError):
    pass


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in _FIELDS.parse(template) if name}


def pick_language(stored: str | None, telegram_code: str | None, default: str) -> str:
    """The member's own choice, else their Telegram app's language, else the deployment's."""
    if stored in LANGUAGES:
        return stored
    if telegram_code:
        short = telegram_code.split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return default


class Texts:
    def __init__(self, catalogues: dict[str, dict[str, str]], default: str = "fr") -> None:
        self.catalogues = catalogues
        self.default = default

    @classmethod
    def load(cls, default: str = "fr") -> Texts:
        catalogues: dict[str, dict[str, str]] = {}
        root = resources.files("bot") / "locales"
        for lang in LANGUAGES:
            merged: dict[str, str] = {}
            for entry in sorted((root / lang).iterdir(), key=lambda e: e.name):
                if not entry.name.endswith(".po"):
                    continue
                with entry.open("rb") as handle:
                    catalogue = read_po(handle, locale=lang)
                for message in catalogue:
                    if not message.id or not isinstance(message.id, str):
                        continue
                    if message.id in merged:
                        raise ValueError(f"{lang}/{entry.name}: duplicate msgid {message.id}")
                    merged[message.id] = str(message.string or "")
            catalogues[lang] = merged
        return cls(catalogues, default)

    def has(self, key: str) -> bool:
        return key in self.catalogues[self.default]

    def get(self, lang: str, key: str, **params: Any) -> str:
        catalogue = self.catalogues.get(lang) or self.catalogues[self.default]
        template = catalogue.get(key) or self.catalogues[self.default].get(key)
        if not template:
            raise MissingText(key)
        if not params:
            return template
        values = {name: _safe(value) for name, value in params.items()}
        return template.format(**values)

    def choices(self, lang: str, prefix: str) -> dict[str, str]:
        """All texts under a key prefix, e.g. the labels of an enumeration."""
        catalogue = self.catalogues.get(lang) or self.catalogues[self.default]
        return {k[len(prefix) :]: v for k, v in catalogue.items() if k.startswith(prefix)}


def _safe(value: Any) -> Any:
    if isinstance(value, Raw):
        return value.value
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


_TAG = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    """Visible text of a catalogue entry, for places where Telegram shows no HTML (buttons)."""
    return html.unescape(_TAG.sub("", html_text))
