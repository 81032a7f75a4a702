"""Storage Write API sink: ``_default`` stream per table, proto2 rows, per-row rejection.

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
    microseconds are added as integers. Anything else goes through ``datetime.fromisoformat``."""

    def __init__(self, limit: int = 4096) -> None:
        self._minutes: dict[str, int] = {}
        self._limit = limit

    def __call__(self, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) == 27 and value[19] == "." and value[26] == "Z":
            base = self._minutes.get(value[:16])
            if base is None:
                if len(self._minutes) >= self._limit:
                    self._minutes.clear()
                base = self._minutes[value[:16]] = _micros(datetime.fromisoformat(value[:16] + "+00:00"))
            return base + int(value[17:19]) * 1_000_000 + int(value[20:26])
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return _micros(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _date_days(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return (value if isinstance(value, date) else date.fromisoformat(value)).toordinal() - _EPOCH_ORDINAL


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return str(value)


class RowCodec:
    """One table's descriptor and its row dict -> serialized proto encoder."""

    def __init__(self, table: str, fields: Sequence[dict[str, Any]]) -> None:
        self.table = table
        self.descriptor = descriptor_for(fields, _camel(table))
        pool = descriptor_pool.DescriptorPool()
        pool.Add(descriptor_pb2.FileDescriptorProto(name=f"{table}.proto", syntax="proto2",
                                                    message_type=[self.descriptor]))
        self._cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(self.descriptor.name))
        self._convert = _converter(fields, TimestampMicros())

    @classmethod
    def for_table(cls, table: str, schemas: Path = SCHEMAS) -> "RowCodec":
        return cls(table, orjson.loads((schemas / table / "bigquery.json").read_bytes()))

    def encode(self, row: dict[str, Any]) -> bytes:
        """Raises KeyError/TypeError/ValueError for a value the column cannot hold."""
        return self._cls(**self._convert(row)).SerializeToString()

    def decode(self, data: bytes) -> Any:
        """The message back (tests and tools)."""
        return self._cls.FromString(data)


def _converter(fields: Sequence[dict[str, Any]], timestamp: TimestampMicros) -> Callable[[dict[str, Any]], dict[str, Any]]:
    plans: dict[str, Callable[[Any], Any] | None] = {}
    for column in fields:
        kind = column["type"].upper()
        convert: Callable[[Any], Any] | None
        if kind in ("RECORD", "STRUCT"):
            convert = _converter(column["fields"], timestamp)
        else:
            convert = {"TIMESTAMP": timestamp, "DATE": _date_days, "JSON": _json_text,
                       "NUMERIC": _number_text, "BIGNUMERIC": _number_text}.get(kind)
        if convert is not None and column.get("mode") == "REPEATED":
            convert = (lambda inner: lambda values: [inner(v) for v in values])(convert)
        plans[column["name"]] = convert

    def convert_row(row: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in row.items():
            if value is None:
                continue
            fn = plans[key]  # KeyError: a column the table does not have
            out[key] = value if fn is None else fn(value)
        return out

    return convert_row


class AppendStream(Protocol):
    """One AppendRows bidi call; ``append`` sends one request and returns its response (pb)."""

    def append(self, request: Any) -> Any: ...

    def close(self) -> None: ...


class GrpcAppendStream:
    """AppendRows in lock-step over the write client's long-lived channel."""

    def __init__(self, client: Any, stream: str, timeout_s: float) -> None:
        from google.cloud.bigquery_storage_v1 import types

        self._types = types
        self._client = client
        self._stream = stream
        self._timeout_s = timeout_s
        self._requests: "queue.Queue[Any]" = queue.Queue()
        self._responses: Iterator[Any] | None = None

    def _feed(self) -> Iterator[Any]:
        while (item := self._requests.get()) is not None:
            yield item

    def append(self, request: Any) -> Any:
        self._requests.put(self._types.AppendRowsRequest.wrap(request))
        if self._responses is None:
            self._responses = iter(self._client.append_rows(
                requests=self._feed(), timeout=self._timeout_s,
                metadata=(("x-goog-request-params", f"write_stream={self._stream}"),)))
        return self._types.AppendRowsResponse.pb(next(self._responses))

    def close(self) -> None:
        self._requests.put(None)


class StorageWriter:
    """``insert(table, [(row key, serialized proto)]) -> [Rejection]``, the pipeline's sink interface.

    A bad row fails the whole append: the response's ``row_errors`` name it, so those rows are
    rejected in BigQuery's words and the rest is appended once more. Transient failures (status
    or dropped stream) reopen the stream and retry, bounded, then raise ``TransientError``; a
    configuration error (missing table, permission) raises at once: nothing may be acked."""

    def __init__(self, open_stream: Callable[[str], AppendStream], project: str, dataset: str,
                 codecs: dict[str, RowCodec], max_bytes: int = 9 * 1024 * 1024, attempts: int = 4,
                 backoff_s: float = 0.2, request_factory: Callable[[], Any] | None = None) -> None:
        self._open = open_stream
        self._prefix = f"projects/{project}/datasets/{dataset}/tables/"
        self._codecs = codecs
        self._max_bytes = max_bytes
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._streams: dict[str, AppendStream] = {}
        self._fresh: set[str] = set()
        self._request = request_factory or _request_pb

    def encoder(self, table: str) -> RowEncoder:
        """The pipeline's encode step for ``table``: a value its column cannot hold is the input's
        fault and costs its record as ``invalid_value``."""
        codec = self._codecs[table]

        def encode(row: dict[str, Any], left_out: dict[str, Any], canonical: bytes) -> bytes:
            try:
                return codec.encode({**row, **left_out})
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
        """One append, retried on a fresh stream while the failure is transient."""
        for attempt in range(self._attempts):
            stream = self._streams.get(table)
            if stream is None:
                stream = self._streams[table] = self._open(self._prefix + table + "/streams/_default")
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
