"""TcpFaultProxy against an in-process TCP upstream that records what it receives and answers
every chunk: forwarding both ways, and each fault on new and on already open connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.tcp_fault_proxy import Fault, TcpFaultProxy


class _Upstream:
    """Answers each chunk with b"ok:" + chunk; keeps every byte it received."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.received = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    with self.lock:
                        self.received += data
                    conn.sendall(b"ok:" + data)
            except OSError:
                pass

    def got(self) -> bytes:
        with self.lock:
            return bytes(self.received)


@pytest.fixture
def upstream() -> Iterator[_Upstream]:
    server = _Upstream()
    yield server
    server.listener.close()


@pytest.fixture
def proxy(upstream: _Upstream) -> Iterator[TcpFaultProxy]:
    with TcpFaultProxy(upstream.target, hold_s=0.2) as p:
        yield p


def _connect(proxy: TcpFaultProxy) -> socket.socket:
    host, port = proxy.target.split(":")
    sock = socket.create_connection((host, int(port)), timeout=3)
    return sock


def _closed(sock: socket.socket, allowed: bytes = b"") -> bool:
    """True when the peer closes or resets the connection within the timeout, having sent at most
    ``allowed`` (a reply already on its way when the fault struck)."""
    got = b""
    try:
        while data := sock.recv(65536):
            got += data
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return allowed.startswith(got)


def _eventually(probe, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def test_forwards_both_ways_unchanged(proxy: TcpFaultProxy, upstream: _Upstream) -> None:
    with _connect(proxy) as sock:
        sock.sendall(b"hello")
        assert sock.recv(100) == b"ok:hello"
    assert upstream.got() == b"hello"
    assert proxy.bytes_passed() == {"up": 5, "down": 8} and not proxy.hits()


def test_refuse_resets_open_and_new_connections_until_disarmed(proxy: TcpFaultProxy, upstream: _Upstream) -> None:
    opened = _connect(proxy)
    opened.sendall(b"a")
    assert opened.recv(100) == b"ok:a"
    proxy.refuse()
    assert _closed(opened)
    try:
        with _connect(proxy) as refused:
            assert _closed(refused)
    except ConnectionResetError:
        pass  # reset while connecting: refused all the same
    assert upstream.got() == b"a", "nothing reaches upstream while refusing"
    assert proxy.hits()[Fault.REFUSE] == 2
    proxy.disarm()
    with _connect(proxy) as sock:
        sock.sendall(b"c")
        assert sock.recv(100) == b"ok:c"


def test_cut_after_passes_exactly_n_bytes_then_resets(proxy: TcpFaultProxy, upstream: _Upstream) -> None:
    opened = _connect(proxy)
    opened.sendall(b"x")
    assert opened.recv(100) == b"ok:x"
    proxy.cut_after(4)  # applies to the open connection: counted from now
    opened.sendall(b"0123456789")
    _eventually(lambda: proxy.hits()[Fault.CUT] == 1)
    _eventually(lambda: upstream.got() == b"x0123")
    assert _closed(opened, allowed=b"ok:0123")
    with _connect(proxy) as fresh:  # and to new ones
        fresh.sendall(b"abcdef")
        _eventually(lambda: proxy.hits()[Fault.CUT] == 2)
    _eventually(lambda: upstream.got() == b"x0123abcd")


def test_lose_responses_delivers_the_request_and_drops_the_answer(proxy: TcpFaultProxy, upstream: _Upstream) -> None:
    opened = _connect(proxy)
    opened.sendall(b"first")
    assert opened.recv(100) == b"ok:first"
    proxy.lose_responses()
    started = time.monotonic()
    opened.sendall(b"write")
    assert _closed(opened), "the answer never arrives; the connection is reset"
    assert time.monotonic() - started >= 0.15, "held open for hold_s first, as a slow network would"
    assert upstream.got() == b"firstwrite", "the request did reach upstream"
    assert proxy.hits() == {Fault.LOSE: 1}
    proxy.disarm()
    with _connect(proxy) as sock:
        sock.sendall(b"again")
        assert sock.recv(100) == b"ok:again"
