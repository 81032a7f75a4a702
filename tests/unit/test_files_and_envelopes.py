import base64
import gzip
import io

import pytest

from ingest.envelopes import pubsub_message, storage_object
from ingest.errors import RecordError
from ingest.files import iter_lines, open_lines, plan_object


def test_lines_are_numbered_and_blank_lines_skipped():
    stream = open_lines(io.BytesIO(b'{"a":1}\r\n\n{"b":2}'))
    assert list(iter_lines(stream, 100)) == [(1, b'{"a":1}', 7), (3, b'{"b":2}', 7)]


def test_runaway_line_is_cut_and_measured_without_reading_it_whole():
    stream = open_lines(io.BytesIO(b"x" * 5000 + b"\n" + b'{"ok":1}\n'))
    [(n1, first, size1), (n2, second, _)] = list(iter_lines(stream, 100))
    assert (n1, len(first), size1) == (1, 100, 5000)
    assert (n2, second) == (2, b'{"ok":1}')


def test_gzip_is_recognised_by_content_not_name():
    stream = open_lines(io.BytesIO(gzip.compress(b'{"a":1}\n')))
    assert [line for _, line, _ in iter_lines(stream, 100)] == [b'{"a":1}']


@pytest.mark.parametrize("name,contract,problem", [
    ("events/2026/11/23/a.ndjson", "pro_event", None),
    ("logs/x.jsonl.gz", "pro_log", None),
    ("userpilot/export.json", "userpilot_event", None),
    ("userpilot/export.csv", "userpilot_event", "unsupported_format"),
    ("other/a.ndjson", None, "unknown_contract"),
    ("a.ndjson", None, "unknown_contract"),
])
def test_object_name_picks_the_contract(name, contract, problem):
    plan = plan_object(name)
    assert plan.contract == contract and plan.error_type == problem and not plan.ignored


@pytest.mark.parametrize("name", ["processed/events/a.ndjson", "quarantine/x.csv"])
def test_archive_prefixes_are_ignored_not_dead_lettered(name):
    plan = plan_object(name)
    assert plan.ignored and plan.problem is None


def _pubsub(data: bytes, **attributes):
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes,
                        "messageId": "42", "publishTime": "2026-11-23T10:00:00.5Z"}}


def test_pubsub_envelope():
    message = pubsub_message("//pubsub.googleapis.com/projects/p/topics/tracking-events", _pubsub(b"{}", a="1"), "x")
    assert message.data == b"{}" and message.attributes == {"a": "1"}
    assert message.source.uri() == "pubsub://tracking-events/42" and message.publish_time.microsecond == 500000


def test_emulator_envelope_without_topic_uses_the_configured_name():
    assert pubsub_message("//pubsub.googleapis.com/", _pubsub(b"{}"), "fallback").source.topic == "fallback"


@pytest.mark.parametrize("data", [None, {}, {"message": {"data": "***"}}])
def test_unusable_envelope_is_a_record_error(data):
    with pytest.raises(RecordError):
        pubsub_message(None, data, "t")


def test_storage_finalize_from_eventarc_and_from_a_bucket_notification():
    direct = storage_object("google.cloud.storage.object.v1.finalized",
                            {"bucket": "b", "name": "events/a.ndjson", "generation": "123"}, "t", None)
    assert (direct.bucket, direct.name, direct.generation) == ("b", "events/a.ndjson", 123)
    via_pubsub = storage_object("google.cloud.pubsub.topic.v1.messagePublished",
                                _pubsub(b"{}", eventType="OBJECT_FINALIZE", bucketId="b", objectId="logs/a.ndjson",
                                        objectGeneration="9"), "t", None)
    assert (via_pubsub.bucket, via_pubsub.name, via_pubsub.generation) == ("b", "logs/a.ndjson", 9)
    deleted = storage_object("google.cloud.pubsub.topic.v1.messagePublished",
                             _pubsub(b"{}", eventType="OBJECT_DELETE", bucketId="b", objectId="x", objectGeneration="1"),
                             "t", None)
    assert deleted is None


@pytest.mark.parametrize("event_type,data", [
    ("google.cloud.storage.object.v1.finalized", {"bucket": "b"}),
    ("google.cloud.storage.object.v1.finalized", {"bucket": "b", "name": "x", "generation": "abc"}),
    ("google.cloud.pubsub.topic.v1.messagePublished", _pubsub(b"{}", eventType="OBJECT_FINALIZE", bucketId="b")),
])
def test_storage_event_without_an_object_is_a_record_error_not_a_crash(event_type, data):
    with pytest.raises(RecordError):
        storage_object(event_type, data, "t", None)
