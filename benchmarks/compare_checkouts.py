"""Is a change faster? Runs ``pipeline_bench`` in two (or more) checkouts, interleaved round by
round, and prints each one's fastest and median µs/event.

The development VMs drift by ±30% within minutes, so two benchmark runs minutes apart cannot
tell a 10% change from noise; alternating the checkouts exposes both to the same drift.

    git worktree add /tmp/before HEAD~1
    PYTHONPATH=functions:. python -m benchmarks.compare_checkouts /tmp/before . [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

_BEST = re.compile(r"prepare \(best\)\s+([\d.]+)")  # pipeline_bench's line: µs/event, events/s, ×


def bench_once(checkout: Path, events: int, runs: int) -> float:
    """The checkout's best µs/event over ``runs`` passes, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline_bench", "--events", str(events), "--runs", str(runs)],
        cwd=checkout, env={**os.environ, "PYTHONPATH": "functions:."}, capture_output=True, text=True, check=False)
    found = _BEST.search(result.stdout)
    if result.returncode or not found:
        raise SystemExit(f"error: pipeline_bench failed in {checkout}:\n{result.stderr[-2000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", type=Path, help="directories holding a checkout of this repo")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="passes per benchmark process")
    args = parser.parse_args()
    if len(args.checkouts) < 2:
        parser.error("give at least two checkouts to compare")
    results: dict[Path, list[float]] = {checkout: [] for checkout in args.checkouts}
    for round_number in range(1, args.rounds + 1):
        for checkout in args.checkouts:
            results[checkout].append(bench_once(checkout, args.events, args.runs))
        print(f"round {round_number}/{args.rounds}: "
              + ", ".join(f"{c}: {r[-1]:.1f} µs" for c, r in results.items()), file=sys.stderr)
    for checkout, timings in results.items():
        print(f"{str(checkout):30s} fastest {min(timings):5.1f} µs/event ({1e6 / min(timings):,.0f} events/s), "
              f"median {statistics.median(timings):5.1f} µs/event over {len(timings)} rounds")


if __name__ == "__main__":
    main()
