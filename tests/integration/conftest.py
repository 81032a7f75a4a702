"""Session fixtures: real emulators (Pub/Sub, fake-gcs-server, local-bigquery) on test ports,
the functions served from the bundle by functions-framework, and the wiring between them.

The ports differ from `make up`'s, so tests can run while a developer's stack is up; TEST_PORT_OFFSET
moves them all (two checkouts testing at once).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from google.cloud import bigquery, pubsub_v1, storage

from tests.support.fault_proxy import FaultProxy
from tests.support.tcp_fault_proxy import TcpFaultProxy
from tools import bundle, emulators, provision
from tools.local_run import FILE_TASKS_TOPIC, STATE_BUCKET, LocalNames, function_env

REPO = Path(__file__).resolve().parents[2]


def _port_offset() -> int:
    """TEST_PORT_OFFSET shifts every test port, so two checkouts can run their suites at once."""
    raw = os.environ.get("TEST_PORT_OFFSET", "").strip() or "0"
    try:
        offset = int(raw)
    except ValueError:
        raise ValueError(f"TEST_PORT_OFFSET={raw!r} is not an integer") from None
    if not 0 <= offset <= 40000:
        raise ValueError(f"TEST_PORT_OFFSET={offset} must be between 0 and 40000")
    return offset


OFFSET = _port_offset()
CFG = emulators.StackConfig(pubsub_port=18085 + OFFSET, gcs_port=14443 + OFFSET, bigquery_port=19050 + OFFSET,
                            bigquery_grpc_port=19060 + OFFSET, state_dir=REPO / ".local" / "test-stack")
PORTS = {"ingest_events": 18081 + OFFSET, "ingest_logs": 18082 + OFFSET, "ingest_file": 18083 + OFFSET}
FAULTY_PORT = 18084 + OFFSET
FAULTY_TOPIC = "faulty-events"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> Iterator[emulators.Stack]:
    emulators.stop_stack(CFG)  # leftovers of an interrupted session
    # Each session makes a dataset of its own: the emulator's data of earlier sessions only slows
    # it down (a suite that took 3 minutes took 21 after a few dozen runs), so it starts empty.
    shutil.rmtree(CFG.bigquery_data_dir, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch, emulators.start_stack(CFG) as running:
        for key, value in running.env().items():
            patch.setenv(key, value)
        yield running
        emulators.stop_stack(CFG)  # the function servers recorded in the same state dir


@pytest.fixture(scope="session")
def names() -> LocalNames:
    return LocalNames(dataset=f"it_{uuid.uuid4().hex[:8]}", events_topic="tracking-events", logs_topic="backend-logs",
                      ports=PORTS)


@pytest.fixture(scope="session")
def bq(stack: emulators.Stack, names: LocalNames) -> bigquery.Client:
    client = provision.bigquery_client(CFG.project, CFG.bigquery_url)
    provision.create_dataset(client, names.dataset, REPO / "schemas")
    return client


@pytest.fixture(scope="session")
def bucket(stack: emulators.Stack) -> storage.Bucket:
    provision.create_bucket(CFG.project, CFG.bucket)
    provision.create_bucket(CFG.project, STATE_BUCKET)
    return storage.Client(project=CFG.project).bucket(CFG.bucket)


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployable bundle, so the tests exercise what would be uploaded."""
    return bundle.build(tmp_path_factory.mktemp("bundle") / "function-source")


@pytest.fixture(scope="session")
def functions(stack: emulators.Stack, bq: bigquery.Client, bucket: storage.Bucket, names: LocalNames,
              source: Path) -> dict[str, str]:
    env = function_env(stack.env(), names, CFG)
    servers = {target: emulators.serve_function(target, source / "main.py", port, env, config=CFG)
               for target, port in PORTS.items()}
    provision.create_routes(CFG.project, [
        provision.Route(names.events_topic, servers["ingest_events"].url),
        provision.Route(names.logs_topic, servers["ingest_logs"].url),
        provision.Route(CFG.notification_topic, servers["ingest_file"].url, provision.PARTNER_DROPS),
        provision.Route(FILE_TASKS_TOPIC, servers["ingest_file"].url, provision.PARTNER_DROPS),
    ])
    yield {target: server.url for target, server in servers.items()}
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def fault_proxy(stack: emulators.Stack) -> Iterator[FaultProxy]:
    """In front of the emulator's HTTP API (the insert_all path)."""
    with FaultProxy(CFG.bigquery_url) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def grpc_fault_proxy(stack: emulators.Stack) -> Iterator[TcpFaultProxy]:
    """In front of the emulator's Storage Write API (gRPC), the functions' write path."""
    with TcpFaultProxy(CFG.bigquery_grpc_target) as proxy:
        yield proxy


@pytest.fixture
def write_api_proxy(stack: emulators.Stack) -> Iterator[TcpFaultProxy]:
    """A test's own proxy to the Storage Write API, for a pipeline built in the test. A lost answer
    is held for a second first, so the emulator has committed the write the client never hears of."""
    with TcpFaultProxy(CFG.bigquery_grpc_target, hold_s=1.0) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def faulty_events_topic(stack: emulators.Stack, bq: bigquery.Client, names: LocalNames, source: Path,
                        grpc_fault_proxy: TcpFaultProxy) -> Iterator[str]:
    """ingest_events behind a Storage Write API that fails on demand, fed by its own topic."""
    env = {**function_env(stack.env(), names, CFG), "BIGQUERY_GRPC_EMULATOR_HOST": grpc_fault_proxy.target,
           "BIGQUERY_TIMEOUT_S": "1", "EVENTS_TOPIC": FAULTY_TOPIC}
    # A second server of the same target keeps its pid file and log in a state dir of its own.
    own = dataclasses.replace(CFG, state_dir=CFG.state_dir / "faulty")
    emulators.stop_stack(own)
    server = emulators.serve_function("ingest_events", source / "main.py", FAULTY_PORT, env, config=own)
    provision.create_routes(CFG.project, [provision.Route(FAULTY_TOPIC, server.url)])
    yield pubsub_v1.PublisherClient().topic_path(CFG.project, FAULTY_TOPIC)
    server.stop()


@pytest.fixture(scope="session")
def publisher(stack: emulators.Stack) -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


@pytest.fixture
def query(bq: bigquery.Client, names: LocalNames) -> Callable[..., list[dict[str, Any]]]:
    def run(sql: str, **params: Any) -> list[dict[str, Any]]:
        config = bigquery.QueryJobConfig(
            default_dataset=f"{CFG.project}.{names.dataset}",
            query_parameters=[bigquery.ScalarQueryParameter(k, "STRING", v) for k, v in params.items()])
        return [dict(row) for row in bq.query(sql, job_config=config).result()]
    return run


def eventually(probe: Callable[[], Any], timeout: float = 45.0, interval: float = 0.3) -> Any:
    """Poll until probe() is truthy; the last value is in the failure message."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
