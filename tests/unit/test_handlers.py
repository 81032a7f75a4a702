"""The real functions-framework app, driven in-process, over the in-memory writer."""

import base64
from pathlib import Path

import orjson
import pytest
from functions_framework import create_app

from ingest import clients
from ingest.config import Settings
from ingest.pipeline import Pipeline
from tests.support.fake_writer import FakeWriter

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
EVENT = orjson.loads((Path(__file__).resolve().parents[2] / "schemas/pro_event/examples/ga4_export.pass.json").read_bytes())


@pytest.fixture
def writer(monkeypatch):
    fake = FakeWriter()
    monkeypatch.setattr(clients, "pipeline", lambda: Pipeline(Settings(), fake))
    return fake


def _post(target: str, data: bytes | None, message_id: str = "7"):
    client = create_app(target, MAIN, "cloudevent").test_client()
    body = {"message": {"messageId": message_id, "publishTime": "2026-11-23T10:00:00Z",
                        **({"data": base64.b64encode(data).decode()} if data is not None else {})}}
    return client.post("/", json=body, headers={
        "ce-id": message_id, "ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/local-dev/topics/tracking-events"})


def test_event_message_is_acked_and_written(writer):
    response = _post("ingest_events", orjson.dumps([EVENT, EVENT]))
    assert response.status_code == 200
    assert len(writer.rows("pro_event")) == 1
    assert writer.rows("ingestion_audit")[0]["duplicates_in_batch"] == 1


def test_garbage_is_acked_into_the_dead_letter(writer):
    response = _post("ingest_events", b"\x00\xff not json")
    assert response.status_code == 200
    [error] = writer.rows("ingestion_errors")
    assert error["raw_payload_encoding"] == "base64"
    assert base64.b64decode(error["raw_payload"]) == b"\x00\xff not json"


def test_message_without_data_is_acked_into_the_dead_letter(writer):
    assert _post("ingest_logs", None).status_code == 200
    assert writer.rows("ingestion_errors")[0]["error_type"] in ("invalid_json", "undecodable_message")


def test_transient_failure_answers_500_so_pubsub_redelivers(writer):
    writer.fail_next = 1
    assert _post("ingest_events", orjson.dumps(EVENT)).status_code == 500
    assert _post("ingest_events", orjson.dumps(EVENT)).status_code == 200
    assert len(writer.rows("pro_event")) == 1


def test_malformed_storage_event_is_acked_into_the_dead_letter(writer):
    client = create_app("ingest_file", MAIN, "cloudevent").test_client()
    response = client.post("/", json={"bucket": "partner-drops"}, headers={
        "ce-id": "e1", "ce-specversion": "1.0", "ce-type": "google.cloud.storage.object.v1.finalized",
        "ce-source": "//storage.googleapis.com/projects/_/buckets/partner-drops", "ce-subject": "objects/x"})
    assert response.status_code == 200
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "undecodable_message" and "partner-drops" in error["raw_payload"]
    assert error["source_kind"] == "gcs" and error["source"] == {"bucket": "partner-drops", "object": "x"}


def test_a_malformed_envelope_is_kept_exactly_as_it_arrived(writer):
    client = create_app("ingest_events", MAIN, "cloudevent").test_client()
    body = b'{"message": {"data": "e30=", "messageId": "9", "publishTime": "not a time", "attributes": {"a": "1"}}}'
    response = client.post("/", data=body, content_type="application/json", headers={
        "ce-id": "9", "ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/local-dev/topics/tracking-events"})
    assert response.status_code == 200
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "undecodable_message" and error["raw_payload"].encode() == body
    assert error["reasons"][0]["path"] == "$.message.publishTime" and error["source"]["message_id"] == "9"
    [audit] = writer.rows("ingestion_audit")
    assert (audit["received"], audit["dead_lettered"]) == (1, 1)
