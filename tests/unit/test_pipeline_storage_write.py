"""The pipeline through StorageWriter (fake AppendRows backend): rows, dead letter and audit as protos."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import pytest

from ingest.clients import table_names
from ingest.config import Settings
from ingest.errors import RecordError
from ingest.pipeline import Pipeline
from ingest.records import SourceRef
from ingest.sinks.storage_write import RowCodec, StorageWriter
from tests.unit.test_pipeline import EVENT, SCHEMAS
from tests.unit.test_storage_writer import FakeBackend, failed


def _pipe(backend: FakeBackend) -> tuple[Pipeline, dict[str, RowCodec]]:
    settings = Settings(schemas_dir=SCHEMAS)
    codecs = {name: RowCodec.for_table(name, SCHEMAS) for name in table_names(settings)}
    return Pipeline(settings, StorageWriter(backend.open, "p", "d", codecs, backoff_s=0)), codecs


def _message(pipe: Pipeline, data: bytes) -> Any:
    return pipe.ingest_message(function="ingest_events", contract="pro_event", data=data,
                               source=SourceRef(kind="pubsub", topic="t", message_id="m1"),
                               attributes={"origin": "test"}, publish_time=datetime.now(timezone.utc))


def _landed(backend: FakeBackend, codecs: dict[str, RowCodec], table: str) -> list[Any]:
    return [codecs[table].decode(data) for stream, data in backend.tables
            if stream.endswith(f"/tables/{table}/streams/_default")]


def test_rows_errors_and_audit_are_appended_in_their_wire_types() -> None:
    backend = FakeBackend(failed(3, "rows have errors", {1: "Field event_name: no such value"}))
    pipe, codecs = _pipe(backend)
    other = {**EVENT, "event_name": "hasClickedShowBooking"}
    counts = _message(pipe, orjson.dumps([EVENT, other]))
    assert counts.rows_sent == 1 and counts.dead_lettered == 1 and counts.balanced()
    [row] = _landed(backend, codecs, "pro_event")
    assert row.event_name == EVENT["event_name"] and row.ingested_at > 1_700_000_000_000_000  # int64 µs
    [error] = _landed(backend, codecs, "ingestion_errors")
    assert error.error_type == "rejected_by_bigquery" and orjson.loads(error.raw_payload) == other
    assert "Field event_name: no such value" in str(error)
    [audit] = _landed(backend, codecs, "ingestion_audit")
    assert audit.rows_sent == 1 and audit.dead_lettered == 1


def test_a_value_the_column_cannot_hold_costs_its_record_as_invalid_value() -> None:
    pipe, _ = _pipe(FakeBackend())
    encode = pipe.writer.encoder("pro_event")
    with pytest.raises(RecordError) as caught:
        encode({"ingested_at": "not a time"}, {}, b"{}")
    assert caught.value.kind.value == "invalid_value"


def test_a_clean_message_costs_two_appends_on_one_writer_and_no_dead_letter_request() -> None:
    backend = FakeBackend()
    pipe, _ = _pipe(backend)
    for _ in range(2):
        _message(pipe, orjson.dumps([EVENT]))
    tables = [stream.name.split("/tables/")[1].split("/")[0] for stream, _ in backend.requests]
    assert tables == ["pro_event", "ingestion_audit"] * 2
    assert len(backend.opened) == 2, "the second message reuses both streams"
