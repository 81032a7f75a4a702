"""A message delivered twice through the pipeline on the Storage Write API path (at least once:
the redelivery writes its rows, its dead-letter row and its audit row again, same ids), in a
dataset of its own so counts are exact: every consumer of the audit and the dead letter — the
deduplicated views, the runbook's SQL, the documented reconciliation, the dead-letter replay —
counts the invocation and the record once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from google.cloud import bigquery

from ingest.clients import storage_writer
from ingest.config import Settings
from ingest.dead_letter_replay import Selection, replay, select_errors
from ingest.pipeline import Pipeline
from ingest.records import SourceRef
from tests.integration.conftest import CFG, REPO
from tests.integration.test_accounting import _marked, _run_check
from tests.integration.test_runbook import _sql
from tools import provision

TOPIC = "tracking-events"
REDELIVERED, ONCE = "twice", "once"
"""Message ids: the first is delivered twice (three records, one invalid), the second once (one)."""


def _settings(dataset: str) -> Settings:
    return Settings(schemas_dir=REPO / "schemas", project=CFG.project, dataset=dataset,
                    bigquery_write_path="storage_write", bigquery_grpc_emulator_host=CFG.bigquery_grpc_target,
                    bigquery_timeout_s=10)


def _deliver(pipe: Pipeline, data: bytes, message_id: str) -> None:
    pipe.ingest_message(function="ingest_events", contract="pro_event", data=data,
                        source=SourceRef(kind="pubsub", topic=TOPIC, message_id=message_id), attributes=None,
                        publish_time=datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def delivered(bq: bigquery.Client) -> SimpleNamespace:
    dataset = f"it_dup_{uuid.uuid4().hex[:6]}"
    provision.create_dataset(bq, dataset, REPO / "schemas")
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    marker = f"dup-{uuid.uuid4().hex[:6]}"
    pipe = Pipeline(_settings(dataset), storage_writer(_settings(dataset)))
    twice = orjson.dumps([_marked(marker, 0), _marked(marker, 1), {"event_name": "no-timestamp"}])
    _deliver(pipe, twice, REDELIVERED)
    _deliver(pipe, twice, REDELIVERED)  # the redelivery: everything written again
    _deliver(pipe, orjson.dumps(_marked(marker, 2)), ONCE)
    return SimpleNamespace(dataset=dataset, since=since, pipe=pipe)


def _query(bq: bigquery.Client, dataset: str, sql: str) -> list[dict[str, Any]]:
    config = bigquery.QueryJobConfig(default_dataset=f"{CFG.project}.{dataset}")
    return [dict(row) for row in bq.query(sql, job_config=config).result()]


def test_the_raw_sinks_hold_both_copies_under_the_same_ids_and_their_views_one(bq, delivered):
    source = f"pubsub://{TOPIC}/{REDELIVERED}"
    audits = _query(bq, delivered.dataset, f"SELECT * FROM ingestion_audit WHERE source = '{source}'")
    errors = _query(bq, delivered.dataset, f"SELECT * FROM ingestion_errors WHERE source.message_id = '{REDELIVERED}'")
    assert len(audits) == 2 and len({a["audit_id"] for a in audits}) == 1, "same message, same audit_id"
    assert len(errors) == 2 and len({e["error_id"] for e in errors}) == 1, "same record, same error_id"
    assert len({a["started_at"] for a in audits}) == 2 and len({e["received_at"] for e in errors}) == 2
    [audit] = _query(bq, delivered.dataset, f"SELECT * FROM ingestion_audit_deduplicated WHERE source = '{source}'")
    assert audit["started_at"] == max(a["started_at"] for a in audits), "the audit keeps the latest copy"
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"]) == (3, 2, 1)
    [error] = _query(bq, delivered.dataset,
                     f"SELECT * FROM ingestion_errors_deduplicated WHERE source.message_id = '{REDELIVERED}'")
    assert error["received_at"] == min(e["received_at"] for e in errors), "the dead letter keeps the first copy"


@pytest.mark.parametrize(("block", "expected"), [
    ("recent-invocations", [{"function": "ingest_events", "invocations": 2, "records": 4}]),
    ("last-ingested", [{"function": "ingest_events", "contract": "pro_event", "records_last_day": 4}]),
    ("dead-letter-by-type", [{"contract": "pro_event", "error_type": "schema_violation", "records": 1}]),
])
def test_the_runbook_counts_each_invocation_and_record_once(bq, delivered, block, expected):
    rows = _sql(bq, SimpleNamespace(dataset=delivered.dataset), block)
    assert [{k: r[k] for k in expected[0]} for r in rows] == expected


def test_an_unbalanced_invocation_written_twice_is_listed_once(bq, delivered):
    source = f"pubsub://{TOPIC}/unbalanced-{uuid.uuid4().hex[:6]}"
    now = datetime.now(timezone.utc)
    row = {"audit_id": source, "function": "ingest_events", "contract": "pro_event", "source_kind": "pubsub",
           "source": source, "received": 3, "rows_sent": 1, "dead_lettered": 0, "consent_dropped": 0, "skipped": 0,
           "duplicates_in_batch": 0, "pseudonymised": 0, "code_version": "test"}
    copies = [{**row, "started_at": (now + timedelta(seconds=i)).isoformat(),
               "finished_at": (now + timedelta(seconds=i)).isoformat()} for i in range(2)]
    assert not bq.insert_rows_json(f"{CFG.project}.{delivered.dataset}.ingestion_audit", copies)
    names = SimpleNamespace(dataset=delivered.dataset)
    assert [r["source"] for r in _sql(bq, names, "unbalanced")].count(source) == 1
    assert [r["source"] for r in _run_check(bq, names, "balance")].count(source) == 1


def test_the_documented_reconciliation_finds_nothing_amiss_after_a_redelivery(bq, delivered):
    names, ours = SimpleNamespace(dataset=delivered.dataset), {f"pubsub://{TOPIC}/{m}" for m in (REDELIVERED, ONCE)}
    for check in ("rows", "dead-letter"):
        assert [r for r in _run_check(bq, names, check) if r["source"] in ours] == [], check


def test_a_record_dead_lettered_twice_is_selected_and_replayed_once(bq, delivered):
    selection = Selection(since=delivered.since, until=datetime.now(timezone.utc), contract="pro_event")
    selected = list(select_errors(bq, delivered.dataset, selection))
    assert len(selected) == 1 and selected[0]["source"]["message_id"] == REDELIVERED
    [outcome] = replay(delivered.pipe, selected)
    assert outcome["outcome"] == "still_failing"
    replays = _query(bq, delivered.dataset, "SELECT error_id FROM ingestion_replays")
    assert [r["error_id"] for r in replays] == [selected[0]["error_id"]]
    assert list(select_errors(bq, delivered.dataset, selection)) == [], "replayed: not selected again"
