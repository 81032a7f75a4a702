"""The real ``ingest_events`` function served by functions-framework, BigQuery answering at once.

    PYTHONPATH=functions:. python -m benchmarks.envelope_bench [--sizes 1,10,100,500]
        [--paths insert_all,storage_write] [--runs 3] [--scale 1.0] [--json FILE]

For each write path (BIGQUERY_WRITE_PATH) a functions-framework server (gunicorn, as Cloud Run
functions runs it) serves ``functions/main.py`` in its own process group, pointed at
``benchmarks.instant_backend`` in another process. Messages of 1, 10, 100 and 500 distinct
``benchmarks.corpus`` events, framed by ``ingest.publish.Publisher`` (NDJSON, and gzip), are
pushed one request at a time in the raw Pub/Sub push body the local stack's emulator sends.

Measured per (path, size, encoding), median of ``--runs`` windows after a warm-up: the server's
CPU time (user + sys of every process in its group, /proc/<pid>/stat) per request, hence events/s
per vCPU; the bytes published per message; the rows and row bytes the backend received per
event. Per path: the server's peak RSS (VmHWM). Reference, same run: ``split_message + prepare``
in this process on messages of the same size (``pipeline_bench.run_once``, CPU time), so the envelope's
rate is also shown as a share of the in-process one; ratios survive a noisy machine, absolute
times do not. ``--json`` writes the figures for ``benchmarks.cost``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import orjson

from benchmarks import corpus
from benchmarks.instant_backend import InstantBackend
from benchmarks.pipeline_bench import messages_of, run_once
from ingest.config import Settings
from ingest.publish import Publisher
from ingest.runtime import settle_heap

REPO = Path(__file__).resolve().parents[1]
SIZES = (1, 10, 100, 500)
PATHS = ("insert_all", "storage_write")
ENCODINGS = ("plain", "gzip")
KEY = "bench-key-0123456789"
TOPIC = "tracking-events"
REQUEST_TIMEOUT_S = 60.0
CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
EVENTS_PER_WINDOW = {1: 300, 10: 1_500, 100: 4_000, 500: 5_000}
"""Events per measured window at --scale 1: about a second of server CPU each (a clock tick is 10 ms)."""


@dataclass
class Figure:
    path: str
    size: int
    encoding: str
    requests: int
    cpu_ms_per_request: float
    """Median over the runs."""
    cpu_ms_runs: list[float]
    wall_ms_per_request: float
    message_bytes: float
    """Mean bytes of one message's data, as published."""
    rows_per_event: dict[str, float]
    """Rows the backend received per event, per table (the audit rows included)."""
    row_bytes_per_event: dict[str, float]
    reference_events_per_s: float
    """In-process split_message + prepare, same size, same run (one core)."""

    @property
    def events_per_cpu_s(self) -> float:
        return self.size / (self.cpu_ms_per_request / 1000)

    @property
    def share_of_reference(self) -> float:
        return self.events_per_cpu_s / self.reference_events_per_s


@dataclass
class Report:
    started: str
    machine: str
    runs: int
    figures: list[Figure] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps({**asdict(self), "figures": [
            {**asdict(f), "events_per_cpu_s": f.events_per_cpu_s, "share_of_reference": f.share_of_reference}
            for f in self.figures]}, option=orjson.OPT_INDENT_2)


