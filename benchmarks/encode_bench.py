"""The sink's encode step per row: the Storage Write API's proto2 rows next to orjson, same run.

    PYTHONPATH=functions:. .venv/bin/python -m benchmarks.encode_bench [--events 5000] [--runs 7]

The rows are real ``pro_event`` rows: ``benchmarks.corpus`` events (mostly distinct URLs) through
``prepare``, whose encode step is captured, so each encoder gets exactly the arguments the pipeline
gives it. Printed per row, best of ``--runs`` (GC paused), in one process:
- ``RowCodec`` via ``StorageWriter.encoder`` (what the production sink sends);
- ``orjson.dumps`` of the same row with its left-out columns (the reference: one JSON encode);
- ``json_row`` (insertAll's encoding, which reuses the canonical JSON of the row id);
and the bytes per row of the proto and of the JSON.

With ``--grpc-target`` (and ``--bigquery-url``) of a running emulator (``make up``), it also times
appends on one open ``_default`` stream of a fresh dataset: one audit row, then batches of pro_event
rows, each waiting for its answer as a function does (wall time per append; the emulator's own
commit, not a figure for real BigQuery).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from benchmarks import corpus
from ingest.config import Settings
from ingest.decode import split_message
from ingest.pipeline import prepare
from ingest.records import SourceRef
from ingest.sinks.bigquery import json_row
from ingest.sinks.storage_write import RowCodec, StorageWriter

CONTRACT = "pro_event"
Call = tuple[dict[str, Any], dict[str, Any], bytes]


def captured_calls(events: int, settings: Settings) -> list[Call]:
    """The (row, left_out, canonical) that prepare hands the encoder, for each event."""
    calls: list[Call] = []

    def capture(row: dict[str, Any], left_out: dict[str, Any], canonical: bytes) -> bytes:
        calls.append((row, dict(left_out), canonical))
        return b""

    data = b"\n".join(orjson.dumps(e) for e in corpus.events(events))
    records = split_message(data, SourceRef(kind="pubsub", topic="bench", message_id="m"), settings)
    prepare(CONTRACT, records, settings, received_at=datetime.now(timezone.utc), encode=capture)
    return calls


def per_row_us(encode: Callable[[dict[str, Any], dict[str, Any], bytes], Any], calls: list[Call], runs: int) -> float:
    best = float("inf")
    gc.disable()
    try:
        for _ in range(runs):
            started = time.perf_counter()
            for row, left_out, canonical in calls:
                encode(row, left_out, canonical)
            best = min(best, time.perf_counter() - started)
    finally:
        gc.enable()
    return best / len(calls) * 1e6


def append_latency(calls: list[Call], grpc_target: str, bigquery_url: str, appends: int) -> None:
    import os

    import grpc

    from ingest.sinks.audit import Counts, audit_row
    from ingest.sinks.storage_write import GrpcAppendStream, append_rows_call
    from tools import provision

    settings = Settings()
    dataset = f"encode_bench_{os.getpid()}"
    provision.create_dataset(provision.bigquery_client(settings.project, bigquery_url), dataset, settings.schemas_dir)
    call = append_rows_call(grpc.insecure_channel(grpc_target))
    codecs = {t: RowCodec.for_table(t, settings.schemas_dir) for t in (CONTRACT, "ingestion_audit")}
    writer = StorageWriter(lambda name: GrpcAppendStream(call, name, 30, lifetime_s=600), settings.project,
                           dataset, codecs, max_stream_age_s=300)
    audit = writer.encoder("ingestion_audit")
    moment = datetime.now(timezone.utc)
    encode = writer.encoder(CONTRACT)
    rows = [(f"k{i}", encode(*call)) for i, call in enumerate(calls)]
    print(f"\nappends on one open _default stream ({grpc_target}, dataset {dataset}), wall ms per append:")
    for label, table, batch in (("1 audit row", "ingestion_audit", None), ("100 pro_event rows", CONTRACT, 100),
                                ("500 pro_event rows", CONTRACT, 500)):
        times = []
        for n in range(appends + 1):
            if batch is None:
                _, row = audit_row(function="bench", contract=CONTRACT, source_kind="pubsub", source=f"bench/{n}",
                                   counts=Counts(), started_at=moment, finished_at=moment, code_version="bench")
                payload = [(str(n), audit(orjson.loads(row), {}, b"{}"))]
            else:
                payload = rows[(n * batch) % len(rows):][:batch]
            started = time.perf_counter()
            assert writer.insert(table, payload) == []
            if n:  # the first append opens the stream
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(f"  {label:<20} median {statistics.median(times):7.1f}  p90 {times[int(len(times) * 0.9)]:7.1f}  "
              f"({len(times)} appends)")
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--grpc-target", help="a running emulator's Storage Write API, e.g. 127.0.0.1:9060")
    parser.add_argument("--bigquery-url", default="http://127.0.0.1:9050", help="the same emulator's HTTP API")
    parser.add_argument("--appends", type=int, default=30)
    args = parser.parse_args()
    settings = Settings()
    calls = captured_calls(args.events, settings)
    codec = RowCodec.for_table(CONTRACT, settings.schemas_dir)
    proto = StorageWriter(lambda name: None, "p", "d", {CONTRACT: codec}).encoder(CONTRACT)
    encoders = {
        "proto2 (StorageWriter.encoder)": proto,
        "orjson.dumps of the same row": lambda row, left_out, canonical: orjson.dumps({**row, **left_out}),
        "json_row (insertAll, reuses canonical)": json_row,
    }
    figures = {name: per_row_us(encode, calls, args.runs) for name, encode in encoders.items()}
    proto_bytes = statistics.mean(len(proto(*call)) for call in calls)
    json_bytes = statistics.mean(len(json_row(*call)) for call in calls)
    reference = figures["orjson.dumps of the same row"]
    print(f"{len(calls)} {CONTRACT} rows from benchmarks.corpus, best of {args.runs} runs, one core")
    print(f"{'encoder':40} {'µs/row':>8} {'× orjson':>9}")
    for name, figure in figures.items():
        print(f"{name:40} {figure:8.2f} {figure / reference:9.2f}")
    print(f"bytes/row: proto {proto_bytes:,.0f}, JSON {json_bytes:,.0f} ({proto_bytes / json_bytes:.0%} of JSON)")
    if args.grpc_target:
        append_latency(calls, args.grpc_target, args.bigquery_url, args.appends)


if __name__ == "__main__":
    main()
