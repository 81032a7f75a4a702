"""Published messages and dropped files become BigQuery rows, through the real emulators and
the functions served by functions-framework from the deployable bundle."""

from __future__ import annotations

import gzip
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from ingest.clients import build_pipeline
from ingest.config import Settings
from ingest.errors import TransientError
from ingest.records import SourceRef
from tests.integration.conftest import CFG, FAULTY_TOPIC, eventually
from tests.support.fault_proxy import Outcome
from tests.support.tcp_fault_proxy import Fault

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas"


def _example(contract: str, name: str) -> dict:
    return orjson.loads((EXAMPLES / contract / "examples" / name).read_bytes())


def _event(marker: str, **changes) -> dict:
    return {**_example("pro_event", "ga4_export.pass.json"), "user_pseudo_id": marker, **changes}


def test_events_published_as_a_batch_land_with_their_columns(functions, publisher, query):
    marker = f"it-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(CFG.project, "tracking-events")
    batch = [_event(marker, event_name=f"e{i}") for i in range(3)]
    batch.append(_event(marker, event_name="denied", privacy_info={"analytics_storage": "No"}))
    publisher.publish(topic, orjson.dumps(batch)).result()
    rows = eventually(lambda: (r := query(
        "SELECT * FROM pro_event WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m ORDER BY event_name",
        m=marker)) and len(r) >= 3 and r)
    assert [r["event_name"] for r in rows] == ["e0", "e1", "e2"]
    row = rows[0]
    assert row["offer_id"] == "998877" and row["offerer_id"] == "AEWQ" and row["is_edition"] is False
    assert row["unique_session_id"] == f"{marker}-1763899000" and row["session_number"] == 7
    assert row["traffic_medium"] == "email" and row["traffic_campaign"] == "rentree_2026"
    assert row["user_device_category"] == "desktop" and row["url_path_extract"] == "/offres"
    assert str(row["event_date"]) == "2025-11-23" and row["row_id"]
    assert row["venue_name"] == "Librairie du Port" and row["offerer_name"] == "SARL Lire et Voir"
    [audit] = eventually(lambda: query("SELECT * FROM ingestion_audit WHERE source = @s",
                                       s=rows[0]["ingestion_source"].rsplit("#", 1)[0]))
    assert (audit["received"], audit["rows_sent"], audit["consent_dropped"]) == (4, 3, 1)


def test_log_entries_land_in_pro_log(functions, publisher, query):
    technical_id = f"it-{uuid.uuid4().hex[:8]}"
    entry = _example("pro_log", "logentry_stock.pass.json")
    entry["jsonPayload"]["technical_message_id"] = technical_id
    publisher.publish(publisher.topic_path(CFG.project, "backend-logs"), orjson.dumps(entry)).result()
    [row] = eventually(lambda: query("SELECT * FROM pro_log WHERE partition_date >= '2000-01-01' "
                                     "AND technical_message_id = @t", t=technical_id))
    assert row["message"] == "Successfully updated stock" and row["environement"] == "production"
    assert row["stock_old_quantity"] == 10 and str(row["stock_new_price"]) == "13"


def test_dropped_gzip_file_lands_line_by_line(functions, bucket, query):
    token = uuid.uuid4().hex[:8]
    lines = [{**_example("userpilot_event", "interaction.pass.json"), "user_id": f"{token}-{i}"} for i in range(5)]
    body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n{not json}\n"
    name = f"userpilot/{token}/export.ndjson.gz"
    bucket.blob(name).upload_from_string(gzip.compress(body))
    rows = eventually(lambda: (r := query("SELECT * FROM userpilot_event WHERE inserted_at >= TIMESTAMP('2000-01-01') "
                                          "AND STARTS_WITH(user_id, @t)", t=token)) and len(r) == 5 and r)
    assert {r["interaction_status"] for r in rows} == {"SEEN"} and rows[0]["browser"] == "Firefox"
    [error] = eventually(lambda: query("SELECT * FROM ingestion_errors WHERE source.object = @o", o=name))
    assert error["error_type"] == "invalid_json" and error["source"]["line_number"] == 6
    assert error["raw_payload"] == "{not json}"


def test_invalid_input_is_acked_into_ingestion_errors_with_its_reason(functions, publisher, query):
    marker = f"it-{uuid.uuid4().hex[:8]}"
    raw = orjson.dumps({"event_name": "page_view", "event_timestamp": "not a time", "note": marker})
    message_id = publisher.publish(publisher.topic_path(CFG.project, "tracking-events"), raw).result()
    [error] = eventually(lambda: query("SELECT * FROM ingestion_errors WHERE source.message_id = @m", m=message_id))
    assert error["raw_payload"] == raw.decode() and error["error_type"] == "schema_violation"
    paths = {reason["path"] for reason in error["reasons"]}
    assert paths == {"$", "$.event_timestamp"}, error["reasons"]


