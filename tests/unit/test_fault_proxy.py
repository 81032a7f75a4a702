"""FaultProxy against a tiny in-process upstream: forwarding fidelity and each kind of fault."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.fault_proxy import Exchange, FaultProxy, Outcome


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.seen: list[tuple[str, str, bytes, str | None]] = []  # method, path, body, X-Test header
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _EchoHandler(BaseHTTPRequestHandler):
    """Echoes the request as JSON; /missing answers 404; /chunked answers with a chunked body."""

    protocol_version = "HTTP/1.1"
    server: _Upstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.seen.append((self.command, self.path, body, self.headers.get("X-Test")))
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        reply = json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_DELETE = _handle


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(upstream: _Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url) as p:
        yield p


def _request(proxy: FaultProxy, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"X-Test": "t1", "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_forwards_method_path_query_headers_and_body(proxy: FaultProxy, upstream: _Upstream) -> None:
    status, body = _request(proxy, "POST", "/bigquery/v2/projects/p/datasets?x=1", b'{"a": 1}')

    assert status == 200
    assert json.loads(body) == {"method": "POST", "path": "/bigquery/v2/projects/p/datasets?x=1", "body": '{"a": 1}'}
    assert upstream.seen == [("POST", "/bigquery/v2/projects/p/datasets?x=1", b'{"a": 1}', "t1")]
    assert proxy.exchanges() == [
        Exchange("POST", "/bigquery/v2/projects/p/datasets?x=1", Outcome.FORWARDED, 200, 200)
    ]


def test_relays_upstream_errors_and_headers_unchanged(proxy: FaultProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", "/missing")
    resp = conn.getresponse()
    resp.read()
    conn.close()

    assert resp.status == 404
    assert resp.getheader("X-Upstream") == "yes"
    assert proxy.counts() == {Outcome.FORWARDED: 1}


def test_decodes_chunked_upstream_body(proxy: FaultProxy) -> None:
    assert _request(proxy, "GET", "/chunked") == (200, b"hello world")


def test_reject_next_answers_without_forwarding(proxy: FaultProxy, upstream: _Upstream) -> None:
    proxy.reject_next(2, r"/insertAll$", 503)

    answers = [_request(proxy, "POST", "/t/insertAll", b"{}") for _ in range(3)]

    assert [status for status, _ in answers] == [503, 503, 200]
    error = json.loads(answers[0][1])["error"]
    assert error["code"] == 503
    assert error["errors"][0]["reason"] == "backendError"
    assert len(upstream.seen) == 1
    assert proxy.counts() == {Outcome.REJECTED: 2, Outcome.FORWARDED: 1}
    assert proxy.pending_faults() == 0


def test_lose_response_next_forwards_then_answers_fault(proxy: FaultProxy, upstream: _Upstream) -> None:
    proxy.lose_response_next(1, r"insertAll", 500, reason="internalError")

    status, body = _request(proxy, "POST", "/t/insertAll", b'{"rows": []}')

    assert status == 500
    assert json.loads(body)["error"]["errors"][0]["reason"] == "internalError"
    assert upstream.seen == [("POST", "/t/insertAll", b'{"rows": []}', "t1")]
    assert proxy.exchanges() == [Exchange("POST", "/t/insertAll", Outcome.LOST, 500, 200)]


def test_faults_only_hit_matching_path_and_method(proxy: FaultProxy) -> None:
    proxy.reject_next(1, r"/insertAll", 503, method="post")

    assert _request(proxy, "GET", "/datasets")[0] == 200
    assert _request(proxy, "GET", "/t/insertAll")[0] == 200
    assert _request(proxy, "POST", "/t/insertAll", b"{}")[0] == 503
    assert proxy.pending_faults() == 0


def test_faults_fire_in_arming_order_and_can_be_cleared(proxy: FaultProxy) -> None:
    proxy.reject_next(1, r"/a", 429, reason="rateLimitExceeded")
    proxy.lose_response_next(1, r"/a", 503)
    proxy.reject_next(5, r"/b", 503)

    assert _request(proxy, "GET", "/a")[0] == 429
    assert _request(proxy, "GET", "/a")[0] == 503
    assert proxy.pending_faults() == 5
    proxy.clear_faults()
    assert _request(proxy, "GET", "/b")[0] == 200
    assert [e.outcome for e in proxy.exchanges()] == [Outcome.REJECTED, Outcome.LOST, Outcome.FORWARDED]
    proxy.reset_stats()
    assert proxy.exchanges() == []


def test_keep_alive_connection_survives_faults(proxy: FaultProxy) -> None:
    proxy.reject_next(1, r"/x", 503)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    statuses = []
    for _ in range(3):
        conn.request("POST", "/x", body=b"payload")
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
    conn.close()

    assert statuses == [503, 200, 200]


def test_concurrent_requests_consume_exactly_the_armed_faults(proxy: FaultProxy, upstream: _Upstream) -> None:
    proxy.reject_next(5, r"/c", 503)
    proxy.lose_response_next(3, r"/c", 503)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: _request(proxy, "POST", f"/c/{i}", b"x")[0], range(24)))

    assert statuses.count(503) == 8
    assert proxy.counts() == {Outcome.REJECTED: 5, Outcome.LOST: 3, Outcome.FORWARDED: 16}
    assert len(upstream.seen) == 19


def test_unreachable_upstream_answers_502() -> None:
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with FaultProxy(f"http://127.0.0.1:{dead_port}", timeout=2) as proxy:
        status, _ = _request(proxy, "GET", "/anything")

    assert status == 502
    assert proxy.counts() == {Outcome.UPSTREAM_ERROR: 1}


def test_upstream_path_prefix_is_kept(upstream: _Upstream) -> None:
    with FaultProxy(upstream.url + "/base/") as proxy:
        _request(proxy, "DELETE", "/thing")

    assert upstream.seen[0][:2] == ("DELETE", "/base/thing")


def test_stop_releases_the_port(upstream: _Upstream) -> None:
    with FaultProxy(upstream.url) as proxy:
        port = proxy.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="http://"):
        FaultProxy("https://example.invalid")
    with FaultProxy("http://127.0.0.1:1") as proxy, pytest.raises(ValueError, match="count"):
        proxy.reject_next(0, "x")
