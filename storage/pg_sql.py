"""SQL as repositories write it (`?` placeholders, a few SQLite names), as PostgreSQL wants it.

Translated once per distinct statement (cached): `?` and `?NNN` become `$n` outside string
literals, quoted names and comments; `group_concat(x, sep)` becomes a sorted `string_agg`.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """`?`-style SQL as PostgreSQL wants it (see the module docstring)."""
    if "group_concat" in sql:
        sql = _GROUP_CONCAT.sub(_group_concat, sql)
    out: list[str] = []
    i, n, count = 0, len(sql), 0
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = sql.find(c, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == c:  # doubled quote inside
                end = sql.find(c, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end])
            i = end
        elif c == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            # As SQLite numbers them: `?NNN` is NNN, a bare `?` one more than the largest yet.
            number = int(sql[i + 1 : j]) if j > i + 1 else count + 1
            count = max(count, number)
            out.append(f"${number}")
            i = j
        else:
            j = i
            while j < n and sql[j] not in "'\"-?":
                j += 1
            if j == i:  # a lone '-'
                j = i + 1
            out.append(sql[i:j])
            i = j
    return "".join(out)


_GROUP_CONCAT = re.compile(
    r"\bgroup_concat\(\s*([\w.]+)\s*,\s*(?:char\(\s*(\d+)\s*\)|('[^']*'))\s*\)", re.IGNORECASE
)


def _group_concat(match: re.Match[str]) -> str:
    column, code, literal = match.groups()
    separator = f"chr({code})" if code else literal
    # Sorted, as SQLite gives them when it reads the (member, value) primary key in order.
    return f"string_agg({column}::text, {separator} ORDER BY {column})"
