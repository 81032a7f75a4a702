"""The Storage Write API path against the emulator's gRPC endpoint (real AppendRows, real row_errors)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from ingest.clients import storage_writer
from ingest.config import Settings
from ingest.pipeline import Pipeline
from ingest.records import SourceRef
from ingest.sinks.audit import Counts, audit_row
from tests.integration.conftest import CFG, REPO
from tests.unit.test_pipeline import EVENT


def _settings(names: Any) -> Settings:
    return Settings(schemas_dir=REPO / "schemas", project=CFG.project, dataset=names.dataset,
                    bigquery_write_path="storage_write", bigquery_grpc_emulator_host=CFG.bigquery_grpc_target)


def _audit(source: str) -> dict[str, Any]:
    moment = datetime.now(timezone.utc)
    _, row = audit_row(function="probe", contract="pro_event", source_kind="pubsub", source=source,
                       counts=Counts(received=1, rows_sent=1), started_at=moment, finished_at=moment, code_version="it")
    return orjson.loads(row)


def test_a_row_the_emulator_refuses_costs_that_row_and_the_rest_lands(bq: Any, names: Any,
                                                                      query: Callable[..., list[dict[str, Any]]]) -> None:
    writer = storage_writer(_settings(names))
    encode = writer.encoder("ingestion_audit")
    rows = [("good1", encode(_audit("sw-good-1"), {}, b"{}")), ("bad", encode({"audit_id": "x"}, {}, b"{}")),
            ("good2", encode(_audit("sw-good-2"), {}, b"{}"))]
    [rejection] = writer.insert("ingestion_audit", rows)
    assert rejection.insert_id == "bad" and "required" in rejection.reasons[0].message.lower()
    landed = query("SELECT source FROM ingestion_audit WHERE source LIKE 'sw-%' ORDER BY source")
    assert [r["source"] for r in landed] == ["sw-good-1", "sw-good-2"]
    writer.close()


def test_a_message_through_the_write_api_lands_with_its_audit_in_the_wire_types(
        bq: Any, names: Any, query: Callable[..., list[dict[str, Any]]]) -> None:
    settings = _settings(names)
    pipe = Pipeline(settings, storage_writer(settings))
    event = {**EVENT, "event_name": "storageWriteProbe"}
    for _ in range(2):  # a redelivery writes the rows again: the deduplicated view shows them once
        counts = pipe.ingest_message(function="ingest_events", contract="pro_event", data=orjson.dumps(event),
                                     source=SourceRef(kind="pubsub", topic="t", message_id="sw-m1"),
                                     attributes=None, publish_time=datetime.now(timezone.utc))
        assert counts.rows_sent == 1
    raw = query("SELECT row_id, ingested_at FROM pro_event WHERE event_name = 'storageWriteProbe' AND event_date >= '2000-01-01'")
    view = query("SELECT row_id FROM pro_event_deduplicated WHERE event_name = 'storageWriteProbe' AND event_date >= '2000-01-01'")
    assert len(raw) == 2 and len(view) == 1 and raw[0]["ingested_at"].year >= 2026
    audits = query("SELECT rows_sent FROM ingestion_audit WHERE source = 'pubsub://t/sw-m1'")
    assert [a["rows_sent"] for a in audits] == [1, 1]
