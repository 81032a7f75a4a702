"""StorageWriter against a fake AppendRows stream that models refusals, timeouts, drops and row errors."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import grpc
import orjson
import pytest
from google.api_core import exceptions as gexc
from google.cloud.bigquery_storage_v1 import types

from benchmarks import corpus
from ingest.config import settings
from ingest.decode import split_message
from ingest.errors import TransientError
from ingest.pipeline import prepare
from ingest.records import SourceRef
from ingest.sinks.bigquery import json_row
from ingest.sinks.storage_write import DateDays, GrpcAppendStream, RowCodec, StorageWriter, TimestampMicros

Response = types.AppendRowsResponse.pb()


def ok() -> Any:
    response = Response()
    response.append_result.SetInParent()
    return response


def failed(code: int, message: str, row_errors: dict[int, str] | None = None) -> Any:
    response = Response()
    response.error.code, response.error.message = code, message
    for index, text in (row_errors or {}).items():
        response.row_errors.add(index=index, code=1, message=text)
    return response


class FakeStream:
    def __init__(self, backend: "FakeBackend", name: str) -> None:
        self.backend, self.name, self.closed = backend, name, False

    def append(self, request: Any) -> Any:
        assert not self.closed
        self.backend.requests.append((self, request))
        outcome = self.backend.script.pop(0) if self.backend.script else None
        if isinstance(outcome, Exception):
            raise outcome
        if callable(outcome):
            return outcome(request)
        if outcome is None:
            self.backend.landed.extend(request.proto_rows.rows.serialized_rows)
            self.backend.tables.extend((self.name, data) for data in request.proto_rows.rows.serialized_rows)
            return ok()
        return outcome

    def close(self) -> None:
        self.closed = True


class FakeBackend:
    """Scripted outcomes per append: an exception, a response, a function of the request, or None (lands)."""

    def __init__(self, *script: Any) -> None:
        self.script: list[Any] = list(script)
        self.requests: list[tuple[FakeStream, Any]] = []
        self.landed: list[bytes] = []
        self.tables: list[tuple[str, bytes]] = []
        """(stream, row) of every row that landed."""
        self.opened: list[str] = []

    def open(self, name: str) -> FakeStream:
        self.opened.append(name)
        return FakeStream(self, name)


def writer(backend: FakeBackend, **kwargs: Any) -> StorageWriter:
    codec = RowCodec.for_table("ingestion_audit", settings().schemas_dir)
    return StorageWriter(backend.open, "p", "d", {"ingestion_audit": codec}, backoff_s=0, **kwargs)


ROWS = [(f"k{i}", f"row{i}".encode()) for i in range(5)]


def test_rows_land_on_one_stream_with_the_schema_only_on_its_first_request() -> None:
    backend = FakeBackend()
    sink = writer(backend)
    assert sink.insert("ingestion_audit", ROWS) == []
    assert sink.insert("ingestion_audit", ROWS[:1]) == []
    assert backend.opened == ["projects/p/datasets/d/tables/ingestion_audit/streams/_default"]
    first, second = (request for _, request in backend.requests)
    assert first.proto_rows.HasField("writer_schema") and not second.proto_rows.HasField("writer_schema")
    assert backend.landed == [data for _, data in ROWS] + [ROWS[0][1]]


def test_row_errors_cost_their_rows_and_the_rest_is_appended_once() -> None:
    backend = FakeBackend(failed(3, "bad rows", {1: "Field x: bad value", 3: "missing required"}))
    rejections = writer(backend).insert("ingestion_audit", ROWS)
    assert [(r.insert_id, r.reasons[0].message) for r in rejections] == [
        ("k1", "Field x: bad value"), ("k3", "missing required")]
    assert backend.landed == [b"row0", b"row2", b"row4"]


@pytest.mark.parametrize("failure", [
    gexc.ServiceUnavailable("down"), gexc.DeadlineExceeded("slow"), StopIteration(),
    failed(14, "unavailable"), failed(13, "internal"), failed(8, "quota")])
def test_transient_failures_reopen_the_stream_and_retry(failure: Any) -> None:
    backend = FakeBackend(failure)
    assert writer(backend).insert("ingestion_audit", ROWS) == []
    assert len(backend.opened) == 2 and backend.requests[0][0].closed
    assert backend.requests[1][1].proto_rows.HasField("writer_schema")  # a new stream needs the schema
    assert backend.landed == [data for _, data in ROWS]


def test_persistent_transient_failure_raises_for_redelivery() -> None:
    backend = FakeBackend(*[gexc.ServiceUnavailable("down")] * 3)
    with pytest.raises(TransientError):
        writer(backend, attempts=3).insert("ingestion_audit", ROWS)
    assert backend.landed == []


@pytest.mark.parametrize("failure", [gexc.NotFound("no table"), gexc.PermissionDenied("no"),
                                     failed(5, "table not found"), failed(7, "denied")])
def test_configuration_errors_raise_without_retry(failure: Any) -> None:
    backend = FakeBackend(failure)
    with pytest.raises(TransientError):
        writer(backend).insert("ingestion_audit", ROWS)
    assert len(backend.requests) == 1 and backend.landed == []


def test_a_failing_retry_after_row_errors_raises() -> None:
    backend = FakeBackend(failed(3, "bad", {0: "bad"}), failed(3, "still bad", {1: "bad"}))
    with pytest.raises(TransientError):
        writer(backend).insert("ingestion_audit", ROWS)


def test_requests_are_split_under_the_byte_limit() -> None:
    backend = FakeBackend()
    rows = [(f"k{i}", b"x" * 100) for i in range(10)]
    writer(backend, max_bytes=350).insert("ingestion_audit", rows)
    sizes = [sum(map(len, r.proto_rows.rows.serialized_rows)) for _, r in backend.requests]
    assert sizes == [300, 300, 300, 100] and len(backend.landed) == 10


def test_timestamps_become_micros_through_the_minute_cache() -> None:
    convert = TimestampMicros(limit=2)
    values = ["2026-12-02T14:12:59.123456Z", "2026-12-02T14:13:00.000001Z", "1970-01-01T00:00:01.000000Z",
              "2026-12-02T14:12:00.000000Z"]
    assert [convert(v) for v in values] == [1796220779123456, 1796220780000001, 1_000_000, 1796220720000000]
    assert convert("2026-12-02T14:12:59.123456+00:00") == 1796220779123456


def test_dates_become_days_through_the_last_value() -> None:
    convert = DateDays()
    values = ["2026-12-02", "2026-12-02", "2026-12-03", "2026-11-03", "1970-01-02", date(1970, 1, 3), 5]
    assert [convert(v) for v in values] == [20789, 20789, 20790, 20760, 1, 2, 5]


def test_codec_encodes_nested_and_typed_values() -> None:
    codec = RowCodec("t", [
        {"name": "at", "type": "TIMESTAMP"}, {"name": "day", "type": "DATE"}, {"name": "doc", "type": "JSON"},
        {"name": "amount", "type": "NUMERIC"}, {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "note", "type": "STRING"},
        {"name": "items", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "at", "type": "TIMESTAMP"}]}])
    message = codec.decode(codec.encode({"at": "1970-01-01T00:00:01.000000Z", "day": "1970-01-03", "doc": {"a": 1},
                                         "amount": 1.5, "tags": ["x"], "items": [{"at": 5}], "note": None}))
    assert (message.at, message.day, message.doc, message.amount, list(message.tags), message.items[0].at) == (
        1_000_000, 2, '{"a":1}', "1.5", ["x"], 5)
    assert not message.HasField("note")
    with pytest.raises(ValueError):
        codec.encode({"nope": 1})
    with pytest.raises((TypeError, ValueError)):
        codec.encode({"day": "not a date"})


def _wire(column: dict[str, Any], value: Any) -> Any:
    """What BigQuery's documented proto mapping makes of a JSON row's value, computed apart from
    the codec (datetime arithmetic, not its minute cache)."""
    kind = column["type"].upper()
    if column.get("mode") == "REPEATED":
        return [_wire({**column, "mode": "NULLABLE"}, v) for v in value]
    if kind in ("RECORD", "STRUCT"):
        return {c["name"]: _wire(c, value[c["name"]]) for c in column["fields"] if value.get(c["name"]) is not None}
    if kind == "TIMESTAMP":
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    if kind == "DATE":
        return (date.fromisoformat(value) - date(1970, 1, 1)).days
    if kind == "JSON":
        return orjson.loads(value) if isinstance(value, str) else value
    if kind in ("NUMERIC", "BIGNUMERIC"):
        return Decimal(str(value))
    return value


def _read(column: dict[str, Any], message: Any) -> Any:
    kind = column["type"].upper()
    if column.get("mode") == "REPEATED":
        return [_read({**column, "mode": "NULLABLE"}, v) for v in message]
    if kind in ("RECORD", "STRUCT"):
        return {c["name"]: _read(c, getattr(message, c["name"])) for c in column["fields"]
                if c.get("mode") == "REPEATED" and getattr(message, c["name"]) or message.HasField(c["name"])}
    if kind == "JSON":
        return orjson.loads(message)
    if kind in ("NUMERIC", "BIGNUMERIC"):
        return Decimal(message)
    return message


def _prepared_pairs(contract: str, records: list[bytes]) -> list[tuple[dict[str, Any], bytes]]:
    """(the JSON row insertAll would send, the proto row) of each record, from one prepare."""
    table = contract
    codec = RowCodec.for_table(table, settings().schemas_dir)
    encode = StorageWriter(lambda name: None, "p", "d", {table: codec}).encoder(table)
    pairs: list[tuple[dict[str, Any], bytes]] = []

    def both(row: dict[str, Any], left_out: dict[str, Any], canonical: bytes) -> bytes:
        pairs.append((orjson.loads(json_row(row, left_out, canonical)), encode(row, left_out, canonical)))
        return b""

    source = SourceRef(kind="pubsub", topic="t", message_id="m")
    prepared = prepare(contract, split_message(b"\n".join(records), source, settings()), settings(),
                       received_at=datetime.now(timezone.utc), encode=both)
    assert prepared.counts.rows_sent == len(records) == len(pairs)
    return pairs


def _examples(contract: str) -> list[bytes]:
    examples = settings().schemas_dir / contract / "examples"
    return [orjson.dumps(orjson.loads(p.read_bytes())) for p in sorted(examples.glob("*.pass.json"))]


@pytest.mark.parametrize("contract", ["pro_event", "pro_log", "userpilot_event"])
def test_decoded_proto_rows_hold_exactly_the_values_of_the_json_rows(contract: str) -> None:
    records = _examples(contract)
    if contract == "pro_event":
        records += [orjson.dumps(e) for e in corpus.events(200)]
    fields = orjson.loads((settings().schemas_dir / contract / "bigquery.json").read_bytes())
    columns = {c["name"]: c for c in fields}
    for row, data in _prepared_pairs(contract, records):
        message = RowCodec.for_table(contract, settings().schemas_dir).decode(data)
        for name, column in columns.items():
            present = getattr(message, name) if column.get("mode") == "REPEATED" else message.HasField(name)
            assert bool(present) == (row.get(name) not in (None, [])), name
            if present:
                assert _read(column, getattr(message, name)) == _wire(column, row[name]), name


def test_every_column_type_survives_the_plan_including_nested_and_repeated_conversions() -> None:
    fields = [
        {"name": "s", "type": "STRING"}, {"name": "i", "type": "INTEGER"}, {"name": "f", "type": "FLOAT"},
        {"name": "b", "type": "BOOLEAN"}, {"name": "at", "type": "TIMESTAMP"}, {"name": "day", "type": "DATE"},
        {"name": "doc", "type": "JSON"}, {"name": "n", "type": "NUMERIC"}, {"name": "bn", "type": "BIGNUMERIC"},
        {"name": "ats", "type": "TIMESTAMP", "mode": "REPEATED"},
        {"name": "plain", "type": "RECORD", "fields": [{"name": "x", "type": "STRING"}]},
        {"name": "items", "type": "RECORD", "mode": "REPEATED", "fields": [
            {"name": "at", "type": "TIMESTAMP"}, {"name": "label", "type": "STRING"},
            {"name": "inner", "type": "RECORD", "fields": [{"name": "day", "type": "DATE"}]}]}]
    row = {"s": "é", "i": -(2**63), "f": 0.1, "b": False, "at": "1969-12-31T23:59:59.999999Z", "day": "2026-12-02",
           "doc": '{"k":[1,2.5,null]}', "n": "-12.340000001", "bn": "1e-38", "ats": ["2026-12-02T14:12:59.123456Z"] * 2,
           "plain": {"x": "y"}, "items": [{"at": "2000-02-29T00:00:00.000001Z", "label": "a", "inner": {"day": "1900-01-01"}},
                                          {"label": "b"}]}
    codec = RowCodec("t", fields)
    message = codec.decode(codec.encode(row))
    assert {c["name"]: _read(c, getattr(message, c["name"])) for c in fields} == {
        c["name"]: _wire(c, row[c["name"]]) for c in fields}
    assert row["items"][0]["at"] == "2000-02-29T00:00:00.000001Z"  # the caller's row is left as it was


def test_a_stream_is_retired_at_its_age_limit_before_any_append_fails_on_it() -> None:
    backend, now = FakeBackend(), [0.0]
    codec = RowCodec.for_table("ingestion_audit", settings().schemas_dir)
    sink = StorageWriter(backend.open, "p", "d", {"ingestion_audit": codec}, backoff_s=0, max_stream_age_s=60,
                         clock=lambda: now[0])
    sink.insert("ingestion_audit", ROWS[:1])
    now[0] = 59.9
    sink.insert("ingestion_audit", ROWS[:1])
    assert len(backend.opened) == 1, "reused while young"
    now[0] = 60.0
    sink.insert("ingestion_audit", ROWS[:1])
    assert len(backend.opened) == 2 and backend.requests[1][0].closed
    assert backend.requests[2][1].proto_rows.HasField("writer_schema"), "a fresh stream gets the schema again"
    assert len(backend.requests) == 3, "no append failed on the way"


class _Cancelled(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.CANCELLED

    def details(self) -> str:
        return "cancelled"

    def trailing_metadata(self) -> tuple[()]:
        return ()


class _SilentCall:
    """An AppendRows call whose answer never comes, until it is cancelled."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def __iter__(self) -> "_SilentCall":
        return self

    def __next__(self) -> Any:
        self.cancelled.wait(10)
        raise _Cancelled()

    def cancel(self) -> None:
        self.cancelled.set()


