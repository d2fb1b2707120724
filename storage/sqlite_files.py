"""SQLite database files seen from outside a connection: checked before start (check-config),
restored from a backup, and always created readable by their owner only."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from storage.db import DatabaseProblem, latest_version, too_new


def create_private(path: Path) -> None:
    """Create the file readable by its owner only, whatever the umask (it holds personal data)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    make_private(path)


def make_private(path: Path) -> None:
    if path.exists():
        os.chmod(path, 0o600)


def inspect_file(path: Path, *, must_exist: bool = False) -> str | None:
    """None when the file is absent (created at start) or a sound database of a known schema."""
    if must_exist and not path.exists():
        return f"database.path: {path} does not exist"
    if not path.exists():
        if not path.parent.is_dir():
            return f"database.path: directory {path.parent} does not exist"
        return None
    return file_problem(path, f"database.path: {path} cannot be read")


def file_problem(path: Path, unreadable: str) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            integrity = conn.execute("PRAGMA integrity_check").fetchone()
        conn.close()
    except sqlite3.DatabaseError as error:
        return f"{unreadable} ({error})"
    if version > latest_version():
        return too_new(str(path), version, latest_version())
    if integrity is None or integrity[0] != "ok":
        return (
            f"the database {path} fails its integrity check: restore a backup "
            "(python -m bot restore --from FILE)"
        )
    return None


def restore_file(dest: Path, source: Path) -> None:
    """Copy a backup over the database file (and drop its stale WAL) through the backup API."""
    if not source.exists():
        raise DatabaseProblem(f"{source}: no such file")
    problem = file_problem(source, f"{source}: not a readable SQLite database")
    if problem:
        raise DatabaseProblem(problem)
    tmp = dest.with_name(dest.name + ".restore")
    tmp.unlink(missing_ok=True)
    create_private(tmp)
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(tmp) as copy:
            src.backup(copy)
        copy.close()
        src.close()
    except sqlite3.Error as error:
        tmp.unlink(missing_ok=True)
        raise DatabaseProblem(f"restore failed: {error}") from error
    for suffix in ("-wal", "-shm"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    os.replace(tmp, dest)
