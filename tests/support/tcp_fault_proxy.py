"""A TCP proxy that breaks connections on demand, to sit in front of the emulator's gRPC port.

It works on bytes and knows nothing of HTTP/2 or gRPC: it models what a network does to a
long-lived channel, which is what the Storage Write API sink has to survive:
- ``refuse()``: connections are reset as soon as they are accepted (the backend is unreachable;
  nothing is written);
- ``cut_after(n)``: a connection is reset after ``n`` more bytes from the client have been passed
  on (a request cut short; the server may or may not have received enough to write);
- ``lose_responses()``: everything the client sends is passed on, nothing comes back, and the
  connection is reset ``hold_s`` later (the write happened; the client cannot know it did).

A fault applies to the connections already open as well as to new ones (a gRPC channel keeps one
connection for every call) and lasts until ``disarm()``. Stdlib only; two threads per connection.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from enum import StrEnum
from types import TracebackType
from typing import Self


class Fault(StrEnum):
    REFUSE = "refuse"
    CUT = "cut"
    LOSE = "lose"


def _reset(sock: socket.socket) -> None:
    """Refuse a connection just accepted: SO_LINGER 0 makes its close a TCP RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _drop(sock: socket.socket) -> None:
    """End a connection in both directions. shutdown wakes the pump blocked on it (close alone
    would not), and unlike an RST it lets the peer read what was already passed on."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Connection:
    def __init__(self, proxy: TcpFaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self.budget: int | None = None
        """Bytes from the client still passed on before a ``cut`` resets the connection."""
        self.losing = False
        self.closed = False

    def reset(self, fault: Fault | None = None) -> None:
        with self.proxy._lock:
            if self.closed:
                return
            self.closed = True
            self.proxy._open.discard(self)
            if fault is not None:
                self.proxy._hits[fault] += 1
        _drop(self.client)
        _drop(self.upstream)

    def lose(self) -> None:
        """From now on, nothing upstream says reaches the client; reset after ``hold_s``."""
        if not self.losing:
            self.losing = True
            timer = threading.Timer(self.proxy.hold_s, self.reset, (Fault.LOSE,))
            timer.daemon = True
            timer.start()

    def pump_up(self) -> None:
        """Client -> upstream, applying the armed fault to every chunk."""
        while data := self._recv(self.client):
            with self.proxy._lock:
                fault, budget = self.proxy._fault, self.budget
            if fault is Fault.CUT and budget is not None:
                data = data[:budget]
                self.budget = budget - len(data)
            if fault is Fault.LOSE:
                self.lose()  # before the request goes: its answer must not slip through
            self.proxy._count("up", len(data))
            if not self._send(self.upstream, data):
                break
            if fault is Fault.CUT and self.budget == 0:
                self.reset(Fault.CUT)
                return
        if not self.losing:
            self.reset()

    def pump_down(self) -> None:
        while data := self._recv(self.upstream):
            if self.losing:
                continue
            self.proxy._count("down", len(data))
            if not self._send(self.client, data):
                break
        if not self.losing:
            self.reset()

    def _recv(self, sock: socket.socket) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    def _send(self, sock: socket.socket, data: bytes) -> bool:
        try:
            sock.sendall(data)
            return True
        except OSError:
            return False


class TcpFaultProxy:
    """Forwards ``host:port`` to ``upstream`` ("127.0.0.1:9060") unless a fault is armed; point
    the client at ``target``. Use as a context manager."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, hold_s: float = 0.3) -> None:
        upstream_host, _, upstream_port = upstream.rpartition(":")
        self._upstream = (upstream_host, int(upstream_port))
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._cut_bytes = 0
        self._open: set[_Connection] = set()
        self._hits: Counter[Fault] = Counter()
        self._bytes: Counter[str] = Counter()
        self.accepted = 0
        self._listener = socket.create_server((host, port))
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        """host:port for grpc.insecure_channel (BIGQUERY_GRPC_EMULATOR_HOST)."""
        host, port = self._listener.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone does not
        except OSError:
            pass
        self._listener.close()
        for connection in list(self._open):
            connection.reset()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- faults ---------------------------------------------------------------------------

    def refuse(self) -> None:
        """Reset every open connection and every new one, until ``disarm()``."""
        self._arm(Fault.REFUSE)
        for connection in self._connections():
            connection.reset(Fault.REFUSE)

    def cut_after(self, n: int) -> None:
        """Reset each connection once ``n`` more client bytes have been passed on."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._arm(Fault.CUT, n)
        for connection in self._connections():
            connection.budget = n
            if n == 0:
                connection.reset(Fault.CUT)

    def lose_responses(self) -> None:
        """Pass requests on, relay no answer, reset ``hold_s`` after the first request bytes."""
        self._arm(Fault.LOSE)

    def disarm(self) -> None:
        with self._lock:
            self._fault = None
        for connection in self._connections():
            connection.budget = None

    def hits(self) -> Counter[Fault]:
        """Connections each fault has reset."""
        with self._lock:
            return Counter(self._hits)

    def bytes_passed(self) -> Counter[str]:
        """Bytes passed on, "up" (client -> upstream) and "down"."""
        with self._lock:
            return Counter(self._bytes)

    def _arm(self, fault: Fault, cut_bytes: int = 0) -> None:
        with self._lock:
            self._fault, self._cut_bytes = fault, cut_bytes

    def _connections(self) -> list[_Connection]:
        with self._lock:
            return list(self._open)

    def _count(self, direction: str, n: int) -> None:
        with self._lock:
            self._bytes[direction] += n

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            with self._lock:
                self.accepted += 1
                fault, cut_bytes = self._fault, self._cut_bytes
            if fault is Fault.REFUSE:
                with self._lock:
                    self._hits[Fault.REFUSE] += 1
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(self, client, upstream)
            if fault is Fault.CUT:
                connection.budget = cut_bytes
            with self._lock:
                self._open.add(connection)
            for pump in (connection.pump_up, connection.pump_down):
                threading.Thread(target=pump, daemon=True).start()
