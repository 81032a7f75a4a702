"""Storage Write API sink (the default write path): ``_default`` stream per table, proto2 rows,
per-row rejection.

Why: the Write API costs half of insertAll per GB with no 1 KB minimum per row, and one
long-lived AppendRows stream per table replaces an HTTP round trip setup per request. It is
at-least-once (no insertId dedupe), which the deduplicated views make harmless; see
docs/write-path.md.

Rows are encoded by ``RowCodec`` from a proto2 descriptor generated at cold start from
``schemas/<table>/bigquery.json`` (the one source of truth), with upb message classes; the
writer only frames serialized rows into AppendRows requests of at most ``max_bytes``.
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import orjson
from google.api_core import exceptions as gexc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from ingest.errors import FailureKind, Reason, RecordError, TransientError
from ingest.sinks.bigquery import Rejection, RowEncoder

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"STRING": F.TYPE_STRING, "BYTES": F.TYPE_BYTES, "INTEGER": F.TYPE_INT64, "INT64": F.TYPE_INT64,
            "FLOAT": F.TYPE_DOUBLE, "FLOAT64": F.TYPE_DOUBLE, "BOOLEAN": F.TYPE_BOOL, "BOOL": F.TYPE_BOOL,
            "TIMESTAMP": F.TYPE_INT64, "DATE": F.TYPE_INT32, "JSON": F.TYPE_STRING, "NUMERIC": F.TYPE_STRING,
            "BIGNUMERIC": F.TYPE_STRING, "DATETIME": F.TYPE_STRING, "TIME": F.TYPE_STRING,
            "GEOGRAPHY": F.TYPE_STRING}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# gRPC status codes (google.rpc.Code) that a retry on a fresh stream may cure.
_TRANSIENT_CODES = {4, 8, 10, 13, 14}  # DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE
_TRANSIENT_ERRORS = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError, gexc.Aborted,
                     gexc.ResourceExhausted, gexc.Cancelled, gexc.Unknown, StopIteration, ConnectionError)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_")) or "F"


def descriptor_for(fields: Sequence[dict[str, Any]], name: str) -> descriptor_pb2.DescriptorProto:
    """Self-contained proto2 descriptor; RECORDs become nested types. Every field is optional
    (REQUIRED too): BigQuery enforces REQUIRED and names the row, a proto2 ``required`` would not."""
    message = descriptor_pb2.DescriptorProto(name=name)
    for number, column in enumerate(fields, 1):
        kind = column["type"].upper()
        label = F.LABEL_REPEATED if column.get("mode") == "REPEATED" else F.LABEL_OPTIONAL
        proto_field = message.field.add(name=column["name"], number=number, label=label)
        if kind in ("RECORD", "STRUCT"):
            nested = descriptor_for(column["fields"], _camel(column["name"]))
            message.nested_type.add().CopyFrom(nested)
            proto_field.type, proto_field.type_name = F.TYPE_MESSAGE, nested.name
        else:
            proto_field.type = _SCALARS[kind]
    return message


class TimestampMicros:
    """The pipeline's TIMESTAMP strings -> int64 µs since the epoch, the documented wire type.

    The pipeline writes one fixed format (``timeutil.bq_timestamp``: YYYY-MM-DDTHH:MM:SS.ffffffZ);
    the minute prefix repeats across a batch, so it is parsed once (bounded cache) and seconds and
    microseconds are added as integers. Anything else goes through ``datetime.fromisoformat``.
    The last value is remembered too: every row of an invocation shares its ``ingested_at``."""

    def __init__(self, limit: int = 4096) -> None:
        self._minutes: dict[str, int] = {}
        self._limit = limit
        self._last: tuple[str, int] = ("", 0)

    def __call__(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) == 27 and value[19] == "." and value[26] == "Z":
            if value == self._last[0]:
                return self._last[1]
            base = self._minutes.get(value[:16])
            if base is None:
                if len(self._minutes) >= self._limit:
                    self._minutes.clear()
                base = self._minutes[value[:16]] = _micros(datetime.fromisoformat(value[:16] + "+00:00"))
            micros = base + int(value[17:19]) * 1_000_000 + int(value[20:26])
            self._last = (value, micros)
            return micros
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return _micros(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class DateDays:
    """DATE values -> int32 days since the epoch, the documented wire type. The last text is
    remembered: a batch's events mostly share their ``event_date``."""

    def __init__(self) -> None:
        self._last: tuple[str, int] = ("", 0)

    def __call__(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value == self._last[0]:
                return self._last[1]
            days = date.fromisoformat(value).toordinal() - _EPOCH_ORDINAL
            self._last = (value, days)
            return days
        return value.toordinal() - _EPOCH_ORDINAL


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return str(value)


class RowCodec:
    """One table's descriptor and its row dict -> serialized proto encoder.

    Why a plan: most columns (STRING, INT64, FLOAT64, BOOL, and RECORDs of those) already hold
    their wire type and go straight to the upb constructor, which checks their types in C; only the
    few columns listed in the plan, compiled once per table, are converted in Python (TIMESTAMP to
    int64 µs, DATE to int32 days, JSON to its text, NUMERIC to its decimal text)."""

    def __init__(self, table: str, fields: Sequence[dict[str, Any]]) -> None:
        self.table = table
        self.descriptor = descriptor_for(fields, _camel(table))
        pool = descriptor_pool.DescriptorPool()
        pool.Add(descriptor_pb2.FileDescriptorProto(name=f"{table}.proto", syntax="proto2",
                                                    message_type=[self.descriptor]))
        self._cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(self.descriptor.name))
        self.plan = _plan(fields)

    @classmethod
    def for_table(cls, table: str, schemas: Path = SCHEMAS) -> "RowCodec":
        return cls(table, orjson.loads((schemas / table / "bigquery.json").read_bytes()))

    def encode(self, row: dict[str, Any], more: dict[str, Any] | None = None) -> bytes:
        """``row`` with the columns of ``more`` (neither is changed). Raises ValueError/TypeError
        for a column the table lacks or a value its column cannot hold."""
        values = {**row, **more} if more else dict(row)
        for name, convert in self.plan:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        return self._cls(**values).SerializeToString()

    def decode(self, data: bytes) -> Any:
        """The message back (tests and tools)."""
        return self._cls.FromString(data)


