"""The PostgreSQL backend's translation of `?`-style SQL (no server needed)."""

from __future__ import annotations

from storage.pg_sql import translate


def test_placeholders_are_numbered_as_sqlite_numbers_them() -> None:
    assert translate("SELECT ? , ?, ?") == "SELECT $1 , $2, $3"
    assert translate("WHERE a = ?1 OR b = ?1 AND c = ?") == "WHERE a = $1 OR b = $1 AND c = $2"
    assert translate("WHERE a = ?3 AND b = ?1 AND c = ?") == "WHERE a = $3 AND b = $1 AND c = $4"


def test_question_marks_in_literals_names_and_comments_stay() -> None:
    sql = "SELECT '?', 'it''s ?', \"col?\" FROM t -- why?\nWHERE x = ?"
    assert translate(sql) == "SELECT '?', 'it''s ?', \"col?\" FROM t -- why?\nWHERE x = $1"


def test_group_concat_becomes_a_sorted_string_agg() -> None:
    assert translate("SELECT group_concat(theme, char(31)) FROM t") == (
        "SELECT string_agg(theme::text, chr(31) ORDER BY theme) FROM t"
    )
    assert translate("SELECT group_concat(t.x, ', ') FROM t WHERE a = ?") == (
        "SELECT string_agg(t.x::text, ', ' ORDER BY t.x) FROM t WHERE a = $1"
    )
