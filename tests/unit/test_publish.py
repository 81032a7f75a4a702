"""The publisher makes what the functions accept (checked through the real decoder), within
their bounds, and its flush neither returns before Pub/Sub accepted nor hides a loss."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest
from google.api_core import exceptions

from ingest.config import Settings
from ingest.decode import split_message
from ingest.publish import EventTooLarge, Publisher, PublishFailed, publish
from ingest.records import SourceRef

SETTINGS = Settings(max_record_bytes=2048, max_message_bytes=65_536, max_message_records=1000,
                    max_decompression_ratio=100.0)
TOPIC = "projects/p/topics/events"


class FakeClient:
    """Pub/Sub as the publisher sees it: futures resolved later, and failing the ways it does
    (a refusal, a deadline, a dropped connection) for the messages listed in ``fail``."""

    def __init__(self, fail: dict[int, BaseException] | None = None, resolve: bool = True) -> None:
        self.fail, self.resolve = fail or {}, resolve
        self.messages: list[bytes] = []
        self.futures: list[Future[str]] = []
        self.lock = threading.Lock()

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future[str]:
        with self.lock:
            index = len(self.messages)
            self.messages.append(data)
            future: Future[str] = Future()
            self.futures.append(future)
        if self.resolve:
            self.settle(index)
        return future

    def settle(self, index: int) -> None:
        error = self.fail.get(index)
        if error is None:
            self.futures[index].set_result(f"id-{index}")
        else:
            self.futures[index].set_exception(error)

    def records(self) -> list[dict]:
        return [r.value for m in self.messages for r in split_message(m, SourceRef(kind="pubsub"), SETTINGS)]


def _events(n: int, pad: int = 0) -> list[dict]:
    return [{"event_name": "page_view", "i": i, "pad": "x" * pad} for i in range(n)]


def test_every_event_round_trips_through_the_functions_decoder_in_order():
    client = FakeClient()
    summary = publish(_events(1234), TOPIC, client=client, settings=SETTINGS, max_records=100)
    assert [r["i"] for r in client.records()] == list(range(1234))
    assert summary.events == 1234 and summary.messages == 13 == len(client.messages)
    assert all(m[:2] == b"\x1f\x8b" for m in client.messages)
    assert summary.bytes_out < summary.bytes_in


def test_messages_respect_record_and_byte_bounds():
    client = FakeClient()
    publish(_events(300, pad=500), TOPIC, client=client, settings=SETTINGS, max_records=1000, gzip=False)
    sizes = [len(m) for m in client.messages]
    assert max(sizes) <= SETTINGS.max_message_bytes and len(sizes) > 1
    assert [r["i"] for r in client.records()] == list(range(300))
    assert not any(r is None for r in client.records())


def test_record_bound_is_the_functions_own():
    with pytest.raises(ValueError, match="MAX_MESSAGE_RECORDS"):
        Publisher(TOPIC, client=FakeClient(), settings=SETTINGS, max_records=SETTINGS.max_message_records + 1)


def test_highly_compressible_message_stays_within_the_decompression_ratio():
    client = FakeClient()
    low_ratio = Settings(max_record_bytes=2048, max_message_bytes=65_536, max_message_records=1000,
                         max_decompression_ratio=2.0)
    publish([{"pad": "a" * 1500}] * 20, TOPIC, client=client, settings=low_ratio)
    for message in client.messages:
        records = split_message(message, SourceRef(kind="pubsub"), low_ratio)
        assert all(r.error is None for r in records)


def test_an_event_too_large_is_refused_alone():
    client = FakeClient()
    with Publisher(TOPIC, client=client, settings=SETTINGS) as publisher:
        publisher.add({"i": 0})
        with pytest.raises(EventTooLarge):
            publisher.add({"i": 1, "pad": "x" * 5000})
        publisher.add({"i": 2})
    assert [r["i"] for r in client.records()] == [0, 2]


def test_latency_bound_sends_without_flush():
    client = FakeClient()
    publisher = Publisher(TOPIC, client=client, settings=SETTINGS, max_latency=0.05)
    publisher.add({"i": 0})
    deadline = time.monotonic() + 2
    while not client.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(client.messages) == 1
    publisher.flush()


def test_flush_waits_for_acceptance():
    client = FakeClient(resolve=False)
    publisher = Publisher(TOPIC, client=client, settings=SETTINGS, max_latency=None)
    publisher.add({"i": 0})
    done = threading.Event()
    threading.Thread(target=lambda: (publisher.flush(), done.set()), daemon=True).start()
    assert not done.wait(0.2)
    client.settle(0)
    assert done.wait(2)


@pytest.mark.parametrize("error", [exceptions.PermissionDenied("refused"), exceptions.DeadlineExceeded("slow"),
                                   exceptions.ServiceUnavailable("connection dropped"), ConnectionResetError()])
def test_flush_names_the_events_lost(error):
    client = FakeClient(fail={1: error})
    publisher = Publisher(TOPIC, client=client, settings=SETTINGS, max_records=10, max_latency=None)
    publisher.add_all(_events(25))
    with pytest.raises(PublishFailed) as raised:
        publisher.flush()
    assert raised.value.events == 10
    assert [(f.first, f.events) for f in raised.value.failures] == [(10, 10)]
    assert "events 10..19" in str(raised.value)


def test_pre_encoded_bytes_are_accepted_and_pretty_printed_ones_flattened():
    client = FakeClient()
    publish([b'{"i": 0}', b'{\n  "i": 1\n}'], TOPIC, client=client, settings=SETTINGS)
    assert [r["i"] for r in client.records()] == [0, 1]


def _run_cli(monkeypatch, path, *options: str):
    from click.testing import CliRunner

    from ingest.cli import main
    client = FakeClient()
    monkeypatch.setattr("ingest.publish.default_client", lambda: client)
    monkeypatch.setenv("MAX_RECORD_BYTES", "2048")
    return CliRunner().invoke(main, ["publish", str(path), "--topic", "t", *options]), client


@pytest.mark.parametrize("name,body", [
    ("e.ndjson", b'{"i": 0}\n\n{"i": 1}\n'),
    ("e.json", b'[{"i": 0}, {"i": 1}]'),
    ("e.ndjson.gz", __import__("gzip").compress(b'{"i": 0}\n{"i": 1}\n')),
])
def test_command_publishes_ndjson_arrays_and_gzip_files(monkeypatch, tmp_path, name, body):
    (tmp_path / name).write_bytes(body)
    result, client = _run_cli(monkeypatch, tmp_path / name, "--batch", "1")
    assert result.exit_code == 0, result.output
    assert [r["i"] for r in client.records()] == [0, 1] and len(client.messages) == 2
    assert "published 2 events in 2 messages" in result.output


def test_command_names_bad_lines_publishes_the_rest_and_exits_1(monkeypatch, tmp_path):
    (tmp_path / "e.ndjson").write_bytes(b'{"i": 0}\nnot json\n{"i": 2, "pad": "' + b"x" * 3000 + b'"}\n{"i": 3}\n')
    result, client = _run_cli(monkeypatch, tmp_path / "e.ndjson")
    assert result.exit_code == 1
    assert "line 2:" in result.output and "line 3:" in result.output
    assert [r["i"] for r in client.records()] == [0, 3]


def test_command_refuses_a_batch_above_the_functions_bound_with_exit_2(monkeypatch, tmp_path):
    (tmp_path / "e.ndjson").write_bytes(b'{"i": 0}\n')
    result, _ = _run_cli(monkeypatch, tmp_path / "e.ndjson", "--batch", "20000")
    assert result.exit_code == 2 and "MAX_MESSAGE_RECORDS" in result.output