Plan = tuple[tuple[str, Callable[[Any], Any]], ...]
"""(column, conversion to its wire type) for the columns that need one."""


def _plan(fields: Sequence[dict[str, Any]]) -> Plan:
    """Each TIMESTAMP and DATE column has a converter (and cache) of its own: ``ingested_at`` then always
    hits its last value, whatever the event timestamps do."""
    conversions: dict[str, Callable[[Any], Any]] = {
        "JSON": _json_text, "NUMERIC": _number_text, "BIGNUMERIC": _number_text}
    plan = []
    for column in fields:
        kind = column["type"].upper()
        convert: Callable[[Any], Any] | None
        if kind in ("RECORD", "STRUCT"):
            inner = _plan(column["fields"])
            convert = _record(inner) if inner else None
        elif kind == "TIMESTAMP":
            convert = TimestampMicros()
        elif kind == "DATE":
            convert = DateDays()
        else:
            convert = conversions.get(kind)
        if convert is not None and column.get("mode") == "REPEATED":
            convert = _each(convert)
        if convert is not None:
            plan.append((column["name"], convert))
    return tuple(plan)


def _record(plan: Plan) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def convert(value: dict[str, Any]) -> dict[str, Any]:
        values = dict(value)  # the pipeline's row is not ours to change
        for name, inner in plan:
            field_value = values.get(name)
            if field_value is not None:
                values[name] = inner(field_value)
        return values
    return convert


def _each(convert: Callable[[Any], Any]) -> Callable[[list[Any]], list[Any]]:
    return lambda values: [convert(v) for v in values]


class AppendStream(Protocol):
    """One AppendRows bidi call; ``append`` sends one request and returns its response (pb)."""

    def append(self, request: Any) -> Any: ...

    def close(self) -> None: ...


APPEND_ROWS = "/google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows"


