"""Log lines in Cloud Logging's structured format, through the real functions-framework app."""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
from functions_framework import create_app

from ingest import clients
from ingest.config import Settings
from ingest.logs import LABELS, SPAN, TRACE, log
from ingest.pipeline import Pipeline
from tests.support.fake_writer import FakeWriter

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
EVENT = orjson.loads((Path(__file__).resolve().parents[2] / "schemas/pro_event/examples/ga4_export.pass.json").read_bytes())
PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


class BrokenWriter(FakeWriter):
    """Fails the way a bug would: not a TransientError."""

    def insert(self, table, rows):
        raise KeyError("a bug in the sink")


def _lines(text: str) -> list[dict]:
    """Every line of the output must be one JSON object."""
    return [orjson.loads(line) for line in text.splitlines()]


def _publish(target: str, data: bytes, message_id: str = "4242", headers: dict | None = None):
    client = create_app(target, MAIN, "cloudevent").test_client()
    body = {"message": {"messageId": message_id, "publishTime": "2026-11-23T10:00:00Z",
                        "data": base64.b64encode(data).decode()}}
    return client.post("/", json=body, headers={
        "ce-id": message_id, "ce-specversion": "1.0", "ce-type": PUBLISHED,
        "ce-source": "//pubsub.googleapis.com/projects/local-dev/topics/tracking-events", **(headers or {})})


def _use(monkeypatch, writer: FakeWriter) -> None:
    monkeypatch.setattr(clients, "pipeline", lambda: Pipeline(Settings(), writer))


def test_a_line_has_severity_time_message_and_its_fields(capsys):
    log("WARNING", "something_happened", "what happened", count=3)
    [line] = _lines(capsys.readouterr().out)
    assert line["severity"] == "WARNING" and line["message"] == "what happened" and line["count"] == 3
    assert line["event"] == "something_happened"
    stamp = datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
    assert line["time"].endswith("Z") and abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 5
    assert LABELS not in line, "outside an invocation there is no context"


def test_a_crash_is_one_structured_line_with_the_message_id_and_the_stack(monkeypatch, capsys):
    _use(monkeypatch, BrokenWriter())
    response = _publish("ingest_events", orjson.dumps(EVENT), message_id="4242")
    assert response.status_code == 500, "a failure must still be redelivered"
    out, err = capsys.readouterr()
    assert "Traceback" not in err, f"functions-framework printed its own traceback:\n{err}"
    traced = [line for line in _lines(out) if "a bug in the sink" in orjson.dumps(line).decode()]
    assert len(traced) == 1, f"one line for one crash:\n{out}"
    [crash] = traced
    assert crash["event"] == "invocation_failed"
    assert crash["severity"] == "ERROR" and crash["error_type"] == "KeyError" and crash["transient"] is False
    assert crash[LABELS] == {"function": "ingest_events", "contract": "pro_event", "message_id": "4242",
                             "publish_time": "2026-11-23T10:00:00Z", "event_id": "4242"}
    assert crash["stack_trace"].startswith("Traceback (most recent call last):")
    assert "KeyError: 'a bug in the sink'" in crash["stack_trace"] and "\n" not in out.splitlines()[0]
    assert "ingest_events" in crash["message"]


def test_a_transient_failure_is_logged_as_such(monkeypatch, capsys):
    writer = FakeWriter()
    writer.fail_next = 1
    _use(monkeypatch, writer)
    assert _publish("ingest_logs", b'{"message": "x"}').status_code == 500
    [crash] = [line for line in _lines(capsys.readouterr().out) if line["event"] == "invocation_failed"]
    assert crash["transient"] is True and crash["error_type"] == "TransientError"
    assert crash[LABELS]["function"] == "ingest_logs" and crash[LABELS]["contract"] == "pro_log"


