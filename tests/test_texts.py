"""Catalogues: every message in both languages, same placeholders, no prose in code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.texts import LANGUAGES, Texts, placeholders

ROOT = Path(__file__).resolve().parents[1]


def test_every_message_exists_in_every_language():
    texts = Texts.load()
    keys = {lang: set(texts.catalogues[lang]) for lang in LANGUAGES}
    assert keys["fr"] == keys["en"], keys["fr"] ^ keys["en"]
    empty = [(lang, k) for lang in LANGUAGES for k, v in texts.catalogues[lang].items() if not v]
    assert empty == []


def test_placeholders_match_between_languages():
    texts = Texts.load()
    mismatched = [
        key
        for key, french in texts.catalogues["fr"].items()
        if placeholders(french) != placeholders(texts.catalogues["en"][key])
    ]
    assert mismatched == []


def test_keys_used_in_code_exist():
    texts = Texts.load()
    pattern = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+$")
    missing = []
    for path in list((ROOT / "handlers").glob("*.py")) + list((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("t", "label", "get") and len(node.args) >= 3:
                    key = node.args[2] if name != "get" else node.args[1]
                    if (
                        isinstance(key, ast.Constant)
                        and isinstance(key.value, str)
                        and pattern.match(key.value)
                        and not texts.has(key.value)
                    ):
                        missing.append(f"{path.name}: {key.value}")
    assert missing == []


def test_member_input_is_escaped():
    texts = Texts.load()
    rendered = texts.get("fr", "onboarding.done", name="<script>&")
    assert "&lt;script&gt;&amp;" in rendered
