"""The Storage Write API path against the emulator's gRPC endpoint (real AppendRows, real row_errors),
and what at-least-once means once a network fault loses a write the emulator did make."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import orjson
import pytest

from ingest.clients import storage_writer
from ingest.config import Settings
from ingest.decode import split_message
from ingest.errors import TransientError
from ingest.pipeline import Pipeline, prepare
from ingest.records import SourceRef
from ingest.sinks.audit import Counts, audit_row
from tests.integration.conftest import CFG, REPO
from tests.integration.test_accounting import _marked, _run_check
from tests.support.tcp_fault_proxy import Fault, TcpFaultProxy
from tests.unit.test_pipeline import EVENT

TOPIC = "tracking-events"


def _settings(names: Any, target: str = CFG.bigquery_grpc_target) -> Settings:
    return Settings(schemas_dir=REPO / "schemas", project=CFG.project, dataset=names.dataset,
                    bigquery_write_path="storage_write", bigquery_grpc_emulator_host=target, bigquery_timeout_s=10,
                    bigquery_stream_max_age_s=5)


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


def _deliver(pipe: Pipeline, data: bytes, message_id: str) -> Counts:
    return pipe.ingest_message(function="ingest_events", contract="pro_event", data=data,
                               source=SourceRef(kind="pubsub", topic=TOPIC, message_id=message_id),
                               attributes=None, publish_time=datetime.now(timezone.utc))


def _row_ids(data: bytes, settings: Settings) -> list[str]:
    """The ids the message's rows must have, from the pure record path (no BigQuery involved)."""
    records = split_message(data, SourceRef(kind="pubsub", topic=TOPIC, message_id="ids"), settings)
    prepared = prepare("pro_event", records, settings, received_at=datetime.now(timezone.utc))
    return sorted(orjson.loads(row)["row_id"] for _, row in prepared.rows)


@pytest.mark.parametrize("lost", ["pro_event", "ingestion_errors", "ingestion_audit"])
def test_a_write_lost_to_the_network_raises_and_its_redelivery_leaves_exactly_the_original_rows(
        lost: str, bq: Any, names: Any, query: Callable[..., list[dict[str, Any]]],
        write_api_proxy: TcpFaultProxy) -> None:
    """The append to ``lost`` reaches the emulator, which writes it, but its answer never comes back
    (the appends before it landed normally): the invocation raises TransientError, so Pub/Sub would
    deliver the message again; that redelivery (on another instance) succeeds. The raw tables then
    hold the lost copies too; the deduplicated view holds exactly the message's rows, the dead letter
    one record per error_id, the audit one invocation per audit_id, and the documented
    reconciliation finds nothing amiss for this message."""
    marker = f"lost-{uuid.uuid4().hex[:8]}"
    message_id = f"{marker}-{lost}"
    data = orjson.dumps([_marked(marker, i) for i in range(5)] + [{"event_name": "no-timestamp"}])
    settings = _settings(names, write_api_proxy.target)
    pipe = Pipeline(settings, storage_writer(settings))
    # A warm instance: its channel is connected (on a connection still being set up, gRPC may hold
    # the request back until the server's settings arrive, and then nothing is written at all).
    _deliver(pipe, orjson.dumps(_marked(f"warm-{marker}", 0)), f"warm-{message_id}")
    original = pipe.writer.insert

    def insert(table: str, rows: Any) -> Any:
        if table == lost:
            write_api_proxy.lose_responses()
        return original(table, rows)

    pipe.writer.insert = insert  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        _deliver(pipe, data, message_id)
    write_api_proxy.disarm()
    assert write_api_proxy.hits()[Fault.LOSE] >= 1
    counts = _deliver(Pipeline(settings, storage_writer(settings)), data, message_id)
    assert (counts.received, counts.rows_sent, counts.dead_lettered) == (6, 5, 1)

    expected = _row_ids(data, settings)
    view = query("SELECT row_id FROM pro_event_deduplicated WHERE event_date >= '2000-01-01' "
                 "AND STARTS_WITH(user_pseudo_id, @m)", m=marker)
    assert sorted(r["row_id"] for r in view) == expected, "no loss, no double"
    raw = query("SELECT row_id FROM pro_event WHERE event_date >= '2000-01-01' AND STARTS_WITH(user_pseudo_id, @m)",
                m=marker)
    assert len(raw) > 5 and sorted(set(r["row_id"] for r in raw)) == expected, "the lost write did land"
    errors = query("SELECT error_id FROM ingestion_errors WHERE source.message_id = @m", m=message_id)
    assert len({e["error_id"] for e in errors}) == 1 and len(errors) >= 1
    source = f"pubsub://{TOPIC}/{message_id}"
    audits = query("SELECT audit_id, received, rows_sent, dead_lettered FROM ingestion_audit WHERE source = @s",
                   s=source)
    assert {tuple(a.values())[1:] for a in audits} == {(6, 5, 1)} and len({a["audit_id"] for a in audits}) == 1
    if lost == "ingestion_audit":
        assert len(audits) >= 2, "the lost audit row landed (once per lost attempt) as well as the redelivery's"
    for check in ("balance", "rows", "dead-letter"):
        assert source not in [r["source"] for r in _run_check(bq, names, check)], check
