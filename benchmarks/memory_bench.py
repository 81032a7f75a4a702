"""Worst-case memory of one function instance: the hostile messages the bounds are for, and the
enrichment caches filled with long distinct values. Prints figures; asserts nothing.

    PYTHONPATH=functions:. python -m benchmarks.memory_bench

Each case runs in a fresh child process, through ``Pipeline.ingest_message`` with the default
settings and a writer that keeps nothing (so the figure is the record path's own), and reports
the child's peak RSS next to its RSS once the pipeline was built (the same-run reference: an
instance's floor). The instance limit to compare with is the function's memory (512 MiB).
"""

from __future__ import annotations

import argparse
import gzip
import resource
import subprocess
import sys
import zlib
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import orjson

CASES: dict[str, str] = {
    "gzip bomb (1 MB of gzip inflating to 1 GB)": "bomb",
    "array of 3.5 M empty objects (10 MiB)": "tiny_objects",
    "array of 5.2 M numbers (10 MiB)": "tiny_numbers",
    "NDJSON of 3.5 M empty objects (10 MiB)": "tiny_lines",
    "6 000 real events (10 MiB, gzip)": "full_message",
    "caches: 60 000 distinct 500-char URLs, referrers, agents": "caches_short",
    "caches: 60 000 distinct 8 000-char URLs, referrers, agents": "caches_long",
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024 / 1024


class _NullWriter:
    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Any]:
        return []


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"{}\n" * (1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(333)), packer.flush()])


def _events(count: int) -> list[dict[str, Any]]:
    from tools import samples

    values = samples.events(count)
    for value in values:
        value["privacy_info"] = {"analytics_storage": "Yes"}
    return values


def _long_values(size: int) -> Iterator[bytes]:
    """600 messages of 100 events whose URL, referrer and agent are all distinct and ``size`` long."""
    for batch in range(600):
        values = _events(100)
        for i, value in enumerate(values):
            n = batch * 100 + i
            pad = f"{n:08d}" * (size // 8 + 1)
            value["page_location"] = f"https://passculture.pro/offres/{n}?gclid={pad}"[:size]
            value["page_referrer"] = f"https://www.example{n}.org/{pad}"[:size]
            value["user_agent"] = f"Mozilla/5.0 (X11; Linux x86_64) Bot/{n} {pad}"[:min(size, 2000)]
            value.pop("event_params", None)
        yield b"\n".join(orjson.dumps(v) for v in values)


def _full_message() -> bytes:
    body = b"\n".join(orjson.dumps(e) for e in _events(6500))
    return gzip.compress(body[:10 * 1024 * 1024].rsplit(b"\n", 1)[0])


INPUTS: dict[str, Callable[[], Iterator[bytes]]] = {
    "bomb": lambda: iter([_bomb()]),
    "tiny_objects": lambda: iter([b"[" + b"{}," * (10 * 1024 * 1024 // 3 - 1) + b"{}]"]),
    "tiny_numbers": lambda: iter([b"[" + b"1," * (10 * 1024 * 1024 // 2 - 2) + b"1]"]),
    "tiny_lines": lambda: iter([b"{}\n" * (10 * 1024 * 1024 // 3)]),
    "full_message": lambda: iter([_full_message()]),
    "caches_short": lambda: _long_values(500),
    "caches_long": lambda: _long_values(8000),
}


def child(case: str) -> None:
    from ingest.config import Settings
    from ingest.pipeline import Pipeline
    from ingest.records import SourceRef

    settings = Settings(pseudonymisation_key="bench-key-0123456789")
    pipe = Pipeline(settings, _NullWriter())  # type: ignore[arg-type]
    floor = _current_rss_mb()
    received = records = 0
    for i, message in enumerate(INPUTS[case]()):
        counts = pipe.ingest_message(function="bench", contract="pro_event", data=message,
                                     source=SourceRef(kind="pubsub", topic="t", message_id=str(i)), attributes={},
                                     publish_time=datetime.now(timezone.utc))
        received += counts.received
        records += counts.rows_sent
        del message
    print(orjson.dumps({"floor": floor, "peak": _rss_mb(), "after": _current_rss_mb(), "received": received,
                        "rows": records}).decode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES.values()), help="run one case in this process (internal)")
    args = parser.parse_args(argv)
    if args.case:
        child(args.case)
        return 0
    print(f"{'case':<62} {'floor MB':>9} {'peak MB':>8} {'after MB':>9}  records → rows")
    for label, case in CASES.items():
        done = subprocess.run([sys.executable, "-m", "benchmarks.memory_bench", "--case", case], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            print(f"{label:<62} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        result = orjson.loads(done.stdout.strip().splitlines()[-1])
        print(f"{label:<62} {result['floor']:>9.0f} {result['peak']:>8.0f} {result['after']:>9.0f}  "
              f"{result['received']} → {result['rows']}")
    print("floor: RSS with the pipeline built, before the input exists; peak: the most the process ever held\n"
          "(the input included);"
          " after: RSS once the input was handled (what stays: caches). The instance limit is 512 MiB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
