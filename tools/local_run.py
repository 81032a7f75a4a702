"""The pipeline end to end on local emulators.

  up    start Pub/Sub, fake-gcs-server and local-bigquery, serve the three functions from the
        bundled source with functions-framework, and wire topics, push subscriptions,
        bucket notifications, the dataset and the tables (from schemas/)
  demo  `up`, then publish a sample of each contract with the Pub/Sub client, drop partner
        files into the bucket, wait until everything is accounted for in ingestion_audit,
        and print per table what landed and what went to ingestion_errors

The stack stays up afterwards (query it, publish to it); `make down` stops it.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import orjson
from google.cloud import bigquery, pubsub_v1, storage

from ingest.publish import publish
from tools import activities, bundle, emulators, provision, samples
from tools.catalog import SqlSettings

REPO = Path(__file__).resolve().parents[1]
STATE_BUCKET = "ingest-state"
"""The pipeline's own state (the ledger of partner files), as STATE_BUCKET names it."""
FILE_TASKS_TOPIC = "file-tasks"
"""Continuations of files that outlive one invocation, fed back to ingest_file."""


@dataclass(frozen=True)
class LocalNames:
    dataset: str
    events_topic: str
    logs_topic: str
    ports: dict[str, int]

    @classmethod
    def from_env(cls) -> "LocalNames":
        return cls(
            dataset=os.environ.get("BQ_DATASET", "analytics"),
            events_topic=os.environ.get("EVENTS_TOPIC", "tracking-events"),
            logs_topic=os.environ.get("LOGS_TOPIC", "backend-logs"),
            ports={
                "ingest_events": int(os.environ.get("FN_EVENTS_PORT", "8081")),
                "ingest_logs": int(os.environ.get("FN_LOGS_PORT", "8082")),
                "ingest_file": int(os.environ.get("FN_FILE_PORT", "8083")),
            },
        )


def function_env(stack_env: dict[str, str], names: LocalNames, cfg: emulators.StackConfig) -> dict[str, str]:
    """The functions' settings on the local stack. Streams are retired after 5 s: the emulator serves
    AppendRows from 16 threads, one per open stream, and hangs new ones once they are all held."""
    return {**stack_env, "BQ_DATASET": names.dataset, "EVENTS_TOPIC": names.events_topic,
            "LOGS_TOPIC": names.logs_topic, "GCS_NOTIFICATION_TOPIC": cfg.notification_topic,
            "PSEUDONYMISATION_KEY": "local-dev-only-key", "CODE_VERSION": "local", "ENVIRONMENT": "local",
            "BIGQUERY_TIMEOUT_S": "10", "BIGQUERY_STREAM_MAX_AGE_S": "5",
            "REFERENCE_DATA_URI": str(REPO / "tools" / "sample_reference.ndjson"),
            "STATE_BUCKET": STATE_BUCKET, "FILE_TASKS_TOPIC": FILE_TASKS_TOPIC}


def up(cfg: emulators.StackConfig, names: LocalNames) -> emulators.Stack:
    started = time.monotonic()
    stack = emulators.start_stack(cfg, reuse_running=True)
    os.environ.update(stack.env())
    source = bundle.build()
    env = function_env(stack.env(), names, cfg)
    for target, port in names.ports.items():
        try:
            emulators.serve_function(target, source / "main.py", port, env, config=cfg)
        except emulators.EmulatorError as error:
            if "already being served" not in str(error):
                raise
            print(f"  {target}: already served on :{port} (restart with `make down` to pick up code changes)")
    bq = provision.bigquery_client(cfg.project, cfg.bigquery_url)
    tables = provision.create_dataset(bq, names.dataset, REPO / "schemas")
    provision.create_bucket(cfg.project, cfg.bucket)
    provision.create_bucket(cfg.project, STATE_BUCKET)
    provision.create_routes(cfg.project, [
        provision.Route(names.events_topic, f"http://127.0.0.1:{names.ports['ingest_events']}/"),
        provision.Route(names.logs_topic, f"http://127.0.0.1:{names.ports['ingest_logs']}/"),
        provision.Route(cfg.notification_topic, f"http://127.0.0.1:{names.ports['ingest_file']}/",
                        provision.PARTNER_DROPS),
        # Continuations dead-letter with the bucket's notifications, as in production.
        provision.Route(FILE_TASKS_TOPIC, f"http://127.0.0.1:{names.ports['ingest_file']}/", provision.PARTNER_DROPS),
    ])
    print(f"stack up in {time.monotonic() - started:.1f}s: dataset {cfg.project}.{names.dataset} "
          f"with {', '.join(tables)}; topics {names.events_topic}, {names.logs_topic}; bucket gs://{cfg.bucket}")
    for key, value in stack.env().items():
        print(f"  export {key}={value}")
    return stack


