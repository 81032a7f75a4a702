import base64
import gzip
import io

import pytest

from ingest.envelopes import pubsub_message, storage_object
from ingest.errors import RecordError
from ingest.files import Line, LineStream, plan_object, read_lines
from ingest.gzipstream import GzipLimitExceeded


def _lines(data: bytes, limit: int = 100, ratio: float = 100) -> list[Line]:
    return list(read_lines(io.BytesIO(data).read, max_line_bytes=limit, max_ratio=ratio))


def test_lines_are_numbered_and_blank_lines_skipped():
    assert _lines(b'{"a":1}\r\n\n{"b":2}') == [Line(1, b'{"a":1}', 7, 9), Line(3, b'{"b":2}', 7, 17)]


@pytest.mark.parametrize("compress", [False, True])
def test_reading_resumes_after_any_line_where_it_left_off(compress):
    body = b"\xef\xbb\xbf" + b"\n".join(b'{"n":%d}' % i for i in range(2000)) + b"\n\n" + b"x" * 300 + b"\nlast"
    data = gzip.compress(body) if compress else body
    whole = _lines(data, limit=200)
    for done in (whole[0], whole[1234], whole[-2]):
        stream = io.BytesIO(data)
        if not compress:
            stream.seek(done.end)
        rest = list(LineStream(stream.read, max_line_bytes=200, max_ratio=100, first_line=done.number,
                               offset=done.end, skip=done.end if compress else 0))
        assert rest == whole[whole.index(done) + 1:]


def test_runaway_line_is_cut_and_measured_without_reading_it_whole():
    first, second = _lines(b"x" * 5000 + b"\n" + b'{"ok":1}\n')
    assert (first.number, len(first.data), first.length) == (1, 100, 5000)
    assert (second.number, second.data) == (2, b'{"ok":1}')


def test_lines_split_across_read_chunks_are_whole():
    body = b"\n".join(b'{"n":%d,"pad":"%s"}' % (i, b"p" * (i % 700)) for i in range(3000))
    lines = _lines(gzip.compress(body), limit=1000)
    assert [line.data for line in lines] == body.split(b"\n")


def test_gzip_is_recognised_by_content_not_name():
    assert [line.data for line in _lines(gzip.compress(b'{"a":1}\n'))] == [b'{"a":1}']


def test_every_member_of_a_multi_member_gzip_file_is_read():
    lines = _lines(gzip.compress(b'{"a":1}\n') + gzip.compress(b'{"b":2}\n{"c":3}') + b"\0" * 10)
    assert [(line.number, line.data) for line in lines] == [(1, b'{"a":1}'), (2, b'{"b":2}'), (3, b'{"c":3}')]
    assert not any(line.broken for line in lines)


def test_a_truncated_gzip_file_yields_every_readable_line_then_the_break_once():
    body = b"\n".join(b'{"n":%d}' % i for i in range(50_000))
    compressed = gzip.compress(body)
    lines = _lines(compressed[: len(compressed) // 2])
    *read, last = lines
    assert [line.data for line in read] == body.split(b"\n")[: len(read)]
    assert last.broken is not None and "truncated" in str(last.broken)
    assert last.number == len(read) + 1 and body.split(b"\n")[len(read)].startswith(last.data)


def test_trailing_garbage_after_a_gzip_file_is_a_break_after_all_lines():
    lines = _lines(gzip.compress(b'{"a":1}\n{"b":2}\n') + b"garbage")
    assert [line.data for line in lines[:2]] == [b'{"a":1}', b'{"b":2}']
    assert lines[2].broken is not None and lines[2].number == 3 and "garbage" in str(lines[2].broken)


def test_corrupt_gzip_keeps_what_precedes_the_corruption():
    body = b"\n".join(b'{"n":%d}' % i for i in range(100_000))
    compressed = gzip.compress(body)
    lines = _lines(compressed[:3000] + b"x" * 50 + compressed[3050:])
    *read, last = lines
    assert len(read) > 500 and [line.data for line in read] == body.split(b"\n")[: len(read)]
    assert "corrupt" in str(last.broken)


def test_a_decompression_bomb_file_stops_at_its_ratio():
    lines = _lines(gzip.compress(b"{}\n" * 3_000_000), ratio=100)
    assert isinstance(lines[-1].broken, GzipLimitExceeded)
    assert len(lines) < 700_000  # stopped early: about 100 × 9 kB + the slack, not 3 M lines


@pytest.mark.parametrize("name,contract,problem,file_format", [
    ("events/2026/11/23/a.ndjson", "pro_event", None, "ndjson"),
    ("logs/x.jsonl.gz", "pro_log", None, "ndjson"),
    ("userpilot/export.json", "userpilot_event", None, "json"),
    ("userpilot/export.CSV.gz", "userpilot_event", None, "csv"),
    ("userpilot/export.xlsx", "userpilot_event", "unsupported_format", "ndjson"),
    ("other/a.ndjson", None, "unknown_contract", "ndjson"),
    ("a.ndjson", None, "unknown_contract", "ndjson"),
])
def test_object_name_picks_the_contract_and_the_format(name, contract, problem, file_format):
    plan = plan_object(name)
    assert plan.contract == contract and plan.kind == problem and not plan.ignored
    assert plan.format == file_format


@pytest.mark.parametrize("name", ["processed/events/a.ndjson", "quarantine/x.csv", "reports/events/a.json#3.json"])
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


@pytest.mark.parametrize("data", [
    None, {}, {"message": {"data": "***"}}, {"message": {"data": 12}}, {"message": "x"},
    {"message": {"data": "e30=", "publishTime": "yesterday"}}, {"message": {"data": "e30=", "publishTime": 5}},
    {"message": {"data": "e30=", "attributes": ["a"]}}, {"message": {"data": "e30=", "attributes": {"a": 1}}},
])
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
    ("google.cloud.storage.object.v1.finalized", {"bucket": {"b": 1}, "name": "x", "generation": "1"}),
    ("google.cloud.storage.object.v1.finalized", ["not", "an", "object"]),
    ("google.cloud.pubsub.topic.v1.messagePublished", _pubsub(b"{}", eventType="OBJECT_FINALIZE", bucketId="b")),
])
def test_storage_event_without_an_object_is_a_record_error_not_a_crash(event_type, data):
    with pytest.raises(RecordError):
        storage_object(event_type, data, "t", None)
