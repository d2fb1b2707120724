"""Every sentence a person reads comes from the gettext catalogues in `bot/locales/<lang>/`.

Message ids are stable keys (`onboarding.consent`), each feature keeps its own `.po` file, and
the catalogues are read with Babel at start (no compile step). Placeholders use `{name}`;
string values are HTML-escaped when filled in, because most of them were typed by a member.

A count is never written "membre(s)": such an entry has plural forms (`msgid_plural`, with
`msgstr[0]`, `msgstr[1]`... as gettext's `ngettext` reads them) and its form is chosen from its
`count` parameter by the catalogue's own `Plural-Forms` rule (French says "1 personne" and
"0 personne", English "0 people").
"""

from __future__ import annotations

import gettext
import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from babel.lists import format_list
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


PluralRule = Callable[[int], int]

NBSP: Final = "\u00a0"
_BEFORE_MARK = re.compile(r" ([!?:;»])")


def french_spacing(text: str) -> str:
    """French puts a non-breaking space before ! ? : ; and inside « », so that a line never
    starts with the mark. Applied to the catalogue's text only, never to what members typed.

    U+00A0 rather than the thinner U+202F: every phone font has it.
    """
    return _BEFORE_MARK.sub(NBSP + r"\1", text).replace("« ", "«" + NBSP)


def _as_is(text: str) -> str:
    return text


_TYPOGRAPHY: Final[dict[str, Callable[[str], str]]] = {"fr": french_spacing}


class Texts:
    def __init__(
        self,
        catalogues: dict[str, dict[str, str]],
        default: str = "fr",
        plurals: dict[str, dict[str, tuple[str, ...]]] | None = None,
        rules: dict[str, PluralRule] | None = None,
    ) -> None:
        self.catalogues = catalogues
        self.plurals = plurals or {lang: {} for lang in catalogues}
        self.rules = rules or {}
        self.default = default

    @classmethod
    def load(cls, default: str = "fr") -> Texts:
        catalogues: dict[str, dict[str, str]] = {}
        plurals: dict[str, dict[str, tuple[str, ...]]] = {}
        rules: dict[str, PluralRule] = {}
        root = resources.files("bot") / "locales"
        for lang in LANGUAGES:
            merged: dict[str, str] = {}
            forms: dict[str, tuple[str, ...]] = {}
            for entry in sorted((root / lang).iterdir(), key=lambda e: e.name):
                if not entry.name.endswith(".po"):
                    continue
                with entry.open("rb") as handle:
                    catalogue = read_po(handle, locale=lang)
                rules.setdefault(lang, gettext.c2py(catalogue.plural_expr))
                for message in catalogue:
                    key = str(
                        message.id[0] if isinstance(message.id, (tuple, list)) else message.id
                    )
                    if not key:
                        continue
                    if key in merged or key in forms:
                        raise ValueError(f"{lang}/{entry.name}: duplicate msgid {key}")
                    typeset = _TYPOGRAPHY.get(lang, _as_is)
                    if isinstance(message.string, tuple):
                        forms[key] = tuple(typeset(str(form or "")) for form in message.string)
                    else:
                        merged[key] = typeset(str(message.string or ""))
            catalogues[lang] = merged
            plurals[lang] = forms
        return cls(catalogues, default, plurals, rules)

    def has(self, key: str) -> bool:
        return key in self.catalogues[self.default] or key in self.plurals[self.default]

    def is_plural(self, key: str) -> bool:
        return key in self.plurals[self.default]

    def get(self, lang: str, key: str, **params: Any) -> str:
        """The text for `key`; a plural entry takes its form from the `count` parameter."""
        if lang not in self.catalogues:
            lang = self.default
        if self.is_plural(key):
            template: str | None = self._plural(lang, key, params)
        else:
            template = self.catalogues[lang].get(key) or self.catalogues[self.default].get(key)
        if not template:
            raise MissingText(key)
        if not params:
            return template
        for name, value in params.items():
            if isinstance(value, str) and value.endswith((".", "…", "!", "?")):
                # "Camille D." before a full stop: one period, not two.
                template = template.replace("{" + name + "}.", "{" + name + "}")
        values = {name: _safe(value) for name, value in params.items()}
        return template.format(**values)

    def _plural(self, lang: str, key: str, params: dict[str, Any]) -> str:
        count = params.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            raise TypeError(f"{key} has plural forms: give it an integer count=")
        if key not in self.plurals[lang]:
            lang = self.default
        forms = self.plurals[lang][key]
        index = self.rules[lang](count)
        return forms[min(index, len(forms) - 1)]

    def counts(self, lang: str, *parts: tuple[str, int]) -> Raw:
        """Several counts in one phrase ("2 soutiens et 1 personne..."), leaving out the zeros.

        Each part is a plural entry and its count; the parts are joined the language's way.
        """
        shown = [self.get(lang, key, count=count) for key, count in parts if count]
        return Raw(format_list(shown, locale=lang if lang in self.catalogues else self.default))

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