# --- the function's process group ----------------------------------------------------------


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state, ppid, pgrp, ...)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _cpu_s(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks * CLOCK_TICK_S


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FunctionServer:
    """functions-framework serving ingest_events, in its own session; posts push bodies to it."""

    def __init__(self, path: str, backend: InstantBackend, log: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'functions'}{os.pathsep}{REPO}",
               "BIGQUERY_WRITE_PATH": path, "BIGQUERY_EMULATOR_HOST": backend.http_url,
               "BIGQUERY_GRPC_EMULATOR_HOST": backend.grpc_target, "GCP_PROJECT": "local-dev",
               "GOOGLE_CLOUD_PROJECT": "local-dev", "PSEUDONYMISATION_KEY": KEY,
               "ENVIRONMENT": "bench", "CODE_VERSION": "bench"}
        # Everything else at its production default (BIGQUERY_TIMEOUT_S, LOG_LEVEL...); no reference
        # data, like the in-process reference.
        for name in ("REFERENCE_DATA_URI", "PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "LOG_LEVEL",
                     "BIGQUERY_TIMEOUT_S"):
            env.pop(name, None)
        binary = Path(sys.executable).parent / "functions-framework"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(binary), "--target", "ingest_events", "--signature-type", "cloudevent", "--host", "127.0.0.1",
             "--port", str(self.port), "--source", str(REPO / "functions" / "main.py")],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._connection: http.client.HTTPConnection | None = None
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"functions-framework exited with {self.process.returncode}; see {self._log.name}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"functions-framework did not listen within {timeout_s}s; see {self._log.name}")

    def pids(self) -> list[int]:
        return _group_pids(self.process.pid)

    def post(self, data: bytes, message_id: str) -> None:
        body = orjson.dumps({
            "message": {"data": base64.b64encode(data).decode(), "attributes": {}, "messageId": message_id,
                        "message_id": message_id, "publishTime": "2026-12-01T10:00:00.000Z",
                        "publish_time": "2026-12-01T10:00:00.000Z"},
            "subscription": f"projects/local-dev/subscriptions/{TOPIC}-push"})
        for attempt in (1, 2):  # a dropped keep-alive connection is reopened once
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                self._connection.request("POST", "/", body, {"Content-Type": "application/json"})
                response = self._connection.getresponse()
                answer = response.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
        if response.status != 200:
            raise RuntimeError(f"the function answered {response.status}: {answer[:500]!r}; see {self._log.name}")

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        try:
            os.killpg(self.process.pid, 15)
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(15)
        except ProcessLookupError:
            pass
        self._log.close()


# --- messages ------------------------------------------------------------------------------


