"""Strict parsing of message text the way the Bot API does it.

The fake server must reject exactly what Telegram rejects, otherwise a bot that passes its tests
would still crash in production on "can't parse entities". The parser also yields the visible
text and the entity list, because lengths are checked on the visible text (in UTF-16 code units)
and because the bot receives entities back in the returned Message.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "EntityParseError",
    "parse_html",
    "parse_markdown_v2",
    "parse_text",
    "strip_whitespace",
    "utf16_len",
]


class EntityParseError(ValueError):
    """Raised with the tail of Telegram's "can't parse entities: ..." description."""


def utf16_len(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units, not code points."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
_ALL_TAGS = frozenset(_SIMPLE_TAGS) | {"a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(
    r"""\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
)
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entities(raw: str) -> str:
    """Decode the entities Telegram knows; unknown named entities stay literal, as in Telegram."""

    def repl(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith(("#x", "#X")):
            code = int("0x" + body[2:], 0)
        elif body.startswith("#"):
            code = int(body[1:])
        else:
            return _NAMED_ENTITIES.get(body, match.group(0))
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return match.group(0)
        return chr(code)

    return _ENTITY_RE.sub(repl, raw) if "&" in raw else raw


def _parse_attributes(text: str, start: int, raw: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        if raw[pos:].strip() == "":
            break
        match = _ATTR_RE.match(raw, pos)
        if match is None or match.end() == pos:
            raise EntityParseError(
                f"Expected equal sign in declaration of an attribute of a start tag at byte "
                f"offset {_byte_offset(text, start)}"
            )
        value = match.group(2) or ""
        if value[:1] in {'"', "'"}:
            value = value[1:-1]
        attrs[match.group(1).lower()] = _decode_entities(value)
        pos = match.end()
    return attrs


def _end_tag(
    text: str,
    lt: int,
    gt: int,
    stack: list[tuple[str, int, dict[str, Any] | None]],
    out_len: int,
) -> dict[str, Any] | None:
    """Close the innermost tag; return its entity when it covers some text."""
    name = text[lt + 2 : gt].strip().lower()
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, lt)}")
    open_name, start, closing = stack.pop()
    if name != open_name:
        raise EntityParseError(
            f"Unmatched end tag at byte offset {_byte_offset(text, lt)}, expected "
            f'"</{open_name}>", found "</{name}>"'
        )
    if closing is not None and out_len > start:
        entity = {"type": closing["type"], "offset": start, "length": out_len - start}
        entity.update({k: v for k, v in closing.items() if k != "type"})
        return entity
    return None


def _start_template(
    name: str, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, Any] | None]]
) -> dict[str, Any] | None:
    """The entity a start tag opens (None for a tag that only decorates its parent)."""
    template: dict[str, Any] | None
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            template = {
                "type": "text_mention",
                "user": {
                    "id": int(user_id) if user_id.isdigit() else 0,
                    "is_bot": False,
                    "first_name": "",
                },
            }
        else:
            template = {"type": "text_link", "url": href} if href else None
    elif name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        template = {"type": "spoiler"}
    elif name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise EntityParseError(
                "Custom emoji entity must contain a valid custom emoji identifier"
            )
        template = {"type": "custom_emoji", "custom_emoji_id": emoji_id}
    elif name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        template = {"type": kind}
    elif name == "code" and stack and stack[-1][0] == "pre":
        language = attrs.get("class", "")
        pre_template = stack[-1][2]
        if language.startswith("language-") and pre_template is not None:
            pre_template["language"] = language.removeprefix("language-")
        template = None
    else:
        template = {"type": _SIMPLE_TAGS[name]}
    return template


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (visible text, entities) for parse_mode=HTML, or raise EntityParseError.

    Rules mirror the Bot API: only the documented tags, properly nested; a bare "<" is an
    unsupported start tag; only &lt; &gt; &amp; &quot; and numeric entities are decoded.
    """
    out: list[str] = []
    out_len = 0  # UTF-16 length of the visible text produced so far
    entities: list[dict[str, Any]] = []
    # stack items: (tag name, start offset in utf16, entity template or None)
    stack: list[tuple[str, int, dict[str, Any] | None]] = []
    i = 0
    n = len(text)
    while i < n:
        lt = text.find("<", i)
        chunk_end = n if lt == -1 else lt
        if chunk_end > i:
            piece = _decode_entities(text[i:chunk_end])
            out.append(piece)
            out_len += utf16_len(piece)
        if lt == -1:
            break
        gt = text.find(">", lt)
        if gt == -1:
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, lt)}")
        if lt + 1 < n and text[lt + 1] == "/":
            entity = _end_tag(text, lt, gt, stack, out_len)
            if entity is not None:
                entities.append(entity)
            i = gt + 1
            continue
        inner = text[lt + 1 : gt]
        name_match = re.match(r"[a-zA-Z][a-zA-Z0-9-]*", inner)
        name = name_match.group(0).lower() if name_match else ""
        if name not in _ALL_TAGS or (
            name_match and name_match.end() < len(inner) and not inner[name_match.end()].isspace()
        ):
            shown = re.split(r"[\s>]", inner, maxsplit=1)[0] if inner else ""
            raise EntityParseError(
                f'Unsupported start tag "{shown}" at byte offset {_byte_offset(text, lt)}'
            )
        attrs = _parse_attributes(text, lt, inner[len(name) :])
        template = _start_template(name, attrs, stack)
        stack.append((name, out_len, template))
        i = gt + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS: dict[str, str] = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (visible text, entities) for parse_mode=MarkdownV2, or raise EntityParseError.

    Covers what bots actually use: *bold* _italic_ __underline__ ~strike~ ||spoiler||
    `code` ```pre``` [text](url) and backslash escapes; any unescaped reserved character is
    refused with Telegram's wording, which is the classic production crash this catches.
    """
    return _Md2(text).parse()


class _Md2:
    """One MarkdownV2 text being read: each step handles the construct at position i and
    returns where the next one starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.out_len = 0
        self.entities: list[dict[str, Any]] = []
        self.stack: list[tuple[str, int, int]] = []  # (marker, utf16 start, byte offset)
        self.link_starts: list[tuple[int, int]] = []

    def emit(self, piece: str) -> None:
        self.out.append(piece)
        self.out_len += utf16_len(piece)

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.out_len > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.out_len - start, **extra}
            )

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text = self.text
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i = self.escape(i)
            elif ch == "`":
                i = self.code(i)
            elif ch == "[":
                self.link_starts.append((self.out_len, i))
                i += 1
            elif ch == "]" and self.link_starts:
                i = self.link_end(i)
            elif (marker := _md2_marker(text, i)) is not None:
                i = self.toggle(marker, i)
            elif ch in _MD2_RESERVED:
                raise EntityParseError(
                    f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
                )
            else:
                self.emit(ch)
                i += 1
        self.finish()
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def escape(self, i: int) -> int:
        text = self.text
        if i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126:
            self.emit(text[i + 1])
            return i + 2
        raise EntityParseError(
            "Character '\\' is reserved and must be escaped with the preceding '\\'"
        )

    def code(self, i: int) -> int:
        text = self.text
        fence = 3 if text.startswith("```", i) else 1
        end = text.find("`" * fence, i + fence)
        if end == -1:
            kind = "Pre" if fence == 3 else "Code"
            raise EntityParseError(
                f"Can't find end of {kind} entity at byte offset {_byte_offset(text, i)}"
            )
        body = text[i + fence : end]
        language = ""
        if fence == 3 and "\n" in body:
            first, rest = body.split("\n", 1)
            if first and " " not in first:
                language, body = first, rest
        body = re.sub(r"\\([\\`])", r"\1", body)
        start = self.out_len
        self.emit(body)
        extra = {"language": language} if language else {}
        self.add("pre" if fence == 3 else "code", start, **extra)
        return end + fence

    def link_end(self, i: int) -> int:
        text = self.text
        start, _ = self.link_starts.pop()
        if not text.startswith("(", i + 1):
            return i + 1
        end = text.find(")", i + 2)
        if end == -1:
            raise EntityParseError(
                f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
            )
        url = text[i + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
        self.add("text_link", start, url=url)
        return end + 1

    def toggle(self, marker: str, i: int) -> int:
        if self.stack and self.stack[-1][0] == marker:
            _, start, _ = self.stack.pop()
            self.add(_MD2_MARKERS[marker], start)
        else:
            self.stack.append((marker, self.out_len, _byte_offset(self.text, i)))
        return i + len(marker)

    def finish(self) -> None:
        if self.stack:
            marker, _, offset = self.stack[-1]
            kind = _MD2_MARKERS[marker].capitalize()
            raise EntityParseError(f"Can't find end of {kind} entity at byte offset {offset}")
        if self.link_starts:
            raise EntityParseError(
                f"Can't find end of TextUrl entity at byte offset "
                f"{_byte_offset(self.text, self.link_starts[-1][1])}"
            )


def _md2_marker(text: str, i: int) -> str | None:
    for candidate in ("__", "||"):
        if text.startswith(candidate, i):
            return candidate
    return text[i] if text[i] in "*_~" else None


def strip_whitespace(
    text: str, entities: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims leading and trailing whitespace of texts and captions; shift entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Dispatch on parse_mode (case-insensitive, like the Bot API) and trim the result."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        visible, found = parse_html(text)
    elif mode == "markdownv2":
        visible, found = parse_markdown_v2(text)
    elif mode in {"", "none"}:
        visible, found = text, list(entities or [])
    elif mode == "markdown":
        # Legacy Markdown is lenient; only strip the markers so the visible text is realistic.
        visible, found = re.sub(r"(?<!\\)[*_`]", "", text), []
    else:
        raise EntityParseError("Unsupported parse_mode")
    return strip_whitespace(visible, found)
