"""BigQuery endpoints that answer at once, so a benchmark's figures are the function's own.

    PYTHONPATH=functions:. python -m benchmarks.instant_backend [--http-port 0] [--grpc-port 0]

* HTTP (the REST API, what ``google-cloud-bigquery`` calls): ``insertAll`` answers
  ``{"kind": "bigquery#tableDataInsertAllResponse"}`` (every row accepted), any other call ``{}``.
  HTTP/1.1 with a Content-Length on every answer, so the client's keep-alive connection is reused
  and never waits for a close; ``GET /_stats`` and ``POST /_reset`` serve the counters below.
* gRPC ``google.cloud.bigquery.storage.v1.BigQueryWrite/AppendRows`` (the Storage Write API):
  each request is answered by an ``AppendRowsResponse`` with an empty ``append_result``.

Both count, per table, the requests, rows and row bytes received (insertAll: each row's ``json``
re-encoded compactly; AppendRows: the serialized proto rows), which the cost model bills.

Run it in its own process (``InstantBackend.start()`` does): its CPU must not be counted as the
function's. It prints one JSON line ``{"http_port": .., "grpc_port": ..}`` once both listen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections import defaultdict
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import grpc
import orjson
from google.cloud.bigquery_storage_v1 import types

APPEND_ROWS = "AppendRows"
WRITE_SERVICE = "google.cloud.bigquery.storage.v1.BigQueryWrite"
INSERT_ALL_RESPONSE = b'{"kind":"bigquery#tableDataInsertAllResponse"}'
SOCKET_TIMEOUT_S = 30.0
REPO = Path(__file__).resolve().parents[1]


class Counters:
    """Per (path, table): requests, rows, row bytes. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: {"requests": 0, "rows": 0, "row_bytes": 0}))

    def add(self, path: str, table: str, rows: int, row_bytes: int) -> None:
        with self._lock:
            entry = self._data[path][table]
            entry["requests"] += 1
            entry["rows"] += rows
            entry["row_bytes"] += row_bytes

    def snapshot(self) -> dict[str, dict[str, dict[str, int]]]:
        with self._lock:
            return {path: {table: dict(v) for table, v in tables.items()} for path, tables in self._data.items()}

    def reset(self) -> None:
        with self._lock:
            self._data.clear()


def _table_of(path: str) -> str:
    """.../tables/<table>/insertAll or .../tables/<table>/streams/_default -> <table>."""
    parts = path.split("?", 1)[0].split("/")
    return parts[parts.index("tables") + 1] if "tables" in parts else "?"


def http_handler(counters: Counters) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
        timeout = SOCKET_TIMEOUT_S
        disable_nagle_algorithm = True  # else headers and body in two segments meet delayed ACKs: +40 ms

        def _answer(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self._body()
            if self.path == "/_reset":
                counters.reset()
                self._answer(b"{}")
            elif self.path.split("?", 1)[0].endswith("/insertAll"):
                rows = orjson.loads(body).get("rows", [])
                counters.add("insert_all", _table_of(self.path), len(rows),
                             sum(len(orjson.dumps(r.get("json"))) for r in rows))
                self._answer(INSERT_ALL_RESPONSE)
            else:
                self._answer(b"{}")

        def do_GET(self) -> None:  # noqa: N802
            self._answer(orjson.dumps(counters.snapshot()) if self.path == "/_stats" else b"{}")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

    return Handler


def append_rows_handler(counters: Counters) -> grpc.GenericRpcHandler:
    request_pb, response_pb = types.AppendRowsRequest.pb(), types.AppendRowsResponse.pb()

    def append_rows(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        stream = ""
        for request in requests:
            stream = request.write_stream or stream  # only the first request must name it
            rows = request.proto_rows.rows.serialized_rows
            counters.add("storage_write", _table_of(stream), len(rows), sum(map(len, rows)))
            response = response_pb(write_stream=stream)
            response.append_result.SetInParent()
            yield response

    method = grpc.stream_stream_rpc_method_handler(
        append_rows, request_deserializer=request_pb.FromString, response_serializer=response_pb.SerializeToString)
    return grpc.method_handlers_generic_handler(WRITE_SERVICE, {APPEND_ROWS: method})


def serve(http_port: int = 0, grpc_port: int = 0, host: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, grpc.Server]:
    counters = Counters()
    http = ThreadingHTTPServer((host, http_port), http_handler(counters))
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, daemon=True).start()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((append_rows_handler(counters),))
    bound = server.add_insecure_port(f"{host}:{grpc_port}")
    server.start()
    server.bound_port = bound  # type: ignore[attr-defined]
    return http, server


@dataclass
class InstantBackend:
    """The backend in a child process; ``stop()`` ends it."""

    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    host: str = "127.0.0.1"

    @classmethod
    def start(cls, timeout_s: float = 30.0) -> "InstantBackend":
        process = subprocess.Popen([sys.executable, "-m", "benchmarks.instant_backend", "--exit-with-stdin"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        ready: dict[str, int] = {}
        reader = threading.Thread(target=lambda: ready.update(json.loads(process.stdout.readline() or b"{}")),
                                  daemon=True)
        reader.start()
        reader.join(timeout_s)
        if "http_port" not in ready:
            process.kill()
            raise RuntimeError(f"instant backend did not start within {timeout_s}s")
        return cls(process, ready["http_port"], ready["grpc_port"])

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def stats(self) -> dict[str, dict[str, dict[str, int]]]:
        with urllib.request.urlopen(f"{self.http_url}/_stats", timeout=10) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.http_url}/_reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> "InstantBackend":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http-port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--grpc-port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin closes (the parent died or let go), so no backend outlives its bench")
    args = parser.parse_args()
    http, server = serve(args.http_port, args.grpc_port)
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    print(json.dumps({"http_port": http.server_address[1], "grpc_port": server.bound_port}), flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
