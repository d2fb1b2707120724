"""Gardener pairs at region scale: the matcher and the check-in sweeper's due query.

(a) `match()` on 10,000 citizen gardeners x 1,000 technicians with random themes, territories
    and capacities: median of 5 runs, a capacity check, and a baseline measured in the same
    run (a naive matcher scanning every technician for each citizen, on a 1,000-citizen
    sample, scaled to 10,000).
(b) The due query on 100,000 pairs of which 1,000 are due, in a temporary SQLite database
    built from the real migrations: median time through the partial index `pairs_due`,
    against the same query forced to scan the table (NOT INDEXED).

Standard library and project code only. `run()` returns the lines to print.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.services.matching import (
    CitizenCandidate,
    MatchResult,
    TechnicianCandidate,
    match,
    qualifies,
)
from storage.db import to_db_time
from storage.pairs import DUE_SQL
from storage.sqlite import split_sql

SEED = 20260324
THEMES = [f"theme{i}" for i in range(8)]
TERRITORIES = [f"territory{i}" for i in range(25)]
CITIZENS = 10_000
TECHNICIANS = 1_000
SAMPLE = 1_000
PAIRS = 100_000
DUE = 1_000
RUNS = 5


def _median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _population(
    rng: random.Random,
) -> tuple[list[CitizenCandidate], list[TechnicianCandidate]]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    citizens = [
        CitizenCandidate(
            member_id=i,
            territory=rng.choice([*TERRITORIES, "autre"]),
            themes=frozenset(rng.sample(THEMES, rng.randint(1, 3))),
            waiting_since=base + timedelta(minutes=rng.randint(0, 500_000)),
        )
        for i in range(1, CITIZENS + 1)
    ]
    technicians = []
    for i in range(100_001, 100_001 + TECHNICIANS):
        capacity = rng.randint(1, 15)
        technicians.append(
            TechnicianCandidate(
                member_id=i,
                territories=frozenset(rng.sample(TERRITORIES, rng.randint(1, 3))),
                themes=frozenset(rng.sample(THEMES, rng.randint(1, 4))),
                capacity=capacity,
                load=rng.randint(0, capacity),
            )
        )
    return citizens, technicians


def naive_match(
    citizens: Sequence[CitizenCandidate], technicians: Sequence[TechnicianCandidate]
) -> int:
    """Baseline: for each citizen, scan every technician (same preference order)."""
    assigned = {t.member_id: t.load for t in technicians}
    found = 0
    for citizen in sorted(citizens, key=lambda c: (c.waiting_since, c.member_id)):
        best: tuple[int, float, int] | None = None
        for tech in technicians:
            if assigned[tech.member_id] >= tech.capacity or not qualifies(citizen, tech):
                continue
            key = (
                -len(citizen.themes & tech.themes),
                assigned[tech.member_id] / tech.capacity,
                tech.member_id,
            )
            if best is None or key < best:
                best = key
        if best is not None:
            assigned[best[2]] += 1
            found += 1
    return found


def _capacity_ok(result: MatchResult, technicians: Sequence[TechnicianCandidate]) -> bool:
    counts = Counter(p.technician_id for p in result.proposals)
    return all(t.load + counts[t.member_id] <= t.capacity for t in technicians)


def bench_matcher() -> list[str]:
    rng = random.Random(SEED)
    citizens, technicians = _population(rng)
    result = match(citizens, technicians)
    ms = _median_ms(lambda: match(citizens, technicians))
    sample = citizens[:SAMPLE]
    naive_ms = _median_ms(lambda: naive_match(sample, technicians), runs=3)
    naive_scaled = naive_ms * CITIZENS / SAMPLE
    free = sum(t.capacity - t.load for t in technicians)
    return [
        f"matcher: {CITIZENS:,} citizens x {TECHNICIANS:,} technicians "
        f"(free places {free:,}): median {ms:.1f} ms over {RUNS} runs",
        f"  proposals {len(result.proposals):,}, unmatched {len(result.unmatched):,}, "
        f"capacity respected: {'yes' if _capacity_ok(result, technicians) else 'NO'}",
        f"  baseline naive scan-all matcher: {naive_ms:.1f} ms on {SAMPLE:,} citizens, "
        f"scaled to {CITIZENS:,}: {naive_scaled:.0f} ms -> matcher is "
        f"{naive_scaled / ms:.1f}x faster",
    ]


def _schema(conn: sqlite3.Connection) -> None:
    root = Path(__file__).resolve().parents[1] / "storage" / "migrations"
    for name in ("0001_foundation.sql", "0004_pairs.sql"):
        for statement in split_sql((root / name).read_text(encoding="utf-8")):
            conn.execute(statement)


def bench_due_sweep() -> list[str]:
    rng = random.Random(SEED)
    now = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        conn = sqlite3.connect(str(Path(folder) / "bench.sqlite3"))
        try:
            _schema(conn)  # foreign keys are off in this connection: no members needed
            due_rows = set(rng.sample(range(PAIRS), DUE))
            rows = []
            for i in range(PAIRS):
                if i in due_rows:
                    when = now - timedelta(minutes=rng.randint(1, 600))
                else:
                    when = now + timedelta(minutes=rng.randint(1, 60 * 24 * 30))
                status = "ended" if i % 10 == 0 and i not in due_rows else "active"
                rows.append((i, i + 1_000_000, status, to_db_time(when), to_db_time(now)))
            conn.executemany(
                "INSERT INTO pairs (citizen_id, technician_id, status, interval_days, "
                "next_due_at, created_at) VALUES (?, ?, ?, 14, ?, ?)",
                rows,
            )
            conn.commit()
            conn.execute("ANALYZE")
            params = (to_db_time(now), DUE + 1)
            scan_sql = DUE_SQL.replace("FROM pairs", "FROM pairs NOT INDEXED")
            plan = " / ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + DUE_SQL, params))
            found = len(conn.execute(DUE_SQL, params).fetchall())
            scanned = len(conn.execute(scan_sql, params).fetchall())
            indexed_ms = _median_ms(lambda: conn.execute(DUE_SQL, params).fetchall())
            scan_ms = _median_ms(lambda: conn.execute(scan_sql, params).fetchall())
        finally:
            conn.close()
    verdict = "ok" if indexed_ms < 50 else "OVER TARGET"
    return [
        f"due sweep: {PAIRS:,} pairs, {DUE:,} due: indexed query median {indexed_ms:.2f} ms "
        f"(target < 50 ms: {verdict}), {found:,} rows",
        f"  plan: {plan}",
        f"  baseline full-table scan (NOT INDEXED): median {scan_ms:.2f} ms, {scanned:,} rows "
        f"-> index is {scan_ms / indexed_ms:.1f}x faster",
    ]


def run() -> list[str]:
    return [*bench_matcher(), *bench_due_sweep()]


if __name__ == "__main__":  # pragma: no cover - convenience when run as a script
    for line in run():
        print(line)
