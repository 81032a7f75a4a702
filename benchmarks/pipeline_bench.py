"""Single-core cost of the full record path: decode → validate → consent → transform → row id →
encode (`ingest.decode.split_message` + `ingest.pipeline.prepare`, nothing of the sink), on
benchmarks.corpus events whose page URLs are mostly distinct. Prints figures; asserts nothing.

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
from collections import deque
from datetime import datetime, timezone
from typing import Callable

import orjson

from benchmarks import corpus
from ingest import contracts
from ingest.config import Settings
from ingest.consent import Action, load_policy
from ingest.decode import split_message
from ingest.pipeline import prepare
from ingest.records import SourceRef
from ingest.rowid import content_id, insert_id
from ingest.runtime import settle_heap
from ingest.sinks.bigquery import json_row
from ingest.transform import pro_event
from ingest.transform.context import TransformContext

CONTRACT = "pro_event"


def run_once(messages: list[bytes], settings: Settings) -> tuple[float, int]:
    received = datetime.now(timezone.utc)
    written = 0
    start = time.process_time()
    for i, data in enumerate(messages):
        source = SourceRef(kind="pubsub", topic="tracking-events", message_id=str(i))
        records = split_message(data, source, settings)
        prepared = prepare(CONTRACT, records, settings, received_at=received)
        written += len(prepared.rows)
    return time.process_time() - start, written


def stage_costs(messages: list[bytes], settings: Settings, runs: int = 3) -> dict[str, float]:
    """CPU seconds per stage over every event, in path order, best of ``runs``: each stage timed on
    one message's records at a time, as ``prepare`` meets them (a few hundred kB of live objects,
    not the whole corpus), doing what ``prepare`` does (the row's canonical JSON, which gives the
    id, is also its encoding: ``encode`` adds only the columns the id leaves out)."""
    source = SourceRef(kind="pubsub", topic="tracking-events", message_id="0")
    validator = contracts.input_validator(settings.schemas_dir, CONTRACT)
    policy = load_policy(settings.schemas_dir, CONTRACT)
    assert policy is not None
    table = contracts.table_schema(settings.schemas_dir, CONTRACT)
    ctx = TransformContext(settings=settings, table=table, received_at=datetime.now(timezone.utc),
                           consent_action=Action.KEEP)
    exclude, clock = table.identity_exclude, time.process_time
    names = ("decode (split_message)", "consent", "validate (jsonschema-rs)", "transform + enrich",
             "row id (canonical JSON, sha256)", "encode (left-out columns)", "insert id (sha256)",
             "free the message's objects")
    best = dict.fromkeys(names, float("inf"))
    for _ in range(runs):
        spent = dict.fromkeys(names, 0.0)
        for message in messages:
            t0 = clock()
            values = [record.value for record in split_message(message, source, settings)]
            t1 = clock()
            for value in values:
                policy.action(value)
            t2 = clock()
            for value in values:
                validator.errors(value)
            t3 = clock()
            rows = [pro_event.to_row(value, ctx) for value in values]
            t4 = clock()
            ids = [content_id(CONTRACT, row, exclude) for row in rows]
            t5 = clock()
            for (identity, canonical, left_out), row in zip(ids, rows, strict=True):
                left_out.update(row_id=identity, ingested_at="2026-12-02T00:00:00.000000Z", ingestion_source="x")
                json_row(row, left_out, canonical)
            t6 = clock()
            for identity, _, _ in ids:
                insert_id(identity, "pubsub://tracking-events/0#0")
            t7 = clock()
            del values, rows, ids
            t8 = clock()
            for name, (start, end) in zip(names, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6),
                                                  (t6, t7), (t7, t8)), strict=True):
                spent[name] += end - start
        best = {name: min(best[name], spent[name]) for name in names}
    return best


def messages_of(lines: list[bytes], batch: int) -> list[bytes]:
    return [b"\n".join(lines[i:i + batch]) for i in range(0, len(lines), batch)]


def prepare_rate(messages: list[bytes], settings: Settings, events: int, runs: int = 3) -> float:
    """Median events/s of split_message + prepare over ``messages`` (the envelope's reference)."""
    run_once(messages[:5], settings)
    return events / statistics.median(run_once(messages, settings)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="events per Pub/Sub message (NDJSON)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(pseudonymisation_key="bench-key-0123456789")
    events = corpus.events(args.events)
    share = corpus.distinct_share(events)
    lines = [orjson.dumps(e) for e in events]
    messages = messages_of(lines, args.batch)
    del events
    # As a function instance does once started (and, there, it also keeps the benchmark's own
    # messages out of every collection of the measured loop).
    settle_heap()
    run_once(messages[:20], settings)  # warm caches and compiled validators, as a warm instance would be
    timings = []
    for _ in range(args.runs):
        elapsed, written = run_once(messages, settings)
        timings.append(elapsed)
        gc.collect()
    # Each decoded event is dropped at once, as in the round trip: keeping 20 000 dicts alive costs
    # the garbage collector more than the decode itself.
    loads = _best(lambda: deque(map(orjson.loads, lines), maxlen=0))
    roundtrip = _best(lambda: [orjson.dumps(orjson.loads(line)) for line in lines])
    best, median = min(timings), statistics.median(timings)
    n = args.events
    print(f"in-process record path (split_message + prepare), 1 core, {n} events "
          f"({sum(map(len, lines)) / n:,.0f} B each, {share:.1%} distinct page_location), "
          f"{args.batch}/message, {args.runs} runs")
    print(f"  {'':34s} {'µs/event':>9s} {'events/s':>10s} {'× orjson loads+dumps':>21s}")
    print(f"  {'prepare (median)':34s} {median / n * 1e6:9.1f} {n / median:10,.0f} {median / roundtrip:21.1f}"
          f"   (target ≤ 4×)")
    print(f"  {'prepare (best)':34s} {best / n * 1e6:9.1f} {n / best:10,.0f} {best / roundtrip:21.1f}")
    print(f"  {'orjson loads + dumps, same run':34s} {roundtrip / n * 1e6:9.2f} {n / roundtrip:10,.0f} {1:21.1f}")
    print(f"  {'orjson loads, same run':34s} {loads / n * 1e6:9.2f} {n / loads:10,.0f} {loads / roundtrip:21.1f}")
    print(f"  rows per run {written}")
    gc.collect()
    stages = stage_costs(messages, settings)
    total = sum(stages.values())
    print(f"  stages, each timed per message (best of 3), sum {total / n * 1e6:.1f} µs/event"
          f" (the rest of prepare: {(median - total) / n * 1e6:.1f}):")
    for name, seconds in stages.items():
        print(f"    {name:32s} {seconds / n * 1e6:6.2f} µs/event  {seconds / total:6.1%}")


def _best(work: Callable[[], object]) -> float:
    """Best of 3, garbage collection off: these loops keep every event alive at once, which a
    function instance never does, and collections would then scan them all again and again."""
    timings = []
    gc.disable()
    try:
        for _ in range(3):
            start = time.process_time()
            work()
            timings.append(time.process_time() - start)
    finally:
        gc.enable()
        gc.collect()
    return min(timings)


if __name__ == "__main__":
    main()