class _AppendRows:
    """The AppendRows multi-callable: records the call's options, answers with a silent call."""

    call_type: type[_SilentCall] = _SilentCall

    def __call__(self, requests: Any, timeout: float, metadata: Any) -> _SilentCall:
        self.options = {"timeout": timeout, "metadata": metadata}
        self.call = self.call_type()
        return self.call


def test_an_append_waits_at_most_its_timeout_then_cancels_the_call() -> None:
    append_rows = _AppendRows()
    name = "projects/p/datasets/d/tables/t/streams/_default"
    stream = GrpcAppendStream(append_rows, name, timeout_s=0.2, lifetime_s=90)
    started = time.monotonic()
    with pytest.raises(gexc.DeadlineExceeded):
        stream.append(types.AppendRowsRequest.pb()())
    assert 0.2 <= time.monotonic() - started < 2 and append_rows.call.cancelled.is_set()
    assert append_rows.options == {"timeout": 90, "metadata": (("x-goog-request-params", f"write_stream={name}"),)}, \
        "the deadline is the lifetime; the stream is routed by its name"
    stream.close()


class _AnsweringCall(_SilentCall):
    """Answers each request at once."""

    def __next__(self) -> Any:
        return ok()


def test_an_answered_append_leaves_the_idle_stream_alone_past_the_timeout() -> None:
    append_rows = _AppendRows()
    append_rows.call_type = _AnsweringCall
    stream = GrpcAppendStream(append_rows, "projects/p/datasets/d/tables/t/streams/_default", timeout_s=0.1,
                              lifetime_s=90)
    assert stream.append(types.AppendRowsRequest.pb()()) == ok()
    time.sleep(0.3)
    assert not append_rows.call.cancelled.is_set(), "only an append waiting for its answer times out"
    stream.close()


