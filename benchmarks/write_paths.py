"""insertAll vs the Storage Write API on a BigQuery endpoint (a script, not a test).

    PYTHONPATH=functions:. .venv/bin/python benchmarks/write_paths.py [--bigquery-url URL]
        [--grpc-target HOST:PORT] [--rows 20000] [--batch-rows 500] [--keep-dataset] [--skip-checks]

Rows are real ``pro_event`` rows: ``tools.samples.events`` run through the pipeline's pure
step ``ingest.pipeline.prepare``. They are written into a fresh dataset two ways:

* insertAll, through the production sink ``ingest.sinks.bigquery.BigQueryWriter`` (deterministic
  insertIds = ``row_id``, ``--batch-rows`` rows per request), whatever it uses to build the body;
* the Storage Write API ``_default`` stream over gRPC, one AppendRows request of ``--batch-rows``
  rows at a time (each waits for its response, as a function would before acking its message),
  rows encoded by the production sink's ``ingest.sinks.storage_write.RowCodec`` (its descriptor is
  generated from ``schemas/pro_event/bigquery.json``).

Printed: rows/s (wall time of the write phase), serialization CPU µs/row (measured apart from
the I/O: building and encoding the request body), total client CPU µs/row during the write
phase (this process, all threads: serialization + HTTP/gRPC stack), request bytes/row (the
exact insertAll JSON bodies sent; the serialized AppendRowsRequests, writer schema included),
what a retry of the same batch leaves in the table, what happens to a batch with one invalid
row, whether both paths store identical values, which proto encodings the endpoint accepts
for the awkward types, and the cost per million rows at the published prices.

On the emulator, rows/s measures the emulator (local-bigquery decodes every proto row to a dict
and then runs its insertAll code), not BigQuery; compare the CPU and byte columns instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import queue
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

# Runnable as a plain script too (the documented way sets PYTHONPATH=functions:.).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [p for p in (os.path.join(_ROOT, "functions"), _ROOT) if p not in sys.path]

import grpc  # noqa: E402
import orjson  # noqa: E402
import requests  # noqa: E402
from google.api_core import exceptions as gexc  # noqa: E402
from google.cloud import bigquery  # noqa: E402
from google.cloud.bigquery_storage_v1 import BigQueryWriteClient, types  # noqa: E402
from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport  # noqa: E402

from benchmarks.cost import GIB, INSERT_ALL_MIN_ROW_BYTES, PRICES, STORAGE_WRITE_FREE_BYTES  # noqa: E402
from ingest.config import Settings  # noqa: E402
from ingest.pipeline import prepare  # noqa: E402
from ingest.records import Record, SourceRef  # noqa: E402
from ingest.sinks.bigquery import BigQueryWriter  # noqa: E402
from ingest.sinks.storage_write import RowCodec  # noqa: E402
from tools.provision import bigquery_client, create_dataset, table_from_schema  # noqa: E402
from tools.samples import events  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
CONTRACT = "pro_event"


Row = tuple[str, dict[str, Any]]

# ---------------------------------------------------------------------------------------------
# Rows


def pipeline_rows(count: int) -> list[Row]:
    """At least ``count`` rows (then truncated) made by the real pipeline from sample events."""
    settings = Settings(schemas_dir=SCHEMAS)
    received = datetime.now(timezone.utc)
    want = int(count * 1.35) + 100  # consent drops ~20 % of the samples
    while True:
        records = [Record(raw=orjson.dumps(e), source=SourceRef(kind="pubsub", topic="t", message_id=str(i)), value=e)
                   for i, e in enumerate(events(want))]
        prepared = prepare(CONTRACT, records, settings, received_at=received)
        if len(prepared.rows) >= count:
            return [(row_id, orjson.loads(row)) for row_id, row in prepared.rows[:count]]
        want *= 2


def json_rows(rows: Sequence[Row]) -> list[tuple[str, bytes]]:
    """What the insertAll sink takes: (insertId, the row's JSON)."""
    return [(row_id, orjson.dumps(row)) for row_id, row in rows]


def serialize(codec: RowCodec, rows: Sequence[dict[str, Any]]) -> list[bytes]:
    """Rows as the production Write API sink encodes them (``ingest.sinks.storage_write.RowCodec``)."""
    return [codec.encode(row) for row in rows]


# ---------------------------------------------------------------------------------------------
# insertAll: the production writer, with the HTTP bodies recorded


class RecordingSession(requests.Session):
    """requests.Session that remembers the size of every insertAll body it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.insert_bodies: list[int] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        data = kwargs.get("data")
        if url.split("?", 1)[0].endswith("/insertAll") and data is not None:
            self.insert_bodies.append(len(data.encode() if isinstance(data, str) else data))
        return super().request(method, url, *args, **kwargs)


def insertall_body(rows: Sequence[Row]) -> bytes:
    """What google-cloud-bigquery 3.x sends for insert_rows_json(row_ids=..., skip_invalid_rows=True):
    the same dict, encoded by the same stdlib json.dumps (google.cloud._http.JSONConnection)."""
    body = {"rows": [{"json": row, "insertId": row_id} for row_id, row in rows], "skipInvalidRows": True}
    return json.dumps(body).encode()


# ---------------------------------------------------------------------------------------------
# Write API: AppendRows in lock-step over one bidi connection


class AppendConnection:
    """One AppendRows bidi call; ``append`` sends a request and waits for its response.

    The call is opened by the first ``append``, with that request already queued:
    google-api-core waits for the first response before returning the response iterator."""

    def __init__(self, client: BigQueryWriteClient, stream: str) -> None:
        self._client = client
        self._stream = stream
        self._requests: "queue.Queue[Any]" = queue.Queue()
        self._responses: Iterator[types.AppendRowsResponse] | None = None

    def _feed(self) -> Iterator[types.AppendRowsRequest]:
        while (item := self._requests.get()) is not None:
            yield item

    def append(self, request_pb: Any) -> types.AppendRowsResponse:
        self._requests.put(types.AppendRowsRequest.wrap(request_pb))
        if self._responses is None:
            self._responses = iter(self._client.append_rows(
                requests=self._feed(), metadata=(("x-goog-request-params", f"write_stream={self._stream}"),)))
        return next(self._responses)

    def close(self) -> None:
        self._requests.put(None)
        for _ in self._responses or ():  # drain: the server ends the call when the requests end
            pass


def append_request(stream: str, codec: RowCodec, serialized: list[bytes], *, with_schema: bool,
                   offset: int | None = None) -> Any:
    pb = types.AppendRowsRequest.pb()()
    pb.write_stream = stream
    if with_schema:
        pb.proto_rows.writer_schema.proto_descriptor.CopyFrom(codec.descriptor)
    pb.proto_rows.rows.serialized_rows.extend(serialized)
    if offset is not None:
        pb.offset.value = offset
    return pb


def response_error(response: types.AppendRowsResponse) -> str | None:
    pb = types.AppendRowsResponse.pb(response)
    if pb.HasField("error"):
        details = "; ".join(f"row {e.index}: {e.message}" for e in pb.row_errors)
        code = next((c.name for c in grpc.StatusCode if c.value[0] == pb.error.code), str(pb.error.code))
        return f"{code}: {pb.error.message}" + (f" [{details}]" if details else "")
    return None


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass
class PathResult:
    name: str
    rows: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    serialize_us: float = 0.0
    request_bytes: int = 0
    row_bytes: int = 0
    retry: str = ""
    bad_row: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s else 0.0

    @property
    def bytes_per_row(self) -> float:
        return self.request_bytes / self.rows if self.rows else 0.0


def timed(fn: Callable[[], Any], rows: int, repeats: int = 5) -> float:
    """Median CPU µs/row of ``fn`` over ``repeats`` runs, after a warm-up, with the cyclic GC
    paused (its passes over the 20k prepared rows would otherwise land in whichever run)."""
    fn()
    samples = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.process_time()
            fn()
            samples.append(time.process_time() - start)
    finally:
        gc.enable()
    return statistics.median(samples) / rows * 1e6


def chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.project = args.project
        self.dataset = args.dataset or f"write_paths_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
        self.session = RecordingSession()
        self.bq = bigquery_client(args.project, args.bigquery_url)
        self.bq._http_internal = self.session  # anonymous credentials: a plain session is what it needs
        self.channel = grpc.insecure_channel(args.grpc_target)
        self.write = BigQueryWriteClient(transport=BigQueryWriteGrpcTransport(channel=self.channel))
        self.codec = RowCodec.for_table(CONTRACT, SCHEMAS)
        self.table_id = table_from_schema(self.project, self.dataset, SCHEMAS, CONTRACT).table_id

    # -- tables ---------------------------------------------------------------------------------
    def setup(self) -> None:
        create_dataset(self.bq, self.dataset, SCHEMAS)  # every contract table, from schemas/

    def table(self, suffix: str) -> str:
        """A fresh copy of the contract table (same schema, partitioning, clustering)."""
        template = table_from_schema(self.project, self.dataset, SCHEMAS, CONTRACT)
        table = bigquery.Table(f"{self.project}.{self.dataset}.{self.table_id}_{suffix}", schema=template.schema)
        table.time_partitioning = template.time_partitioning
        table.clustering_fields = template.clustering_fields
        table.require_partition_filter = template.require_partition_filter
        self.bq.create_table(table)
        return table.table_id

    def stream_parent(self, table: str) -> str:
        return f"projects/{self.project}/datasets/{self.dataset}/tables/{table}"

    def count(self, table: str) -> tuple[int, int]:
        sql = (f"SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS d FROM `{self.project}.{self.dataset}.{table}` "
               f"WHERE event_date >= DATE '1970-01-01'")
        row = list(self.bq.query(sql).result())[0]
        return int(row["n"]), int(row["d"])

    def teardown(self) -> None:
        if not self.args.keep_dataset:
            self.bq.delete_dataset(self.dataset, delete_contents=True, not_found_ok=True)
        self.channel.close()

    # -- insertAll ------------------------------------------------------------------------------
    def writer(self) -> BigQueryWriter:
        return BigQueryWriter(self.bq, self.dataset, max_rows=self.args.batch_rows, max_bytes=8 * 1024 * 1024,
                              timeout_s=60.0)

    def insertall(self, rows: list[Row]) -> PathResult:
        result = PathResult("insertAll (insertId=row_id)", rows=len(rows))
        table = self.table("insertall")
        writer = self.writer()
        self.session.insert_bodies.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        rejected = writer.insert(table, json_rows(rows))
        result.wall_s, result.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        if rejected:
            raise SystemExit(f"insertAll rejected {len(rejected)} rows: {rejected[:3]}")
        result.request_bytes = sum(self.session.insert_bodies)
        result.row_bytes = sum(len(orjson.dumps(r)) for _, r in rows)
        batches = [list(b) for b in chunks(rows, self.args.batch_rows)]
        client_json_us = timed(lambda: [insertall_body(b) for b in batches], len(rows))
        bodies = getattr(writer, "request_bodies", None)
        if bodies is not None:  # the sink builds its bodies itself (orjson): time exactly that
            encoded = json_rows(rows)
            result.serialize_us = timed(lambda: list(bodies(encoded)), len(rows))
            result.notes.append(f"bodies built by BigQueryWriter.request_bodies; for reference, the body "
                                f"Client.insert_rows_json would build (stdlib json) costs {client_json_us:.1f} µs/row")
        else:  # the sink calls Client.insert_rows_json: time the body that method builds
            result.serialize_us = client_json_us
            result.notes.append("bodies built by Client.insert_rows_json (stdlib json)")
        result.notes.append(f"{len(self.session.insert_bodies)} requests")
        self.insertall_table = table
        return result

    def insertall_retry(self, rows: list[Row]) -> str:
        table = self.table("insertall_retry")
        batch = rows[:self.args.batch_rows]
        writer = self.writer()
        writer.insert(table, json_rows(batch))
        first = self.count(table)[0]
        writer.insert(table, json_rows(batch))  # the redelivery: same rows, same insertIds
        return f"{first} -> {self.count(table)[0]} rows"

    def insertall_bad_row(self, rows: list[Row]) -> str:
        table = self.table("insertall_bad")
        batch = [(rid, dict(r)) for rid, r in rows[:10]]
        del batch[3][1]["event_name"]  # REQUIRED
        rejected = self.writer().insert(table, json_rows(batch))
        reasons = "; ".join(f"{r.path}: {r.message}" for x in rejected for r in x.reasons)
        return f"{self.count(table)[0]}/10 landed, {len(rejected)} row reported ({reasons})"

    # -- Write API ------------------------------------------------------------------------------
    def default_stream(self, table: str) -> str:
        return f"{self.stream_parent(table)}/streams/_default"

    def append_all(self, stream: str, batches: Sequence[list[bytes]], offsets: bool = False,
                   codec: RowCodec | None = None) -> tuple[int, list[str]]:
        """Append ``batches`` of serialized rows on one new connection; (bytes sent, errors)."""
        codec = codec or self.codec
        connection = AppendConnection(self.write, stream)
        sent, errors, offset = 0, [], 0
        try:
            for i, serialized in enumerate(batches):
                request = append_request(stream, codec, serialized, with_schema=i == 0,
                                         offset=offset if offsets else None)
                sent += request.ByteSize()
                error = response_error(connection.append(request))
                if error:
                    errors.append(error)
                offset += len(serialized)
        finally:
            connection.close()
        return sent, errors

    def write_api(self, rows: list[Row]) -> PathResult:
        result = PathResult("Write API _default (proto2)", rows=len(rows))
        table = self.table("write_api")
        stream = self.default_stream(table)
        plain = [r for _, r in rows]
        cpu, wall = time.process_time(), time.perf_counter()
        sent, errors = 0, []
        connection = AppendConnection(self.write, stream)
        try:
            for i, batch in enumerate(chunks(plain, self.args.batch_rows)):
                request = append_request(stream, self.codec, serialize(self.codec, batch), with_schema=i == 0)
                sent += request.ByteSize()
                if error := response_error(connection.append(request)):
                    errors.append(error)
        finally:
            connection.close()
        result.wall_s, result.cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        if errors:
            raise SystemExit(f"AppendRows failed: {errors[:3]}")
        result.request_bytes = sent
        batches = [list(b) for b in chunks(plain, self.args.batch_rows)]
        result.row_bytes = sum(len(s) for b in batches for s in serialize(self.codec, b))

        def serialize_all() -> None:
            for i, b in enumerate(batches):
                append_request(stream, self.codec, serialize(self.codec, b), with_schema=i == 0).SerializeToString()

        result.serialize_us = timed(serialize_all, len(rows))
        result.notes.append("rows encoded by ingest.sinks.storage_write.RowCodec (ISO TIMESTAMP/DATE -> int64 µs/int32 days)")
        result.notes.append(f"{len(batches)} requests; schema {self.codec.descriptor.ByteSize()} B in the first")
        self.write_api_table = table
        return result

    def write_api_retry(self, rows: list[Row]) -> str:
        table = self.table("default_retry")
        stream = self.default_stream(table)
        batch = [serialize(self.codec, [r for _, r in rows[:self.args.batch_rows]])]
        self.append_all(stream, batch)
        first = self.count(table)[0]
        self.append_all(stream, batch)  # the redelivery, on a new connection as a new invocation would
        return f"{first} -> {self.count(table)[0]} rows"

    def committed_retry(self, rows: list[Row]) -> str:
        table = self.table("committed_retry")
        created = self.write.create_write_stream(parent=self.stream_parent(table),
                                                 write_stream=types.WriteStream(type_=types.WriteStream.Type.COMMITTED))
        batch = [serialize(self.codec, [r for _, r in rows[:self.args.batch_rows]])]
        _, errors = self.append_all(created.name, batch, offsets=True)
        first = self.count(table)[0]
        _, retry_errors = self.append_all(created.name, batch, offsets=True)  # same offset 0 again
        said = retry_errors[0].split(" [")[0] if retry_errors else "accepted"
        return f"{first} -> {self.count(table)[0]} rows (retry at offset 0: {said})" + (f"; first: {errors}" if errors else "")

    def write_api_bad_row(self, rows: list[Row]) -> str:
        table = self.table("write_api_bad")
        plain = [dict(r) for _, r in rows[:10]]
        del plain[3]["event_name"]
        _, errors = self.append_all(self.default_stream(table), [serialize(self.codec, plain)])
        return f"{self.count(table)[0]}/10 landed, " + (errors[0] if errors else "no error reported")

    # -- fidelity -------------------------------------------------------------------------------
    def compare(self) -> str:
        def load(table: str) -> dict[str, dict[str, Any]]:
            out = {}
            for row in self.bq.list_rows(f"{self.project}.{self.dataset}.{table}", page_size=10_000):
                values = dict(row.items())
                out[values["row_id"]] = values
            return out

        a, b = load(self.insertall_table), load(self.write_api_table)
        differing: dict[str, int] = {}
        for key in a.keys() & b.keys():
            for column in a[key].keys() | b[key].keys():
                if a[key].get(column) != b[key].get(column):
                    differing[column] = differing.get(column, 0) + 1
        missing = len(a.keys() ^ b.keys())
        if not differing and not missing:
            return f"identical: {len(a)} rows, every column equal (read back with tabledata.list)"
        return f"{missing} row_ids in one table only; columns differing: {differing}"

    def probe_types(self) -> list[str]:
        """Which proto encodings the endpoint accepts for the awkward types, and what it stores."""
        dataset_table = f"{self.project}.{self.dataset}.type_probe"
        schema = [bigquery.SchemaField("case", "STRING", mode="REQUIRED"), bigquery.SchemaField("n", "NUMERIC"),
                  bigquery.SchemaField("d", "DATE"), bigquery.SchemaField("ts", "TIMESTAMP"),
                  bigquery.SchemaField("j", "JSON")]
        self.bq.create_table(bigquery.Table(dataset_table, schema=schema))
        stream = f"projects/{self.project}/datasets/{self.dataset}/tables/type_probe/streams/_default"
        day = date(2025, 11, 22)
        days = (day - date(1970, 1, 1)).days
        moment = datetime(2025, 11, 23, 12, 13, 20, 123456, tzinfo=timezone.utc)
        micros = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        # Each case's proto field types, named by the BigQuery type RowCodec maps to them
        # (NUMERIC, JSON, STRING -> string; DATE -> int32; TIMESTAMP -> int64).
        cases = [
            ("NUMERIC as string '12.50'", {"n": "NUMERIC"}, {"n": "12.50"}, "n", Decimal("12.50")),
            (f"DATE as int32 days {days}", {"d": "DATE"}, {"d": days}, "d", day),
            (f"DATE as string '{day}'", {"d": "STRING"}, {"d": str(day)}, "d", day),
            ("TIMESTAMP as int64 micros", {"ts": "TIMESTAMP"}, {"ts": micros}, "ts", moment),
            ("TIMESTAMP as string ISO (not in the docs)", {"ts": "STRING"},
             {"ts": moment.isoformat().replace("+00:00", "Z")}, "ts", moment),
            ("JSON as string", {"j": "JSON"}, {"j": '{"a":1,"b":[true,null]}'}, "j", {"a": 1, "b": [True, None]}),
            ("a proto field the table lacks", {"zz": "STRING"}, {"zz": "x"}, "", None),
        ]
        lines = []
        for label, types_, values, column, expected in cases:
            codec = RowCodec("probe", [{"name": "case", "type": "STRING"},
                                       *({"name": name, "type": kind} for name, kind in types_.items())])
            try:
                _, errors = self.append_all(stream, [serialize(codec, [{"case": label, **values}])], codec=codec)
                outcome = f"rejected: {errors[0]}" if errors else "accepted"
            except gexc.GoogleAPICallError as error:
                errors, outcome = [str(error)], f"rejected: {error}"
            if not errors and column:
                sql = f"SELECT {column} AS v FROM `{dataset_table}` WHERE `case` = @c"
                job = self.bq.query(sql, job_config=bigquery.QueryJobConfig(
                    query_parameters=[bigquery.ScalarQueryParameter("c", "STRING", label)]))
                stored = [r["v"] for r in job.result()]
                got = stored[0] if stored else None
                shown = str(got) if not isinstance(got, (dict, list)) else orjson.dumps(got).decode()
                same = got == expected
                outcome += f", stored {shown!s}" + ("" if same else f" (expected {expected})")
            lines.append(f"  {label:<44} {outcome}")
        return lines


# ---------------------------------------------------------------------------------------------
# Report


def cost_lines(results: dict[str, PathResult]) -> list[str]:
    ins, wapi = results["insertall"], results["write_api"]
    ins_billed = max(ins.bytes_per_row, INSERT_ALL_MIN_ROW_BYTES)
    ins_cost = ins_billed * 1e6 / GIB * PRICES["insert_all"].value
    wapi_cost = wapi.bytes_per_row * 1e6 / GIB * PRICES["storage_write"].value
    free_rows = STORAGE_WRITE_FREE_BYTES / wapi.bytes_per_row
    return [
        "cost per million rows at list prices, from the measured request bytes/row:",
        f"  insertAll  max({ins.bytes_per_row:,.0f} B, 1 KB minimum) = {ins_billed:,.0f} B/row x ${PRICES['insert_all'].value}/GiB"
        f"     = ${ins_cost:.4f} per million rows (${ins_cost * 30:.2f}/month at 1 M rows/day)",
        f"  Write API  {wapi.bytes_per_row:,.0f} B/row x ${PRICES['storage_write'].value}/GiB = ${wapi_cost:.4f} per million rows beyond the "
        f"free 2 TiB/month; $0 below ~{free_rows / 1e9:,.1f} billion rows/month",
        f"  (same rows as JSON text: {ins.row_bytes / ins.rows:,.0f} B/row; as proto: {wapi.row_bytes / wapi.rows:,.0f} B/row)",
    ]


def versions() -> str:
    names = ["google-cloud-bigquery", "google-cloud-bigquery-storage", "protobuf", "grpcio"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    from google.protobuf.internal import api_implementation
    return ", ".join(found) + f" (protobuf backend: {api_implementation.Type()})"


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} vCPU {model}, Python {platform.python_version()}"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--bigquery-url", default="http://127.0.0.1:9050",
                        help="BigQuery REST endpoint (default: the `make up` emulator, %(default)s)")
    parser.add_argument("--grpc-target", default="127.0.0.1:9060",
                        help="Storage Write API gRPC host:port, insecure channel (default: %(default)s)")
    parser.add_argument("--project", default="local-dev", help="project id (default: %(default)s)")
    parser.add_argument("--dataset", default="", help="dataset to create (default: write_paths_<time>_<pid>)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows written by each path (default: %(default)s)")
    parser.add_argument("--batch-rows", type=int, default=500,
                        help="rows per insertAll request and per AppendRows request (default: %(default)s)")
    parser.add_argument("--keep-dataset", action="store_true", help="do not delete the dataset at the end")
    parser.add_argument("--skip-checks", action="store_true",
                        help="only the throughput/CPU/bytes measurement: no retry, bad-row, fidelity or type checks")
    args = parser.parse_args(argv)
    if args.rows < args.batch_rows or args.batch_rows < 10:
        parser.error("need --rows >= --batch-rows >= 10")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    rows = pipeline_rows(args.rows)
    print(f"{len(rows)} pro_event rows prepared by ingest.pipeline.prepare in {time.perf_counter() - t0:.1f}s")
    bench = Bench(args)
    bench.setup()
    results: dict[str, PathResult] = {}
    try:
        results["insertall"] = bench.insertall(rows)
        results["write_api"] = bench.write_api(rows)
        checks: dict[str, str] = {}
        probes: list[str] = []
        if not args.skip_checks:
            results["insertall"].retry = bench.insertall_retry(rows)
            results["write_api"].retry = bench.write_api_retry(rows)
            checks["committed"] = bench.committed_retry(rows)
            results["insertall"].bad_row = bench.insertall_bad_row(rows)
            results["write_api"].bad_row = bench.write_api_bad_row(rows)
            checks["fidelity"] = bench.compare()
            probes = bench.probe_types()
    finally:
        bench.teardown()

    print(f"\nwrite paths, {started:%Y-%m-%d %H:%M} UTC, {machine()}")
    print(f"endpoint {args.bigquery_url} + gRPC {args.grpc_target}; {versions()}")
    print(f"{args.rows} rows per path, {args.batch_rows} rows per request, dataset {bench.dataset}\n")
    header = f"{'path':<30} {'rows/s':>8} {'serialize µs/row':>17} {'client CPU µs/row':>18} {'request B/row':>14}  retry of the same batch"
    print(header)
    print("-" * len(header) + "-" * 12)
    for result in results.values():
        print(f"{result.name:<30} {result.rows_per_s:>8,.0f} {result.serialize_us:>17.1f} "
              f"{result.cpu_s / result.rows * 1e6:>18.1f} {result.bytes_per_row:>14,.0f}  {result.retry or '-'}")
    if "committed" in checks:
        print(f"{'Write API COMMITTED + offsets':<30} {'':>8} {'':>17} {'':>18} {'':>14}  {checks['committed']}")
    print()
    for result in results.values():
        print(f"{result.name}: {'; '.join(result.notes)}")
    if not args.skip_checks:
        print("\none invalid row (REQUIRED event_name missing) in a batch of 10:")
        for result in results.values():
            print(f"  {result.name:<30} {result.bad_row}")
        print(f"\nsame rows read back from both tables: {checks['fidelity']}")
        print("\nproto encodings on this endpoint (_default stream):")
        print("\n".join(probes))
    print()
    print("\n".join(cost_lines(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
