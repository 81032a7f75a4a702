"""Single-core cost of the full record path: decode → validate → consent → enrich/transform →
serialize (the insertAll request bodies, as the writer builds them), on synthetic GA4-like events
(tools.samples). Prints figures; asserts nothing. Network time is not included.

    PYTHONPATH=functions:. python -m benchmarks.pipeline_bench [--events N] [--batch B] [--runs R]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import orjson

from ingest.config import Settings
from ingest.decode import split_message
from ingest.pipeline import prepare
from ingest.records import SourceRef
from ingest.sinks.bigquery import BigQueryWriter
from tools import samples


def run_once(messages: list[bytes], settings: Settings, writer: BigQueryWriter) -> tuple[float, int]:
    received = datetime.now(timezone.utc)
    written = 0
    start = time.perf_counter()
    for i, data in enumerate(messages):
        source = SourceRef(kind="pubsub", topic="tracking-events", message_id=str(i))
        records = split_message(data, source, settings.max_record_bytes, settings.max_message_bytes)
        prepared = prepare("pro_event", records, settings, received_at=received)
        for _ in writer.request_bodies(prepared.rows):  # the insertAll bodies, as sent
            pass
        written += len(prepared.rows)
    return time.perf_counter() - start, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100, help="events per Pub/Sub message (NDJSON)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(pseudonymisation_key="bench")
    writer = BigQueryWriter(SimpleNamespace(project="bench"), "analytics", settings.insert_batch_rows,  # type: ignore[arg-type]
                            settings.insert_batch_bytes, settings.bigquery_timeout_s)
    events = samples.events(args.events)
    for event in events:  # every event consented, so every one pays for the full path
        event["privacy_info"] = {"analytics_storage": "Yes"}
    messages = [b"\n".join(orjson.dumps(e) for e in events[i:i + args.batch])
                for i in range(0, len(events), args.batch)]
    del events
    # A function instance holds one message at a time: keep the benchmark's own 50k parsed events
    # from inflating every garbage collection of the measured loop.
    gc.collect()
    gc.freeze()
    run_once(messages[:20], settings, writer)  # warm caches and compiled validators, as a warm instance would be
    timings = []
    for _ in range(args.runs):
        elapsed, written = run_once(messages, settings, writer)
        timings.append(elapsed)
    best, median = min(timings), statistics.median(timings)
    print(f"pipeline (decode → validate → consent → enrich → serialize), 1 core, {args.events} events, "
          f"{args.batch}/message, {args.runs} runs")
    print(f"  median {args.events / median:,.0f} events/s ({median / args.events * 1e6:.1f} µs/event); "
          f"best {args.events / best:,.0f} events/s; rows written per run {written}")


if __name__ == "__main__":
    main()