def append_rows_call(channel: Any) -> Callable[..., Any]:
    """AppendRows on ``channel`` with the raw protobuf (de)serializers: the GAPIC client's
    proto-plus wrapping and api_core call wrappers cost CPU on every append, twice per request."""
    from google.cloud.bigquery_storage_v1 import types

    return channel.stream_stream(APPEND_ROWS, request_serializer=types.AppendRowsRequest.pb().SerializeToString,
                                 response_deserializer=types.AppendRowsResponse.pb().FromString)


class GrpcAppendStream:
    """AppendRows in lock-step on a long-lived channel, protobuf messages in and out.

    The appending thread waits for its response itself; a watchdog thread, polling at a quarter of
    ``timeout_s``, cancels the call once an append has waited ``timeout_s`` (so at most 1.25 ×
    ``timeout_s``), and that append fails as DEADLINE_EXCEEDED (retried on a fresh stream). Why not
    a waiter thread per append: handing each wait to another thread and back cost CPU (and a
    context switch) on every append. gRPC errors come out as ``google.api_core`` exceptions, like the GAPIC client's.
    The call's own gRPC deadline, ``lifetime_s``, only ends a stream nobody uses any more:
    StorageWriter retires a stream before it (``max_stream_age_s``), so no append ever meets it,
    and an idle instance holds no connection to BigQuery past it."""

    def __init__(self, call: Callable[..., Any], stream: str, timeout_s: float, lifetime_s: float) -> None:
        self._call = call
        self._stream = stream
        self._timeout_s = timeout_s
        self._lifetime_s = lifetime_s
        self._requests: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._responses: Any = None
        self._since: float | None = None
        """When the append in flight was sent (None: none is)."""
        self._timed_out = False
        self._closed = threading.Event()

    def _feed(self) -> Iterator[Any]:
        while (item := self._requests.get()) is not None:
            yield item

    def append(self, request: Any) -> Any:
        import grpc

        self._requests.put(request)
        if self._responses is None:
            self._responses = self._call(self._feed(), timeout=self._lifetime_s,
                                         metadata=(("x-goog-request-params", f"write_stream={self._stream}"),))
            threading.Thread(target=self._watch, name="append-rows-watchdog", daemon=True).start()
        self._since = time.monotonic()
        try:
            return next(self._responses)
        except grpc.RpcError as error:
            if self._timed_out:
                raise gexc.DeadlineExceeded(f"no AppendRows response within {self._timeout_s:g} s") from None
            raise gexc.from_grpc_error(error) from error
        finally:
            self._since = None

    def _watch(self) -> None:
        while not self._closed.wait(self._timeout_s / 4):
            since = self._since
            if since is not None and time.monotonic() - since >= self._timeout_s:
                self._timed_out = True
                self._responses.cancel()
                return

    def close(self) -> None:
        self._closed.set()
        self._requests.put(None)
        if self._responses is not None:
            self._responses.cancel()


