"""Catalogues: every message in both languages, same placeholders, no prose in code."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.texts import LANGUAGES, Texts, placeholders

ROOT = Path(__file__).resolve().parents[1]
CODE = ("bot", "handlers", "storage")
KEY = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+\.?$")
# Dotted strings the code passes on that are not catalogue keys: audit actions and file names.
NOT_TEXT_CALLS = frozenset({"record"})
NOT_TEXT_KEYWORDS = frozenset({"filename"})


def _entries(texts: Texts, lang: str) -> dict[str, tuple[str, ...]]:
    """Every entry as its forms: one for a plain text, one per plural form for a count."""
    entries = {key: (value,) for key, value in texts.catalogues[lang].items()}
    entries.update(texts.plurals[lang])
    return entries


def test_every_message_exists_in_every_language():
    texts = Texts.load()
    keys = {lang: set(_entries(texts, lang)) for lang in LANGUAGES}
    assert keys["fr"] == keys["en"], keys["fr"] ^ keys["en"]
    assert set(texts.plurals["fr"]) == set(texts.plurals["en"])
    empty = [
        (lang, k)
        for lang in LANGUAGES
        for k, forms in _entries(texts, lang).items()
        if not all(forms)
    ]
    assert empty == []


def test_placeholders_match_between_languages():
    """Same placeholders everywhere; a singular form may say "chaque jour" instead of {count}."""
    texts = Texts.load()
    mismatched = []
    for key, french in _entries(texts, "fr").items():
        forms = french + _entries(texts, "en")[key]
        if len({frozenset(placeholders(form) - {"count"}) for form in forms}) != 1:
            mismatched.append(key)
    assert mismatched == []


def test_plural_entries_have_every_form_and_a_count():
    texts = Texts.load()
    assert len(texts.plurals["fr"]) >= 10
    for lang in LANGUAGES:
        for key, forms in texts.plurals[lang].items():
            assert len(forms) == 2, (lang, key)  # nplurals=2 in both languages
            assert "count" in placeholders(forms[-1]), (lang, key)


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [
        ("fr", 0, "0 personne recherchée"),
        ("fr", 1, "1 personne recherchée"),
        ("fr", 2, "2 personnes recherchées"),
        ("en", 0, "0 people needed"),
        ("en", 1, "1 person needed"),
        ("en", 12, "12 people needed"),
    ],
)
def test_counts_take_the_languages_plural_form(lang, count, expected):
    assert Texts.load().get(lang, "calls.needed", count=count) == expected


def test_a_plural_entry_without_a_count_is_refused():
    with pytest.raises(TypeError):
        Texts.load().get("fr", "calls.needed")


def test_no_text_writes_a_plural_in_brackets():
    texts = Texts.load()
    bracketed = re.compile(r"\w\((s|x|e|es|nes)\)")
    found = [
        (lang, key, form)
        for lang in LANGUAGES
        for key, forms in _entries(texts, lang).items()
        for form in forms
        if bracketed.search(form)
    ]
    assert found == []


@dataclass
class CodeKeys:
    """Every catalogue key the code names, as a literal or as an f-string pattern."""

    literals: dict[str, list[str]] = field(default_factory=dict)
    patterns: dict[str, list[str]] = field(default_factory=dict)
    plural_calls_without_count: list[str] = field(default_factory=list)


def _pattern(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(re.escape(str(value.value)))
        else:
            parts.append(r"[a-z_0-9.]+")
    return "".join(parts)


def _skipped(tree: ast.AST) -> set[int]:
    """Nodes that are no catalogue key: f-string pieces, audit actions, file names."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(value) for value in node.values)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in NOT_TEXT_CALLS:
                skipped.update(id(arg) for arg in node.args)
            skipped.update(id(k.value) for k in node.keywords if k.arg in NOT_TEXT_KEYWORDS)
    return skipped