def _audits(dataset: str, since: float) -> str:
    """The audit rows since ``since``, one per invocation: a retried invocation writes its audit row
    again under the same audit_id (the Storage Write API is at-least-once); the view keeps one."""
    return (f"(SELECT * FROM `{dataset}.ingestion_audit_deduplicated` "
            f"WHERE started_at >= TIMESTAMP_SECONDS({int(since)}))")


def _audited(bq: bigquery.Client, dataset: str, since: float) -> dict[str, int]:
    query = f"SELECT function, SUM(received) AS received FROM {_audits(dataset, since)} GROUP BY function"
    return {row["function"]: row["received"] for row in bq.query(query).result()}


def wait_for(bq: bigquery.Client, dataset: str, since: float, expected: dict[str, int], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = _audited(bq, dataset, since)
        if all(seen.get(k, 0) >= v for k, v in expected.items()):
            return seen
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f}s: audited {seen}, expected {expected}; "
                     f"see the function logs in {emulators.StackConfig.from_env().logs_dir}")


def latency(bq: bigquery.Client, publisher: pubsub_v1.PublisherClient, topic: str, dataset: str) -> float:
    """Seconds from publish to the row being queryable, for one fresh event."""
    [event] = samples.events(1, seed=int(time.time()))
    event["privacy_info"] = {"analytics_storage": "Yes"}
    marker = f"latency-{time.time_ns()}"
    event["user_pseudo_id"] = marker
    start = time.monotonic()
    publisher.publish(topic, orjson.dumps(event)).result()
    query = (f"SELECT COUNT(*) AS n FROM `{dataset}.pro_event` WHERE event_date >= '1970-01-01' "
             f"AND user_pseudo_id = @marker")
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("marker", "STRING", marker)])
    while time.monotonic() - start < 30:
        if next(iter(bq.query(query, job_config=config).result()))["n"]:
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit("latency probe: the event never landed")


def report(bq: bigquery.Client, dataset: str, since: float) -> None:
    print("\nwhat landed (rows written since the run started):")
    where = {"pro_event": "event_date >= '1970-01-01'", "pro_log": "partition_date >= '1970-01-01'",
             "userpilot_event": "inserted_at >= TIMESTAMP('1970-01-01')"}
    for table, condition in where.items():
        query = (f"SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS distinct_ids FROM `{dataset}.{table}` "
                 f"WHERE {condition} AND ingested_at >= TIMESTAMP_SECONDS({int(since)})")
        counted = next(iter(bq.query(query).result()))
        print(f"  {table:<18} {counted['n']:>6} rows, {counted['distinct_ids']:>6} distinct row_id "
              "(a redelivery lands again; the deduplicated views keep one)")
    query = (f"SELECT contract, error_type, COUNT(*) AS n, "
             f"ANY_VALUE(reasons[SAFE_OFFSET(0)].message) AS example "
             f"FROM `{dataset}.ingestion_errors_deduplicated` WHERE received_at >= TIMESTAMP_SECONDS({int(since)}) "
             f"GROUP BY contract, error_type ORDER BY contract, error_type")
    print("\nwhat went to ingestion_errors:")
    for row in bq.query(query).result():
        print(f"  {row['contract'] or '(none)':<16} {row['error_type']:<22} {row['n']:>4}  e.g. {row['example']}")
    query = (f"SELECT contract, SUM(received) r, SUM(rows_sent) w, SUM(dead_lettered) i, SUM(consent_dropped) c, "
             f"SUM(skipped) s, SUM(duplicates_in_batch) d, SUM(reference_misses) m, COUNT(*) n, "
             f"SUM(TIMESTAMP_DIFF(finished_at, started_at, MICROSECOND)) us FROM {_audits(dataset, since)} "
             "GROUP BY contract ORDER BY contract")
    busy: list[tuple[str, int, int, float]] = []
    print("\ningestion_audit (received = rows_sent + dead_lettered + consent_dropped + skipped + duplicates_in_batch):")
    for row in bq.query(query).result():
        print(f"  {row['contract'] or '(none)':<16} received {row['r']:>5} = rows_sent {row['w']} + dead_lettered {row['i']} "
              f"+ consent_dropped {row['c']} + skipped {row['s']} + duplicates_in_batch {row['d']}"
              + (f"   (unknown reference ids: {row['m']})" if row["m"] else ""))
        busy.append((row["contract"] or "(none)", row["w"], row["n"], row["us"] / 1e6))
    print("\nfunction time (from ingestion_audit: first record read → audit row written, BigQuery emulator included):")
    for contract, written, invocations, seconds in busy:
        if written:
            print(f"  {contract:<16} {written:>5} rows in {invocations} invocations, {seconds:.2f}s busy: "
                  f"{written / seconds:,.0f} rows/s per busy instance")