def test_a_grpc_failure_comes_out_as_the_api_core_exception() -> None:
    """StorageWriter tells transient from permanent failures by api_core's exception types."""
    append_rows = _AppendRows()
    stream = GrpcAppendStream(append_rows, "projects/p/datasets/d/tables/t/streams/_default", timeout_s=5,
                              lifetime_s=90)
    threading.Timer(0.05, lambda: append_rows.call.cancel()).start()
    with pytest.raises(gexc.Cancelled):
        stream.append(types.AppendRowsRequest.pb()())
    stream.close()


def test_concurrent_invocations_append_to_one_stream_one_at_a_time() -> None:
    """An instance serves several requests at once; a stream answers its requests in order, so two
    appends in flight on it would each take the other's answer."""
    backend, inside, overlaps = FakeBackend(), threading.Semaphore(1), []

    def slow(request: Any) -> Any:
        if not inside.acquire(blocking=False):
            overlaps.append(request)
        time.sleep(0.01)
        inside.release()
        backend.landed.extend(request.proto_rows.rows.serialized_rows)
        return ok()

    backend.script = [slow] * 20
    sink = writer(backend)
    threads = [threading.Thread(target=sink.insert, args=("ingestion_audit", ROWS[:1])) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [] and len(backend.landed) == 20 and len(backend.opened) == 1