class _Capture:
    """A Pub/Sub client that keeps what Publisher would publish."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future[str]:
        self.messages.append(data)
        future: Future[str] = Future()
        future.set_result(str(len(self.messages)))
        return future


def frame(lines: list[bytes], size: int, gzip: bool) -> list[bytes]:
    """Messages of ``size`` events, as ingest.publish.Publisher makes them."""
    capture = _Capture()
    with Publisher(TOPIC, client=capture, settings=Settings(), max_records=size, max_latency=None,
                   gzip=gzip) as publisher:
        publisher.add_all(lines)
    return capture.messages


class EventPool:
    """Distinct events, handed out in order (wrapping only if the pool runs out)."""

    def __init__(self, count: int) -> None:
        self.lines = [orjson.dumps(e) for e in corpus.events(count)]
        self._next = 0

    def take(self, count: int) -> list[bytes]:
        out = []
        while len(out) < count:
            chunk = self.lines[self._next:self._next + count - len(out)]
            out += chunk
            self._next = (self._next + len(chunk)) % len(self.lines)
        return out


# --- the measurement -----------------------------------------------------------------------


def measure_path(path: str, sizes: list[int], runs: int, scale: float, pool: EventPool, backend: InstantBackend,
                 log_dir: Path) -> tuple[list[Figure], float]:
    server = FunctionServer(path, backend, log_dir / f"fn-{path}.log")
    figures = []
    counter = 0
    try:
        for size in sizes:
            events = max(size, int(EVENTS_PER_WINDOW.get(size, 4_000) * scale) // size * size)
            reference = reference_rate(size, pool, scale)  # next to the windows it is compared with
            for encoding in ENCODINGS:
                gzip = encoding == "gzip"
                for data in frame(pool.take(size * 3), size, gzip):  # warm-up (the first builds the clients)
                    counter += 1
                    server.post(data, f"w{counter}")
                backend.reset()
                cpu_runs, wall_runs, sizes_seen = [], [], []
                for _ in range(runs):
                    messages = frame(pool.take(events), size, gzip)
                    sizes_seen += map(len, messages)
                    pids = server.pids()
                    cpu, wall = _cpu_s(pids), time.perf_counter()
                    for data in messages:
                        counter += 1
                        server.post(data, f"m{counter}")
                    wall = time.perf_counter() - wall
                    cpu_runs.append((_cpu_s(pids) - cpu) / len(messages) * 1000)
                    wall_runs.append(wall / len(messages) * 1000)
                stats = backend.stats().get(path, {})
                total_events = events * runs
                figures.append(Figure(
                    path=path, size=size, encoding=encoding, requests=len(sizes_seen),
                    cpu_ms_per_request=statistics.median(cpu_runs), cpu_ms_runs=cpu_runs,
                    wall_ms_per_request=statistics.median(wall_runs), message_bytes=statistics.fmean(sizes_seen),
                    rows_per_event={t: v["rows"] / total_events for t, v in stats.items()},
                    row_bytes_per_event={t: v["row_bytes"] / total_events for t, v in stats.items()},
                    reference_events_per_s=reference))
        peak = max(_vm_hwm_mib(pid) for pid in server.pids())
    finally:
        server.stop()
    return figures, peak


def reference_rate(size: int, pool: EventPool, scale: float, runs: int = 3) -> float:
    """In-process events per CPU-second of split_message + prepare (``pipeline_bench.run_once``) on
    messages of ``size`` events (plain NDJSON): CPU time like the envelope's, so that a busy machine
    (other processes taking the core) does not skew the ratio. Each run gets events of its own, as
    the function does: run again on the same events, the enrichment caches would answer every
    lookup (~30 % faster at 100 events/message), which is not what the function meets."""
    events = max(size * 5, reference_events(size, scale))
    settings = Settings(pseudonymisation_key=KEY)
    run_once(messages_of(pool.take(size * 5), size), settings)
    cpu = []
    for _ in range(runs):
        messages = messages_of(pool.take(events), size)
        start = time.process_time()
        run_once(messages, settings)
        cpu.append(time.process_time() - start)
    return events / statistics.median(cpu)


def reference_events(size: int, scale: float) -> int:
    return int(2_000 * scale) // size * size


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "")
    load = os.getloadavg()[0]
    return (f"{platform.machine()}, {os.cpu_count()} vCPU {model}, Python {platform.python_version()}, "
            f"load {load:.1f} at start")


def run(sizes: list[int], paths: list[str], runs: int, scale: float, log_dir: Path) -> Report:
    report = Report(started=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", machine=machine(), runs=runs)
    needed = sum(max(size, int(EVENTS_PER_WINDOW.get(size, 4_000) * scale)) * (runs + 1)
                 + max(size * 5, reference_events(size, scale)) * 3 + size * 5 for size in sizes) * 2
    pool = EventPool(min(max(needed, 2_000), 40_000))
    # As the function does once started; else the in-process reference would also pay for collections
    # scanning this process's own long-lived objects (~30 % at 500 events/message).
    settle_heap()
    with InstantBackend.start() as backend:
        for path in paths:
            figures, peak = measure_path(path, sizes, runs, scale, pool, backend, log_dir)
            report.figures += figures
            report.peak_rss_mib[path] = peak
    return report


def print_report(report: Report) -> None:
    print(f"function envelope: functions-framework (gunicorn) serving ingest_events, BigQuery answering at once "
          f"(benchmarks.instant_backend, another process); {report.started}; {report.machine}; "
          f"median of {report.runs} windows")
    print(f"  {'write path':13s} {'events/msg':>10s} {'encoding':>8s} {'B/msg':>9s} {'CPU ms/req':>10s} "
          f"{'events/s/vCPU':>13s} {'in-process ev/s':>15s} {'% of it':>7s} {'rows/event':>10s} {'row B/event':>11s}")
    for f in report.figures:
        print(f"  {f.path:13s} {f.size:10d} {f.encoding:>8s} {f.message_bytes:9,.0f} {f.cpu_ms_per_request:10.2f} "
              f"{f.events_per_cpu_s:13,.0f} {f.reference_events_per_s:15,.0f} {f.share_of_reference:7.0%} "
              f"{sum(f.rows_per_event.values()):10.2f} {sum(f.row_bytes_per_event.values()):11,.0f}")
    print("  targets: ≤ 2 ms CPU per request at 1 event/message; ≥ 10 000 events/s/vCPU at 100 events/message")
    print("  peak RSS of the function's worker (VmHWM): "
          + ", ".join(f"{path} {mib:,.0f} MiB" for path, mib in report.peak_rss_mib.items()))


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="events per message (default %(default)s)")
    parser.add_argument("--paths", default=",".join(PATHS), help="BIGQUERY_WRITE_PATH values (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="measured windows per case (default %(default)s)")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")),
                        help="events per window, relative to the default (env BENCH_SCALE; default %(default)s)")
    parser.add_argument("--json", type=Path, help="write the figures here (read by benchmarks.cost)")
    parser.add_argument("--log-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")),
                        help="the function servers' logs (default %(default)s)")
    args = parser.parse_args(argv)
    report = run([int(s) for s in args.sizes.split(",")], args.paths.split(","), args.runs, args.scale, args.log_dir)
    print_report(report)
    if args.json:
        args.json.write_bytes(report.to_json())
    return report


if __name__ == "__main__":
    main()
