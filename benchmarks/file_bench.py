"""A partner file of 1 GB or more, plain and gzip, through ingest_file's own path; prints figures,
asserts nothing.

    PYTHONPATH=functions:. python -m benchmarks.file_bench [--gib 1.0] [--dir /tmp/file-bench]

The file is written once (realistic events: every page URL carries its own click id or product
id, so URL caches are not what is measured) and read back through ``Pipeline.ingest_object`` with
the local store and a writer that keeps nothing: the figures are the function's own, without
BigQuery or Cloud Storage latency. Each run is a child process, so its peak RSS is its own. The
same-run reference is the in-process rate of ``prepare`` over 20 000 of the same events already
in memory (one core): the file path adds reading, inflating, line splitting, batching and the
ledger on top of it, and the target is to stay within 2× of it, under 300 MB of RSS whatever the
file's size.
"""

from __future__ import annotations

import argparse
import gzip
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import orjson

_LINES_PER_BLOCK = 10_000


def _events(count: int, seed: int) -> list[dict[str, Any]]:
    from tools import samples

    rng = random.Random(seed)
    values = samples.events(count, seed=seed)
    for value in values:
        value["privacy_info"] = {"analytics_storage": "Yes"}
        click = rng.getrandbits(64)
        value["page_location"] = f"https://passculture.pro/offre/individuelle/{click % 10**7}/recapitulatif?gclid={click:x}"
    return values


def write_files(directory: Path, gib: float) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    plain, packed = directory / "events.ndjson", directory / "events.ndjson.gz"
    target = int(gib * (1 << 30))
    if plain.is_file() and plain.stat().st_size >= target and packed.is_file():
        return plain, packed
    written, seed = 0, 0
    with plain.open("wb") as out, gzip.open(packed, "wb", compresslevel=6) as zipped:
        while written < target:
            block = b"\n".join(orjson.dumps(v) for v in _events(_LINES_PER_BLOCK, seed)) + b"\n"
            out.write(block)
            zipped.write(block)
            written += len(block)
            seed += 1
    return plain, packed


class _NullWriter:
    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Any]:
        return []


def _settings() -> Any:
    from ingest.config import Settings

    return Settings(pseudonymisation_key="bench-key-0123456789", file_time_budget_s=3600)


def child_file(path: Path) -> dict[str, Any]:
    from ingest.files import Format, ObjectPlan
    from ingest.local_files import LOCAL_BUCKET, LocalFiles
    from ingest.pipeline import Pipeline
    from ingest.runtime import settle_heap

    pipe = Pipeline(_settings(), _NullWriter())  # type: ignore[arg-type]
    settle_heap()
    start, cpu = time.perf_counter(), time.process_time()
    counts = pipe.ingest_object(function="bench", bucket=LOCAL_BUCKET, name=str(path), generation=1,
                                metadata={}, files=LocalFiles(), invocation="bench",
                                plan=ObjectPlan("pro_event", None, format=Format.NDJSON))
    return {"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu, "lines": counts.received,
            "rows": counts.rows_sent, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_reference() -> dict[str, Any]:
    from ingest.config import Settings  # noqa: F401 (same imports as the file run)
    from ingest.decode import decode_line
    from ingest.pipeline import prepare
    from ingest.records import SourceRef
    from ingest.runtime import settle_heap

    lines = [orjson.dumps(v) for v in _events(20_000, 999)]
    settings = _settings()
    source = SourceRef(kind="gcs", bucket="local", object="reference", generation=1)
    settle_heap()
    received = datetime.now(timezone.utc)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for i in range(0, len(lines), 500):
            records = [decode_line(line, source.at(line_number=i + n + 1), settings.max_record_bytes)
                       for n, line in enumerate(lines[i:i + 500])]
            prepare("pro_event", records, settings, received_at=received)
        best = min(best, time.process_time() - start)
    return {"lines_per_s": len(lines) / best}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.file_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the plain file (default: %(default)s GiB)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/file-bench"), help="where the files are written")
    parser.add_argument("--child", choices=["file", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = child_file(args.path) if args.child == "file" else child_reference()
        print(orjson.dumps(result).decode())
        return 0
    plain, packed = write_files(args.dir, args.gib)

    def run(*extra: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, "-m", "benchmarks.file_bench", *extra], capture_output=True,
                              text=True, check=True)
        return orjson.loads(done.stdout.strip().splitlines()[-1])

    reference = run("--child", "reference")["lines_per_s"]
    print(f"reference: prepare() over the same events in memory, one core: {reference:,.0f} lines/s")
    print(f"{'file':<22} {'size MB':>9} {'lines':>10} {'wall s':>8} {'lines/s':>9} {'cpu s':>8} "
          f"{'lines/cpu-s':>12} {'peak RSS MB':>12} {'reference / it':>15}")
    for path in (plain, packed):
        result = run("--child", "file", "--path", str(path))
        per_cpu = result["lines"] / result["cpu"]
        print(f"{path.name:<22} {path.stat().st_size / 1e6:>9,.0f} {result['lines']:>10,} {result['wall']:>8.1f} "
              f"{result['lines'] / result['wall']:>9,.0f} {result['cpu']:>8.1f} {per_cpu:>12,.0f} "
              f"{result['peak_mb']:>12.0f} {reference / per_cpu:>14.2f}×")
    print("reference / it: the in-process rate over the file path's rate, both in lines per CPU-second of one\n"
          "process (wall time also counts the other processes of a shared machine).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
