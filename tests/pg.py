"""The suite on PostgreSQL: when ESSAIM_TEST_POSTGRES_URL names a server, every test gets a
fresh database of its own, copied from a template migrated once per run (a copy takes a few
milliseconds, a migration much longer). Without it the suite runs on SQLite only."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from itertools import count

import asyncpg

URL = os.environ.get("ESSAIM_TEST_POSTGRES_URL") or None
_TEMPLATE = f"essaim_template_{os.getpid()}"
_numbers = count(1)
_template_ready = False


def _replace_db(url: str, name: str) -> str:
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    query = ""
    if "?" in tail:
        query = "?" + tail.split("?", 1)[1]
    return f"{scheme}://{host}/{name}{query}"


async def _admin() -> asyncpg.Connection:
    assert URL is not None
    return await asyncpg.connect(URL)


async def _ensure_template() -> None:
    global _template_ready
    if _template_ready:
        return
    from storage.postgres import PostgresDatabase

    admin = await _admin()
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE}")
        await admin.execute(f"CREATE DATABASE {_TEMPLATE} TEMPLATE template0")
    finally:
        await admin.close()
    db = PostgresDatabase(_replace_db(URL or "", _TEMPLATE), min_size=1, max_size=1)
    await db.connect()
    await db.close()
    _template_ready = True


async def fresh_database(*, empty: bool = False) -> AsyncIterator[str]:
    """Yield the URL of a new database (migrated, or `empty`), dropped afterwards."""
    if not empty:
        await _ensure_template()
    name = f"essaim_t{os.getpid()}_{next(_numbers)}"
    admin = await _admin()
    try:
        template = "template0" if empty else _TEMPLATE
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await admin.close()
    try:
        yield _replace_db(URL or "", name)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


async def drop_template() -> None:
    if not _template_ready:
        return
    admin = await _admin()
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE} WITH (FORCE)")
    finally:
        await admin.close()
