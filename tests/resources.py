"""Nothing a test opens may outlive it, and the test process always exits.

aiosqlite runs each connection on a thread that is not a daemon: one connection left open keeps
the interpreter waiting for that thread at exit, for ever. A CI run once hung there for an hour
after its last test had passed. So:
- each test that leaves an SQLite connection running fails at teardown, naming it;
- a log handler a test installed goes away with the test;
- at the end of the run the garbage collector closes what is left in reference cycles, any
  thread still running is printed with its stack, and a watchdog ends the process with the
  run's own status if the interpreter still does not exit (the stacks say who held it).
"""

from __future__ import annotations

import faulthandler
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest

_WORKER = "_connection_worker_thread"
# Seconds the interpreter gets to exit after the run (a test of this module shortens it).
EXIT_GRACE_S = float(os.environ.get("ESSAIM_TEST_EXIT_GRACE_S", "60"))


def sqlite_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive() and _WORKER in t.name}


def _left_running(started: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started during the test and still running once the garbage collector has run
    (a connection dropped without close() is stopped by its finaliser; a referenced one is not)."""
    gc.collect()
    deadline = time.monotonic() + 2.0
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in started if t.is_alive()]


@pytest.fixture(autouse=True)
def _no_connection_left_open() -> Iterator[None]:
    before = sqlite_threads()
    yield
    started = sqlite_threads() - before
    if not started:
        return
    running = _left_running(started)
    if running:
        pytest.fail(
            f"{len(running)} SQLite connection(s) left open by this test: close every database "
            "you open (async with / try-finally); an open one keeps the test process from exiting",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _no_log_handler_left() -> Iterator[None]:
    """A test that runs the bot's `main()` in-process installs the root log handler on the
    stream pytest captured for that test; once that stream is closed, every later log line
    would print a "Logging error" traceback."""
    kept = list(logging.root.handlers)
    yield
    for handler in list(logging.root.handlers):
        if handler not in kept:
            logging.root.removeHandler(handler)


def _print_running_threads() -> None:
    frames = sys._current_frames()
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        sys.stderr.write(f"\nthread still running at exit: {thread.name}\n")
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            import traceback

            sys.stderr.write("".join(traceback.format_stack(frame)))


_status = {"exit": 0}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _status["exit"] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The last hook of the run: what still runs now would hold the interpreter at exit."""
    gc.collect()
    status = _status["exit"]
    _print_running_threads()

    def watchdog() -> None:
        time.sleep(EXIT_GRACE_S)
        sys.stderr.write(
            f"\nthe test process did not exit {EXIT_GRACE_S:.0f} s after the run: "
            "stacks of every thread follow, then it ends with the run's status\n"
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(status)

    threading.Thread(target=watchdog, name="exit-watchdog", daemon=True).start()
