"""The guard of tests/resources.py can fail: a leaked SQLite connection fails its test, and a
thread that never ends does not keep the test process alive (it exits with the run's status)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

LEAKY = """
import aiosqlite

KEPT = []

async def test_leaves_a_connection_open(tmp_path):
    KEPT.append(await aiosqlite.connect(str(tmp_path / "x.sqlite3")))

async def test_closes_its_connection(tmp_path):
    async with aiosqlite.connect(str(tmp_path / "y.sqlite3")) as db:
        await db.execute("SELECT 1")

def test_last_closes_the_kept_one():
    import asyncio
    asyncio.run(KEPT.pop().close())
"""

STUCK = """
import threading

def test_starts_a_thread_that_never_ends():
    threading.Thread(target=threading.Event().wait, name="never-ends").start()
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("ESSAIM_TEST_EXIT_GRACE_S", "3")
    pytester.makeconftest('pytest_plugins = ["tests.resources"]')
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    return pytester


def test_a_connection_left_open_fails_its_test(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_leaky=LEAKY)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*test_leaves_a_connection_open*", "*left open by this test*"])


def test_a_thread_that_never_ends_cannot_hold_the_process(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_stuck=STUCK)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    errors = "\n".join(result.errlines)
    assert "thread still running at exit: never-ends" in errors
    assert "did not exit 3 s after the run" in errors