class StorageWriter:
    """``insert(table, [(row key, serialized proto)]) -> [Rejection]``, the pipeline's sink interface.

    A bad row fails the whole append: the response's ``row_errors`` name it, so those rows are
    rejected in BigQuery's words and the rest is appended once more. Transient failures (status
    or dropped stream) reopen the stream and retry, bounded, then raise ``TransientError``; a
    configuration error (missing table, permission) raises at once: nothing may be acked."""

    def __init__(self, open_stream: Callable[[str], AppendStream], project: str, dataset: str,
                 codecs: dict[str, RowCodec], max_bytes: int = 9 * 1024 * 1024, attempts: int = 4,
                 backoff_s: float = 0.2, request_factory: Callable[[], Any] | None = None,
                 max_stream_age_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._open = open_stream
        self._prefix = f"projects/{project}/datasets/{dataset}/tables/"
        self._codecs = codecs
        self._max_bytes = max_bytes
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_age_s = max_stream_age_s
        self._clock = clock
        self._streams: dict[str, AppendStream] = {}
        self._opened: dict[str, float] = {}
        self._fresh: set[str] = set()
        self._locks = {table: threading.Lock() for table in codecs}
        """One append in flight per table stream: an instance serves several invocations at once
        (functions' request concurrency), and a stream's responses answer its requests in order."""
        self._request = request_factory or _request_pb

    def encoder(self, table: str) -> RowEncoder:
        """The pipeline's encode step for ``table``: a value its column cannot hold is the input's
        fault and costs its record as ``invalid_value``."""
        codec = self._codecs[table]

        def encode(row: dict[str, Any], left_out: dict[str, Any], canonical: bytes) -> bytes:
            try:
                return codec.encode(row, left_out)
            except (KeyError, TypeError, ValueError, OverflowError) as error:
                raise RecordError.at(FailureKind.INVALID_VALUE, "$", f"{type(error).__name__}: {error}") from error

        return encode

    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Rejection]:
        rejections: list[Rejection] = []
        for chunk in self.chunks(rows):
            rejections.extend(self._append_chunk(table, chunk))
        return rejections

    def chunks(self, rows: Sequence[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
        """Requests under ``max_bytes`` (the API's limit is 10 MB; the rest is headroom)."""
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for key, data in rows:
            if chunk and size + len(data) + 8 > self._max_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append((key, data))
            size += len(data) + 8
        if chunk:
            yield chunk

    def _append_chunk(self, table: str, chunk: list[tuple[str, bytes]]) -> list[Rejection]:
        response = self._send(table, [data for _, data in chunk])
        if not response.HasField("error"):
            return []
        if not response.row_errors:
            raise TransientError(f"append to {table} failed: {_status(response)}")
        bad = {int(e.index): e.message for e in response.row_errors}
        rejections = [Rejection(chunk[i][0], [Reason("$", message)]) for i, message in sorted(bad.items())]
        rest = [row for i, row in enumerate(chunk) if i not in bad]
        if rest:
            retry = self._send(table, [data for _, data in rest])
            if retry.HasField("error"):
                raise TransientError(f"append to {table} failed after removing rejected rows: {_status(retry)}")
        return rejections

    def _send(self, table: str, serialized: list[bytes]) -> Any:
        with self._locks[table]:
            return self._send_locked(table, serialized)

    def _send_locked(self, table: str, serialized: list[bytes]) -> Any:
        """One append, retried on a fresh stream while the failure is transient."""
        for attempt in range(self._attempts):
            stream = self._streams.get(table)
            if stream is not None and self._clock() - self._opened[table] >= self._max_age_s:
                self._drop(table)  # retired before its deadline: a fresh one costs no failed append
                stream = None
            if stream is None:
                stream = self._streams[table] = self._open(self._prefix + table + "/streams/_default")
                self._opened[table] = self._clock()
                self._fresh.add(table)
            request = self._request()
            request.write_stream = self._prefix + table + "/streams/_default"
            if table in self._fresh:
                request.proto_rows.writer_schema.proto_descriptor.CopyFrom(self._codecs[table].descriptor)
            request.proto_rows.rows.serialized_rows.extend(serialized)
            try:
                response = stream.append(request)
            except _TRANSIENT_ERRORS as error:
                failure = f"{type(error).__name__}: {error}"
            except gexc.GoogleAPIError as error:  # NotFound, PermissionDenied, InvalidArgument...
                self._drop(table)
                raise TransientError(f"append to {table} failed: {error}") from error
            else:
                self._fresh.discard(table)
                if not (response.HasField("error") and response.error.code in _TRANSIENT_CODES):
                    return response
                failure = _status(response)
            self._drop(table)
            if attempt + 1 < self._attempts:
                time.sleep(self._backoff_s * 2 ** attempt)
        raise TransientError(f"append to {table} failed {self._attempts} times: {failure}")

    def _drop(self, table: str) -> None:
        stream = self._streams.pop(table, None)
        if stream is not None:
            try:
                stream.close()
            except Exception:  # a dead stream may fail to close; it is discarded either way
                pass

    def close(self) -> None:
        for table in list(self._streams):
            self._drop(table)


def _request_pb() -> Any:
    from google.cloud.bigquery_storage_v1 import types

    return types.AppendRowsRequest.pb()()


def _status(response: Any) -> str:
    details = "; ".join(f"row {e.index}: {e.message}" for e in response.row_errors)
    return f"code {response.error.code}: {response.error.message}" + (f" [{details}]" if details else "")
