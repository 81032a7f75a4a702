"""A reverse HTTP proxy that injects faults, to sit in front of the BigQuery emulator in tests.

The emulator never fails on its own, but the real API does, in two ways that matter to a
writer: a request refused before it reached the backend (a retry is harmless), and a
response lost after the write happened (a retry writes again unless insertId dedupe or an
idempotent design absorbs it). Tests arm those faults for requests whose path matches a
regex; everything else is forwarded untouched. Stdlib only; one thread per connection.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

# Per-connection headers (RFC 9110 7.6.1) that a proxy must not pass on, plus the ones this
# proxy sets itself: Content-Length (bodies are re-framed), Host, and Expect (handled here).
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)


class Outcome(StrEnum):
    """What the proxy did with one request."""

    FORWARDED = "forwarded"  # relayed both ways
    REJECTED = "rejected"  # answered with the fault status; upstream never saw it
    LOST = "lost"  # upstream handled it, the client got the fault status instead
    UPSTREAM_ERROR = "upstream_error"  # upstream unreachable: answered 502


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy handled it."""

    method: str
    path: str
    outcome: Outcome
    status: int  # what the client received
    upstream_status: int | None  # what upstream answered, if it was asked


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    method: str | None
    remaining: int
    status: int
    reason: str
    after_forward: bool

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.pattern.search(path) is not None


def _error_body(status: int, reason: str) -> bytes:
    """Google API error JSON, so client libraries classify the fault as they would a real one."""
    message = f"fault injected by FaultProxy ({reason})"
    return json.dumps(
        {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
    ).encode()


class FaultProxy:
    """Forwards every request to `upstream` (e.g. "http://127.0.0.1:9050") unless a fault is armed.

    Use as a context manager; point the client at `proxy.url`. Faults are consumed in the order
    they were armed, one per matching request, and are safe to arm from any thread.
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 60.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self._upstream_prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._exchanges: list[Exchange] = []
        self._server = _Server((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- arming faults --------------------------------------------------------------------

    def reject_next(
        self, count: int, path_regex: str, status: int = 503, *, method: str | None = None, reason: str = "backendError"
    ) -> None:
        """Answer the next `count` matching requests with `status` without forwarding them."""
        self._arm(count, path_regex, status, method, reason, after_forward=False)

    def lose_response_next(
        self, count: int, path_regex: str, status: int = 503, *, method: str | None = None, reason: str = "backendError"
    ) -> None:
        """Forward the next `count` matching requests, then answer `status` instead of upstream's reply."""
        self._arm(count, path_regex, status, method, reason, after_forward=True)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """How many armed faults have not fired yet."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def _arm(self, count: int, path_regex: str, status: int, method: str | None, reason: str, *, after_forward: bool) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = _Fault(re.compile(path_regex), method.upper() if method else None, count, status, reason, after_forward)
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # --- what happened --------------------------------------------------------------------

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def counts(self) -> Counter[Outcome]:
        with self._lock:
            return Counter(e.outcome for e in self._exchanges)

    def reset_stats(self) -> None:
        with self._lock:
            self._exchanges.clear()

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request upstream on a fresh connection; return status, headers and whole body."""
        conn = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=self._timeout)
        try:
            conn.putrequest(method, self._upstream_prefix + path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Google clients expect
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read exchanges() instead of stderr."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes, content_length: str | None = None) -> None:
        self.send_response_only(status)  # no Server/Date of our own: upstream's are relayed
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", content_length or str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fault_reply(self, fault: _Fault) -> None:
        self._reply(fault.status, [("Content-Type", "application/json; charset=UTF-8")], _error_body(fault.status, fault.reason))

    def _handle(self) -> None:
        """Record each exchange before answering, so a client that got its reply sees it counted."""
        proxy = self.server.proxy
        method, path = self.command, self.path
        body = self._read_body()
        fault = proxy._take_fault(method, path)
        if fault is not None and not fault.after_forward:
            proxy._record(Exchange(method, path, Outcome.REJECTED, fault.status, None))
            self._fault_reply(fault)
            return
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED]
        try:
            upstream_status, upstream_headers, upstream_body = proxy._forward(method, path, headers, body)
        except OSError as exc:
            proxy._record(Exchange(method, path, Outcome.UPSTREAM_ERROR, 502, None))
            self._reply(502, [("Content-Type", "text/plain")], f"FaultProxy: upstream unreachable: {exc}".encode())
            return
        if fault is not None:
            proxy._record(Exchange(method, path, Outcome.LOST, fault.status, upstream_status))
            self._fault_reply(fault)
            return
        reply_headers = [(k, v) for k, v in upstream_headers if k.lower() not in _NOT_FORWARDED]
        head_length = next((v for k, v in upstream_headers if k.lower() == "content-length"), None)
        proxy._record(Exchange(method, path, Outcome.FORWARDED, upstream_status, upstream_status))
        self._reply(upstream_status, reply_headers, upstream_body, head_length if method == "HEAD" else None)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle
