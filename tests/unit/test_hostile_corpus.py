"""The hostile corpus through the real handlers (functions-framework's app, in-process), over a
writer that keeps rows in memory: every record lands exactly once where its case says, the audit
row says exactly that, and no record is ever an ``internal_error``."""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import pytest
from functions_framework import create_app

from ingest import clients
from ingest.config import Settings
from ingest.contracts import CONTRACTS
from ingest.errors import FailureKind
from ingest.pipeline import Pipeline
from tests.support.fake_writer import FakeWriter
from tests.support.hostile_corpus import CASES, DROPPED, DUPLICATE, ROW, SKIPPED, Case
from tests.support.memory_files import MemoryFiles

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
SETTINGS = Settings(max_record_bytes=65_536, max_message_bytes=1024 * 1024, max_message_records=1000,
                    file_batch_lines=7, dead_letter_payload_bytes=100_000, pseudonymisation_key="corpus-key-0123456789")
TABLE = {"ingest_events": "pro_event", "ingest_logs": "pro_log"}
PREFIX = {"events": "pro_event", "logs": "pro_log", "userpilot": "userpilot_event"}
COUNTED = {DROPPED: "consent_dropped", SKIPPED: "skipped", DUPLICATE: "duplicates_in_batch"}


@pytest.fixture
def stack(monkeypatch):
    writer = FakeWriter()
    files = MemoryFiles()
    monkeypatch.setattr(clients, "pipeline", lambda: Pipeline(SETTINGS, writer))
    monkeypatch.setattr(clients, "file_store", lambda: files)
    return writer, files


def _send(case: Case, files: MemoryFiles):
    client = create_app(case.target, MAIN, "cloudevent").test_client()
    if case.target == "ingest_file":
        files.drop("partner-drops", case.object_name, case.body, generation=7)
        return client.post("/", json={"bucket": "partner-drops", "name": case.object_name, "generation": "7"}, headers={
            "ce-id": "e1", "ce-specversion": "1.0", "ce-type": "google.cloud.storage.object.v1.finalized",
            "ce-source": "//storage.googleapis.com/projects/_/buckets/partner-drops",
            "ce-subject": f"objects/{case.object_name}"})
    body = case.envelope or {"message": {"data": base64.b64encode(case.body).decode(), "messageId": "m1",
                                         "publishTime": "2026-11-23T10:00:00Z", "attributes": {"k": "v"}}}
    return client.post("/", json=body, headers={
        "ce-id": "m1", "ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/local-dev/topics/t"})


def _row_position(source: str) -> int | None:
    if source.startswith("gs://"):
        return int(source.rsplit(":", 1)[1])
    return int(source.rsplit("#", 1)[1]) if "#" in source else None


def _error_position(source: dict) -> int | None:
    return source.get("record_index", source.get("line_number"))


def check(case: Case, writer: FakeWriter) -> None:
    contract = TABLE.get(case.target) or PREFIX.get(case.object_name.split("/", 1)[0])
    kinds = set(FailureKind)
    rows = [row for table in CONTRACTS for row in writer.rows(table)]
    errors = writer.rows("ingestion_errors")
    assert all(row["ingestion_source"] and row["row_id"] for row in rows)
    assert sorted((_row_position(r["ingestion_source"]) for r in rows), key=str) == sorted(
        (p for p, o in case.outcomes if o == ROW), key=str), "rows"
    assert len(rows) == len(writer.rows(contract or "")), "rows land in their contract's table only"
    assert sorted(((_error_position(e["source"]), e["error_type"]) for e in errors), key=str) == sorted(
        ((p, o) for p, o in case.outcomes if o in kinds), key=str), [(e["error_type"], e["reasons"]) for e in errors]
    assert not any(e["error_type"] == FailureKind.INTERNAL_ERROR for e in errors)
    for position, raw in case.raw.items():
        [error] = [e for e in errors if _error_position(e["source"]) == position]
        assert error["raw_payload"].encode() == raw
    [audit] = writer.rows("ingestion_audit")
    outcomes = Counter(o for _, o in case.outcomes)
    assert audit["received"] == len(case.outcomes)
    assert audit["rows_sent"] == outcomes[ROW] == len(rows)
    assert audit["dead_lettered"] == sum(n for o, n in outcomes.items() if o in kinds) == len(errors)
    for outcome, column in COUNTED.items():
        assert audit[column] == outcomes[outcome], column
    assert audit["received"] == sum(audit[c] for c in ("rows_sent", "dead_lettered", "consent_dropped", "skipped",
                                                       "duplicates_in_batch"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_record_lands_exactly_once_where_its_case_says(stack, case):
    writer, files = stack
    response = _send(case, files)
    assert response.status_code == 200, response.data
    check(case, writer)


def test_the_corpus_covers_every_class_of_the_issue():
    assert len(CASES) >= 90, len(CASES)
    expected = {o for case in CASES for _, o in case.outcomes}
    assert {ROW, DROPPED, SKIPPED, DUPLICATE} <= expected
    assert set(FailureKind) - expected == {FailureKind.INTERNAL_ERROR, FailureKind.REJECTED_BY_BIGQUERY,
                                           FailureKind.OBJECT_MISSING}
