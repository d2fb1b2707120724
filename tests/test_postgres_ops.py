"""Operating a PostgreSQL deployment: check-config's one-line answers, `migrate-to` from an
SQLite deployment, and backup / restore through pg_dump and pg_restore."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.ops import check_config
from storage.db import open_database
from tests import pg
from tests.conftest import BotHarness
from tests.helpers import seed_members

pytestmark = pytest.mark.skipif(pg.URL is None, reason="ESSAIM_TEST_POSTGRES_URL is not set")


def config_with(path: Path, url: str, sqlite: Path | None = None) -> Path:
    database = f'url = "{url}"\n' if url else ""
    if sqlite is not None:
        database += f'path = "{sqlite}"\n'
    path.write_text(f'territories = ["Blaye"]\n\n[database]\n{database}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda url: pg._replace_db(url, "no_such_db"), "does not exist (createdb it first)"),
        (lambda url: url.replace("://postgres@", "://nobody@"), "login refused for"),
        (lambda url: "postgresql://postgres@127.0.0.1:1/x", "cannot reach the server of"),
    ],
)
def test_check_config_names_a_bad_database_url_in_one_line(
    tmp_path: Path, capsys: Any, change: Any, expected: str
) -> None:
    assert pg.URL is not None
    config = config_with(tmp_path / "config.toml", change(pg.URL))
    assert check_config(config) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("database.url: ") and expected in lines[0]


async def test_check_config_accepts_a_reachable_database(tmp_path: Path, capsys: Any) -> None:
    assert pg.URL is not None
    config = config_with(tmp_path / "config.toml", pg.URL)
    assert await asyncio.to_thread(check_config, config) == 0


async def test_migrate_to_copies_everything_then_refuses_a_filled_target(
    make_bot: Any, tmp_path: Path
) -> None:
    sqlite = tmp_path / "old.sqlite3"
    old: BotHarness = await make_bot(database={"url": None, "path": str(sqlite)})
    assert old.services.db.dialect == "sqlite"
    await seed_members(old, range(1, 51), ambassador=True)
    await old.services.db.execute("UPDATE members SET referred_by = 1 WHERE telegram_id = 2")
    await old.services.db.execute(
        "INSERT INTO audit_log (actor_id, action, details, at) VALUES (?, ?, ?, ?)",
        (1, "seed", {"n": 1}, old.clock.now()),
    )
    await old.stop()
    config = config_with(tmp_path / "config.toml", "", sqlite)
    async for url in pg.fresh_database(empty=True):
        args = ["--config", str(config), "migrate-to", "--url", url]
        assert await asyncio.to_thread(main, args) == 0
        db = await open_database(url)
        try:
            members = await db.fetch_all(
                "SELECT telegram_id, referred_by, is_ambassador FROM members ORDER BY 1"
            )
            assert len(members) == 50 and members[1]["referred_by"] == 1
            assert all(m["is_ambassador"] is True for m in members)
            audit = await db.fetch_one("SELECT id, details FROM audit_log")
            assert audit is not None and audit.json("details") == {"n": 1}
            fresh = await db.execute_returning_id(
                "INSERT INTO audit_log (actor_id, action, at) VALUES (?, ?, ?)",
                (1, "after", old.clock.now()),
            )
            assert fresh > audit["id"]  # the identity sequence moved past the copied ids
        finally:
            await db.close()
        assert await asyncio.to_thread(main, args) == 1  # not empty any more


@pytest.mark.skipif(
    shutil.which("pg_dump") is None
    and not list(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")),
    reason="pg_dump is not installed",
)
async def test_backup_and_restore_through_pg_dump(bot: BotHarness, tmp_path: Path) -> None:
    url = bot.settings.database.url
    assert url is not None
    await seed_members(bot, range(1, 21))
    config = config_with(tmp_path / "config.toml", url)
    archive = tmp_path / "essaim.dump"
    code = await asyncio.to_thread(main, ["--config", str(config), "backup", "--to", str(archive)])
    assert code == 0 and archive.stat().st_size > 0
    await seed_members(bot, range(100, 110))
    await bot.stop()
    code = await asyncio.to_thread(
        main, ["--config", str(config), "restore", "--from", str(archive)]
    )
    assert code == 0
    await bot.start()
    assert len(await bot.state.member_ids()) == 20
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"not an archive")
    code = await asyncio.to_thread(
        main, ["--config", str(config), "restore", "--from", str(broken)]
    )
    assert code == 1
    assert len(await bot.state.member_ids()) == 20