def test_the_same_event_published_twice_is_two_raw_rows_of_one_identity(functions, publisher, query):
    """Spelled differently (a float timestamp, keys in another order): still the same row_id. Each
    publication lands under its own source, so each audit row is exactly what the table holds;
    the deduplicated views keep one."""
    marker = f"it-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(CFG.project, "tracking-events")
    event = _event(marker)
    respelled = dict(reversed(list({**event, "event_timestamp": float(event["event_timestamp"])}.items())))
    first = publisher.publish(topic, orjson.dumps(event)).result()
    second = publisher.publish(topic, orjson.dumps(respelled)).result()
    audits = eventually(lambda: (a := query("SELECT * FROM ingestion_audit WHERE source = @a OR source = @b",
                                            a=f"pubsub://tracking-events/{first}",
                                            b=f"pubsub://tracking-events/{second}")) and len(a) == 2 and a)
    assert [a["rows_sent"] for a in audits] == [1, 1]
    rows = query("SELECT * FROM pro_event WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m", m=marker)
    assert len({r["row_id"] for r in rows}) == 1
    assert sorted(r["ingestion_source"] for r in rows) == sorted(
        [f"pubsub://tracking-events/{first}", f"pubsub://tracking-events/{second}"])


def test_on_insert_all_a_redelivered_message_writes_nothing_twice(bq, names, query):
    """The same Pub/Sub message handled twice (as after a lost ack) against the real emulator, on the
    insert_all path: its insertIds keep the raw tables free of the copy (the Storage Write API's
    counterpart is in test_storage_write.py)."""
    marker = f"it-{uuid.uuid4().hex[:8]}"
    pipe = build_pipeline(Settings(project=CFG.project, dataset=names.dataset, bigquery_emulator_host=CFG.bigquery_url,
                                   bigquery_write_path="insert_all"))
    source = SourceRef(kind="pubsub", topic="tracking-events", message_id=f"redelivered-{marker}")
    data = orjson.dumps([_event(marker), {"broken": True}])
    for _ in range(2):
        pipe.ingest_message(function="ingest_events", contract="pro_event", data=data, source=source,
                            attributes={}, publish_time=datetime.now(timezone.utc))
    assert len(query("SELECT * FROM pro_event WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m", m=marker)) == 1
    assert len(query("SELECT * FROM ingestion_errors WHERE source.message_id = @m", m=source.message_id)) == 1
    assert len(query("SELECT * FROM ingestion_audit WHERE source = @s", s=source.uri())) == 1


def test_on_insert_all_a_lost_response_and_refusals_are_retried_to_one_row(bq, names, fault_proxy, query):
    """insert_all behind the HTTP fault proxy: the first insert reaches BigQuery but its answer is lost,
    the next ones are refused; the invocation raises, and its retry lands the row once."""
    marker = f"it-{uuid.uuid4().hex[:8]}"
    pipe = build_pipeline(Settings(project=CFG.project, dataset=names.dataset, bigquery_emulator_host=fault_proxy.url,
                                   bigquery_write_path="insert_all", bigquery_timeout_s=1))
    source = SourceRef(kind="pubsub", topic="tracking-events", message_id=f"lost-{marker}")
    data = orjson.dumps(_event(marker))
    fault_proxy.reset_stats()
    fault_proxy.lose_response_next(1, r"/tables/pro_event/insertAll")
    fault_proxy.reject_next(1_000, r"/tables/pro_event/insertAll")
    try:
        with pytest.raises(TransientError):
            pipe.ingest_message(function="ingest_events", contract="pro_event", data=data, source=source,
                                attributes={}, publish_time=datetime.now(timezone.utc))
    finally:
        fault_proxy.clear_faults()
    pipe.ingest_message(function="ingest_events", contract="pro_event", data=data, source=source,
                        attributes={}, publish_time=datetime.now(timezone.utc))
    outcomes = fault_proxy.counts()
    assert outcomes[Outcome.LOST] == 1 and outcomes[Outcome.REJECTED] >= 1
    assert len(query("SELECT * FROM pro_event WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m", m=marker)) == 1


def test_transient_write_api_failure_is_retried_by_pubsub_and_lands_once_in_the_view(
        faulty_events_topic, grpc_fault_proxy, publisher, query):
    """Through Pub/Sub and the served function: its appends reach the emulator but their answers are
    lost, so each delivery fails (500) and Pub/Sub redelivers until the network heals; the raw table
    may hold the lost writes too, the deduplicated view holds the event once."""
    marker = f"it-{uuid.uuid4().hex[:8]}"
    lost_before = grpc_fault_proxy.hits()[Fault.LOSE]
    grpc_fault_proxy.lose_responses()
    try:
        message_id = publisher.publish(faulty_events_topic, orjson.dumps(_event(marker))).result()
        eventually(lambda: grpc_fault_proxy.hits()[Fault.LOSE] >= lost_before + 2, timeout=60)
    finally:
        grpc_fault_proxy.disarm()
    [audit] = eventually(lambda: query("SELECT * FROM ingestion_audit WHERE source = @s",
                                       s=f"pubsub://{FAULTY_TOPIC}/{message_id}"), timeout=90)
    assert (audit["received"], audit["rows_sent"]) == (1, 1)
    view = query("SELECT * FROM pro_event_deduplicated WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m",
                 m=marker)
    raw = query("SELECT * FROM pro_event WHERE event_date >= '2000-01-01' AND user_pseudo_id = @m", m=marker)
    assert len(view) == 1 and len(raw) >= 1 and {r["row_id"] for r in raw} == {view[0]["row_id"]}


def test_unknown_prefix_is_recorded_with_a_reason(functions, bucket, query):
    name = f"misc/{uuid.uuid4().hex[:8]}.ndjson"
    bucket.blob(name).upload_from_string(b"{}\n")
    [error] = eventually(lambda: query("SELECT * FROM ingestion_errors WHERE source.object = @o", o=name))
    assert error["error_type"] == "unknown_contract" and error["contract"] is None
    assert "misc" in error["reasons"][0]["message"]