def demo(cfg: emulators.StackConfig, names: LocalNames, events_count: int, batch: int) -> None:
    up(cfg, names)
    since = time.time() - 1
    bq = provision.bigquery_client(cfg.project, cfg.bigquery_url)
    publisher = pubsub_v1.PublisherClient()
    events_topic = publisher.topic_path(cfg.project, names.events_topic)
    logs_topic = publisher.topic_path(cfg.project, names.logs_topic)

    events = samples.events(events_count) + samples.visits(20)
    started = time.monotonic()
    sent = publish(events, events_topic, client=publisher, max_records=batch)
    # Two deliberately bad messages, sent raw: they must reach the dead letter, not be repaired here.
    futures = [publisher.publish(events_topic, b'{"event_name": "page_view", "event_timestamp": "soon"}')]
    futures.append(publisher.publish(events_topic, b"this is not json"))
    logs = samples.log_entries(60)
    futures.append(publisher.publish(logs_topic, b"\n".join(orjson.dumps(entry) for entry in logs)))
    for future in futures:
        future.result()
    print(f"\npublished {len(events) + 2} events in {sent.messages + 2} messages "
          f"({sent.bytes_in} bytes, {sent.bytes_out} gzipped) and {len(logs)} logs")

    bucket = storage.Client(project=cfg.project).bucket(cfg.bucket)
    lines = samples.userpilot_lines(200)
    body = b"\n".join(orjson.dumps(line) for line in lines) + b'\n{"event_type": "click"}\n'
    bucket.blob(f"userpilot/{int(since)}/export.ndjson.gz").upload_from_string(gzip.compress(body))
    bucket.blob(f"events/{int(since)}/backfill.ndjson").upload_from_string(
        b"\n".join(orjson.dumps(e) for e in samples.events(100, seed=99)))
    bucket.blob(f"misc/{int(since)}/unknown.ndjson").upload_from_string(b"{}\n")
    columns = ["event_type", "event_name", "inserted_at", "user_id", "hostname", "metadata"]
    csv_lines = [",".join(columns)] + [
        ",".join([line["event_type"], line.get("event_name") or "", line["inserted_at"], line["user_id"] or "",
                  line.get("hostname") or "",
                  '"' + orjson.dumps(line.get("metadata") or {}).decode().replace('"', '""') + '"'])
        for line in samples.userpilot_lines(50, seed=7)] + ["click,not a time,,,"]
    bucket.blob(f"userpilot/{int(since)}/export.csv").upload_from_string("\n".join(csv_lines).encode())
    drops = [f"userpilot/{int(since)}/export.ndjson.gz", f"events/{int(since)}/backfill.ndjson",
             f"userpilot/{int(since)}/export.csv"]
    print("dropped gs://%s/userpilot/.../export.ndjson.gz (201 lines), events/.../backfill.ndjson (100 lines), "
          "userpilot/.../export.csv (51 records), misc/.../unknown.ndjson" % cfg.bucket)

    wait_for(bq, names.dataset, since, {"ingest_events": len(events) + 2, "ingest_logs": len(logs),
                                        "ingest_file": 201 + 100 + 51 + 1}, timeout=180)
    elapsed = time.monotonic() - started
    report(bq, names.dataset, since)
    print("\nwhat partners see on their files (object metadata):")
    for name in drops:
        marks = bucket.get_blob(name).metadata or {}
        print(f"  {name:<40} " + ", ".join(f"{k.removeprefix('ingest-')}={v}" for k, v in sorted(marks.items())))
    probe = latency(bq, publisher, events_topic, names.dataset)
    print(f"\nthroughput: {len(events) + len(logs) + 353} records accounted for in {elapsed:.1f}s "
          f"({(len(events) + len(logs) + 353) / elapsed:.0f} records/s, emulators included)")
    print(f"latency: publish → row queryable in {probe * 1000:.0f} ms (one event, push subscription)")
    print("\nuser activities (`make activities` runs the same build again):")
    activities.report(bq, SqlSettings.from_env(), datetime.now(timezone.utc), show=6)
    print("\nthe stack is still up: see README.md to publish and query; `make down` stops it.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "demo"])
    parser.add_argument("--events", type=int, default=2000, help="sample events to publish (demo)")
    parser.add_argument("--batch", type=int, default=100, help="events per Pub/Sub message (demo)")
    args = parser.parse_args(argv)
    cfg, names = emulators.StackConfig.from_env(), LocalNames.from_env()
    try:
        if args.command == "up":
            up(cfg, names)
        else:
            demo(cfg, names, args.events, args.batch)
    except emulators.EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
