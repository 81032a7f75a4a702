"""Single-core cost of the full record path: decode → validate → consent → enrich/transform →
serialize (the insertAll request bodies, as the writer builds them), on synthetic GA4-like events
(tools.samples). Prints figures; asserts nothing. Network time is not included.

    PYTHONPATH=functions:. python -m benchmarks.pipeline_bench [--events N] [--batch B] [--runs R]

The VM this runs on varies ±30% from minute to minute, so besides events/s it prints each stage's
share and the path's cost in units of one bare ``orjson.loads`` of the same events, measured in
the same run: those ratios can be compared across runs and machines, absolute times cannot.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Callable

import orjson

from ingest import contracts
from ingest.config import Settings
from ingest.consent import Action, load_policy
from ingest.decode import split_message
from ingest.pipeline import prepare
from ingest.records import Record, SourceRef
from ingest.rowid import content_id
from ingest.runtime import settle_heap
from ingest.sinks.bigquery import BigQueryWriter
from ingest.transform import pro_event
from ingest.transform.context import TransformContext
from tools import samples

CONTRACT = "pro_event"


def run_once(messages: list[bytes], settings: Settings, writer: BigQueryWriter) -> tuple[float, int]:
    received = datetime.now(timezone.utc)
    written = 0
    start = time.perf_counter()
    for i, data in enumerate(messages):
        source = SourceRef(kind="pubsub", topic="tracking-events", message_id=str(i))
        records = split_message(data, source, settings)
        prepared = prepare(CONTRACT, records, settings, received_at=received)
        for _ in writer.request_bodies(prepared.rows):  # the insertAll bodies, as sent
            pass
        written += len(prepared.rows)
    return time.perf_counter() - start, written


def stage_costs(messages: list[bytes], settings: Settings, writer: BigQueryWriter) -> dict[str, float]:
    """Seconds per stage, each timed alone over every event (best of 3), in path order."""
    source = SourceRef(kind="pubsub", topic="tracking-events", message_id="0")
    batches: list[list[Record]] = [
        split_message(m, source, settings) for m in messages]
    values = [record.value for batch in batches for record in batch]
    validator = contracts.input_validator(settings.schemas_dir, CONTRACT)
    policy = load_policy(settings.schemas_dir, CONTRACT)
    assert policy is not None
    ctx = TransformContext(settings=settings, table=contracts.table_schema(settings.schemas_dir, CONTRACT),
                           received_at=datetime.now(timezone.utc), consent_action=Action.KEEP)
    table = ctx.table
    rows = [pro_event.to_row(v, ctx) for v in values]
    encoded = [(content_id(CONTRACT, dict(row), table.identity_exclude)[0], orjson.dumps(row)) for row in rows]

    return {
        "decode (split, orjson.loads)": _best(lambda: [split_message(m, source, settings) for m in messages]),
        "validate (jsonschema-rs)": _best(lambda: [validator.errors(v) for v in values]),
        "consent": _best(lambda: [policy.action(v) for v in values]),
        "transform + enrich": _best(lambda: [pro_event.to_row(v, ctx) for v in values]),
        "row_id + encode (sorted, sha256)": _best(lambda: [content_id(CONTRACT, dict(row), table.identity_exclude)
                                                             for row in rows]),
        "insertAll bodies (framing)": _best(lambda: [body for i in range(0, len(encoded), 500)
                                                     for body in writer.request_bodies(encoded[i:i + 500])]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=100, help="events per Pub/Sub message (NDJSON)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(pseudonymisation_key="bench-key-0123456789")
    writer = BigQueryWriter(SimpleNamespace(project="bench"), "analytics", settings.insert_batch_rows,  # type: ignore[arg-type]
                            settings.insert_batch_bytes, settings.bigquery_timeout_s)
    events = samples.events(args.events)
    for event in events:  # every event consented, so every one pays for the full path
        event["privacy_info"] = {"analytics_storage": "Yes"}
    lines = [orjson.dumps(e) for e in events]
    messages = [b"\n".join(lines[i:i + args.batch]) for i in range(0, len(lines), args.batch)]
    del events
    # As a function instance does once started (and, there, it also keeps the benchmark's own
    # messages out of every collection of the measured loop).
    settle_heap()
    run_once(messages[:20], settings, writer)  # warm caches and compiled validators, as a warm instance would be
    timings = []
    for _ in range(args.runs):
        elapsed, written = run_once(messages, settings, writer)
        timings.append(elapsed)
        gc.collect()
    loads = _best(lambda: [orjson.loads(line) for line in lines])
    best, median = min(timings), statistics.median(timings)
    n = args.events
    print(f"pipeline (decode → validate → consent → enrich → serialize), 1 core, {n} events, "
          f"{args.batch}/message, {args.runs} runs")
    print(f"  median {n / median:,.0f} events/s ({median / n * 1e6:.1f} µs/event); "
          f"best {n / best:,.0f} events/s; rows written per run {written}")
    print(f"  machine reference: one orjson.loads of these events {loads / n * 1e6:.2f} µs; "
          f"the path costs {median / loads:.1f}× that (median)")
    gc.collect()
    stages = stage_costs(messages, settings, writer)
    total = sum(stages.values())
    print(f"  stages timed alone (best of 3), sum {total / n * 1e6:.1f} µs/event:")
    for name, seconds in stages.items():
        print(f"    {name:30s} {seconds / n * 1e6:6.2f} µs/event  {seconds / total:6.1%}")


def _best(work: Callable[[], object]) -> float:
    """Best of 3, garbage collection off: these loops keep every event alive at once, which a
    function instance never does, and collections would then scan them all again and again."""
    timings = []
    gc.disable()
    try:
        for _ in range(3):
            start = time.perf_counter()
            work()
            timings.append(time.perf_counter() - start)
    finally:
        gc.enable()
        gc.collect()
    return min(timings)


if __name__ == "__main__":
    main()
