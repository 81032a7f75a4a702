"""The per-request CPU floor of ``ingest_events``: the real function, served by functions-framework's
Flask app in-process (its test client), over a writer that answers at once, so the figures are the
function's own CPU — envelope, settings, logs, audit row, dead-letter set-up, record path — and
none of a BigQuery client's HTTP/gRPC stack (``benchmarks/write_paths.py`` measures those).

    PYTHONPATH=functions:. python -m benchmarks.floor_probe [--requests N] [--batches 1,100]

Printed next to a same-run reference: a no-op CloudEvent function behind the same framework (what
no function can go below), and ``split_message`` + ``prepare`` of the same events in-process.
Log lines are written, to /dev/null: writing them is part of the function's cost.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import orjson
from functions_framework import create_app

from benchmarks import corpus
from benchmarks.pipeline_bench import prepare_rate
from ingest import clients
from ingest.config import Settings
from ingest.pipeline import Pipeline
from ingest.runtime import settle_heap
from ingest.sinks.bigquery import Rejection

MAIN = str(Path(__file__).resolve().parents[1] / "functions" / "main.py")
TOPIC_SOURCE = "//pubsub.googleapis.com/projects/local-dev/topics/tracking-events"
NOOP = '''import functions_framework

@functions_framework.cloud_event
def noop(event):
    return None
'''


class InstantWriter:
    """Takes every row at once and keeps nothing: the backend costs nothing."""

    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Rejection]:
        return []


def envelope(data: bytes, message_id: str) -> tuple[bytes, dict[str, str]]:
    """A Pub/Sub push as Eventarc delivers it (binary-mode CloudEvent), as the tests post it."""
    body = orjson.dumps({"message": {"messageId": message_id, "publishTime": "2026-12-02T10:00:00.123Z",
                                     "attributes": {"publisher": "bench"}, "data": base64.b64encode(data).decode()},
                         "subscription": "projects/local-dev/subscriptions/tracking-events"})
    return body, {"ce-id": message_id, "ce-specversion": "1.0", "ce-source": TOPIC_SOURCE,
                  "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "Content-Type": "application/json"}


def cpu_per_request(post: Callable[[int], Any], requests: int) -> float:
    """Median of 5 slices of CPU seconds per request (time.process_time: this process, all threads)."""
    for i in range(min(50, requests)):
        post(-1 - i)  # warm: caches, compiled validators, lazily built clients
    gc.collect()
    slices = []
    per = max(1, requests // 5)
    for s in range(5):
        start = time.process_time()
        for i in range(s * per, (s + 1) * per):
            post(i)
        slices.append((time.process_time() - start) / per)
    return statistics.median(slices)


def ingest_events_poster(messages: list[bytes]) -> Callable[[int], Any]:
    client = create_app("ingest_events", MAIN, "cloudevent").test_client()
    bodies = [envelope(m, f"m{i}") for i, m in enumerate(messages)]

    def post(i: int) -> Any:
        body, headers = bodies[i % len(bodies)]
        response = client.post("/", data=body, headers=headers)
        assert response.status_code == 200, response.data
        return response
    return post


def noop_poster(directory: str) -> Callable[[int], Any]:
    source = os.path.join(directory, "noop_main.py")
    Path(source).write_text(NOOP)
    client = create_app("noop", source, "cloudevent").test_client()
    body, headers = envelope(b"{}", "n")

    def post(i: int) -> Any:
        return client.post("/", data=body, headers=headers)
    return post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per batch size")
    parser.add_argument("--batches", default="1,100", help="events per message, comma-separated")
    args = parser.parse_args()
    settings = Settings(pseudonymisation_key="bench-key-0123456789")
    clients.pipeline = lambda: pipeline  # type: ignore[assignment] # main.py asks clients for it
    pipeline = Pipeline(settings, InstantWriter())  # type: ignore[arg-type]
    events = [orjson.dumps(e) for e in corpus.events(20_000)]
    settle_heap()  # as clients.pipeline() does once an instance has built its pipeline
    rows = []
    with tempfile.TemporaryDirectory() as directory, open(os.devnull, "w") as devnull:
        with contextlib.redirect_stdout(devnull):
            noop = cpu_per_request(noop_poster(directory), args.requests)
            for batch in (int(b) for b in args.batches.split(",")):
                messages = [b"\n".join(events[i:i + batch]) for i in range(0, len(events), batch)]
                requests = max(20, min(args.requests, 200_000 // batch))
                cpu = cpu_per_request(ingest_events_poster(messages), requests)
                rows.append((batch, cpu, prepare_rate(messages[:max(1, 2000 // batch)], settings,
                                                      min(len(events), max(1, 2000 // batch) * batch))))
    print(f"ingest_events through functions-framework (Flask test client, in-process), instant writer, "
          f"{sys.version.split()[0]}; CPU = time.process_time")
    print(f"  {'':28s} {'CPU ms/request':>15s} {'events/s/vCPU':>14s} {'in-process prepare events/s':>28s}")
    print(f"  {'no-op CloudEvent function':28s} {noop * 1e3:15.3f} {'':>14s}   (framework floor, same run)")
    for batch, cpu, inproc in rows:
        print(f"  {f'{batch} event(s)/message':28s} {cpu * 1e3:15.3f} {batch / cpu:14,.0f} {inproc:28,.0f}"
              + ("   (target ≤ 2 ms)" if batch == 1 else ""))


if __name__ == "__main__":
    main()