def test_every_line_of_an_invocation_carries_its_context_and_trace(monkeypatch, capsys):
    _use(monkeypatch, FakeWriter())
    trace = "0af7651916cd43dd8448eb211c80319c"
    response = _publish("ingest_events", orjson.dumps(EVENT), message_id="99",
                        headers={"X-Cloud-Trace-Context": f"{trace}/1234;o=1"})
    assert response.status_code == 200
    lines = _lines(capsys.readouterr().out)
    [ingested] = [line for line in lines if line["event"] == "ingested"]
    assert ingested[LABELS]["message_id"] == "99" and ingested[LABELS]["function"] == "ingest_events"
    assert ingested[TRACE] == f"projects/local-dev/traces/{trace}" and ingested[SPAN] == f"{1234:016x}"
    log("INFO", "after", "after the request")
    assert LABELS not in _lines(capsys.readouterr().out)[0], "the context ends with the invocation"


def test_w3c_traceparent_wins(monkeypatch, capsys):
    _use(monkeypatch, FakeWriter())
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    _publish("ingest_events", orjson.dumps(EVENT), headers={"traceparent": f"00-{trace}-{span}-01",
                                                            "X-Cloud-Trace-Context": "f" * 32 + "/1;o=1"})
    [ingested] = [line for line in _lines(capsys.readouterr().out) if line["event"] == "ingested"]
    assert ingested[TRACE].endswith(trace) and ingested[SPAN] == span


def test_a_storage_event_is_labelled_with_its_object_and_generation(monkeypatch, capsys):
    _use(monkeypatch, BrokenWriter())
    client = create_app("ingest_file", MAIN, "cloudevent").test_client()
    response = client.post("/", json={"bucket": "partner-drops", "name": "misc/x.ndjson", "generation": "17"},
                           headers={"ce-id": "e1", "ce-specversion": "1.0",
                                    "ce-type": "google.cloud.storage.object.v1.finalized",
                                    "ce-source": "//storage.googleapis.com/projects/_/buckets/partner-drops",
                                    "ce-subject": "objects/misc/x.ndjson"})
    assert response.status_code == 500
    [crash] = [line for line in _lines(capsys.readouterr().out) if line["event"] == "invocation_failed"]
    assert crash[LABELS] == {"function": "ingest_file", "bucket": "partner-drops", "object": "misc/x.ndjson",
                             "generation": "17", "event_id": "e1"}


@pytest.fixture
def library_logger():
    from ingest.logs import route_standard_logging

    route_standard_logging()
    yield logging.getLogger("google.api_core.retry")


def test_standard_logging_comes_out_in_the_same_format(library_logger, capsys):
    try:
        raise ConnectionError("reset")
    except ConnectionError:
        library_logger.warning("retrying in %ss", 2, exc_info=True)
    [line] = _lines(capsys.readouterr().out)
    assert line["severity"] == "WARNING" and line["message"] == "retrying in 2s" and line["event"] == "library_log"
    assert line["logger"] == "google.api_core.retry" and "ConnectionError: reset" in line["stack_trace"]


def test_client_libraries_logs_still_come_out_once_after_a_client_set_up_its_logging(library_logger, capsys):
    from google.api_core import client_logging

    client_logging.setup_logging()  # what making a Google client does
    logging.getLogger("google.cloud.bigquery").warning("quota nearly exhausted")
    [line] = _lines(capsys.readouterr().out)
    assert line["message"] == "quota nearly exhausted" and line["logger"] == "google.cloud.bigquery"


@pytest.mark.parametrize(("level", "written"), [("WARNING", ["WARNING", "ERROR"]), ("DEBUG", ["DEBUG", "INFO", "WARNING",
                                                                                              "ERROR"])])
def test_lines_below_the_log_level_are_not_written(monkeypatch, capsys, level, written):
    from ingest import config

    monkeypatch.setattr(config, "settings", lambda: Settings(log_level=level))
    for severity in ("DEBUG", "INFO", "WARNING", "ERROR"):
        log(severity, "probe")
    assert [line["severity"] for line in _lines(capsys.readouterr().out)] == written