def scan_code(texts: Texts) -> CodeKeys:
    """Walk the code: every dotted string that starts like a catalogue key is one.

    This does not depend on which helper carries the key (`texts.get`, `t`, `label`, `_error`,
    `button`, `_t`, `_notice`, a table of prompts...): any literal that looks like a key names one.
    """
    prefixes = {key.split(".")[0] for key in _entries(texts, texts.default)}
    found = CodeKeys()
    paths = [path for folder in CODE for path in sorted((ROOT / folder).rglob("*.py"))]
    for path in paths:
        tree = ast.parse(path.read_text())
        skipped = _skipped(tree)
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if KEY.match(value) and value.split(".")[0] in prefixes:
                    found.literals.setdefault(value, []).append(f"{where}:{node.lineno}")
            elif isinstance(node, ast.JoinedStr):
                pattern = _pattern(node)
                head = pattern.split("\\.")[0]
                if "\\." in pattern and head in prefixes:
                    found.patterns.setdefault(pattern, []).append(f"{where}:{node.lineno}")
            elif isinstance(node, ast.Call) and node.args:
                for arg in node.args:
                    if (
                        isinstance(arg, ast.Constant)
                        and isinstance(arg.value, str)
                        and texts.is_plural(arg.value)
                        and not any(k.arg == "count" for k in node.keywords)
                    ):
                        found.plural_calls_without_count.append(f"{where}:{node.lineno}")
    return found


def _names(texts: Texts, name: str, keys: set[str]) -> bool:
    """A literal names a key, or (ending with a dot) a family of keys such as `stats.role.`."""
    if name.endswith("."):
        return any(key.startswith(name) for key in keys)
    return texts.has(name)


def _matches(pattern: str, key: str) -> bool:
    """An f-string names one key, or (ending with a dot) the start of a family of keys."""
    if pattern.endswith("\\."):
        return re.match(pattern, key) is not None
    return re.fullmatch(pattern, key) is not None


def test_keys_used_in_code_exist():
    texts = Texts.load()
    keys = set(_entries(texts, texts.default))
    found = scan_code(texts)
    assert len(found.literals) > 200  # the scan itself works: it sees the code's keys
    missing = [
        f"{where[0]}: {name}"
        for name, where in found.literals.items()
        if not _names(texts, name, keys)
    ]
    missing += [
        f"{where[0]}: {pattern}"
        for pattern, where in found.patterns.items()
        if not any(_matches(pattern, key) for key in keys)
    ]
    assert missing == [], "keys named in code but absent from the catalogues"
    assert found.plural_calls_without_count == [], "plural entries need count="


def test_every_catalogue_entry_is_used_by_code():
    texts = Texts.load()
    found = scan_code(texts)
    families = [name for name in found.literals if name.endswith(".")]
    unused = [
        key
        for key in _entries(texts, texts.default)
        if key not in found.literals
        and not any(key.startswith(family) for family in families)
        and not any(_matches(pattern, key) for pattern in found.patterns)
    ]
    assert unused == []


def test_a_missing_key_is_caught(monkeypatch):
    """The scan fails when a key the code names is gone (the test above cannot pass vacuously)."""
    texts = Texts.load()
    del texts.catalogues["fr"]["calls.answer.yes"]
    del texts.plurals["fr"]["calls.needed"]
    found = scan_code(texts)
    keys = set(_entries(texts, "fr"))
    missing = {name for name in found.literals if not _names(texts, name, keys)}
    assert {"calls.answer.yes", "calls.needed"} <= missing


def test_member_input_is_escaped():
    texts = Texts.load()
    rendered = texts.get("fr", "onboarding.done", name="<script>&")
    assert "&lt;script&gt;&amp;" in rendered


def test_no_point_median_in_what_members_read():
    """One inclusive convention: words that fit everyone, or both forms spelled out."""
    texts = Texts.load()
    median = re.compile(r"[^\W\d_]·[^\W\d_]")
    found = [
        key for key, forms in _entries(texts, "fr").items() for f in forms if median.search(f)
    ]
    assert found == []
