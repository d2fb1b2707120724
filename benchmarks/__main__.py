"""`make bench`: every benchmark, one printed line per figure, with same-run baselines."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time

# bench_backends and bench_scale compare SQLite with PostgreSQL (skipped, saying why, without
# one); bench_pg_drivers is run by name.
MODULES = [
    "bench_pairs",
    "bench_calls",
    "bench_paid",
    "bench_inbound",
    "bench_ops",
    "bench_workers",
    "bench_consultations",
    "bench_backends",
    "bench_scale",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    parser.add_argument("only", nargs="*", help="module names (default: all)")
    args = parser.parse_args()
    failed = False
    for name in args.only or MODULES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as error:
            print(f"{name}: not available ({error})")
            failed = True
            continue
        started = time.monotonic()
        run = module.run
        lines = run(quick=args.quick) if "quick" in inspect.signature(run).parameters else run()
        for line in lines:
            print(line, flush=True)
        print(f"{name}: done in {time.monotonic() - started:.0f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
