import gzip

import orjson

from ingest.decode import decode_line, split_message
from ingest.records import SourceRef

SRC = SourceRef(kind="pubsub", topic="tracking-events", message_id="m1")


def _split(data: bytes, max_record: int = 1000, max_message: int = 10_000):
    return split_message(data, SRC, max_record, max_message)


def test_single_object_keeps_exact_bytes():
    data = b'{"a": 1}'
    [record] = _split(data)
    assert record.value == {"a": 1} and record.raw == data and record.source.record_index is None


def test_pretty_printed_object_is_one_record_not_ndjson():
    [record] = _split(b'{\n  "a": 1,\n  "b": [2]\n}\n')
    assert record.error is None and record.value == {"a": 1, "b": [2]}


def test_array_gives_one_record_per_element_with_its_index():
    records = _split(orjson.dumps([{"a": 1}, {"b": 2}, 3]))
    assert [r.value for r in records] == [{"a": 1}, {"b": 2}, 3]
    assert [r.source.record_index for r in records] == [0, 1, 2]
    assert records[1].raw == b'{"b":2}'


def test_ndjson_bad_line_is_isolated():
    records = _split(b'{"a":1}\nnot json\n\n{"c":3}\n')
    assert [r.error.error_type if r.error else None for r in records] == [None, "invalid_json", None]
    assert records[1].raw == b"not json" and records[2].source.record_index == 2


def test_gzip_batch_is_inflated():
    records = _split(gzip.compress(b'{"a":1}\n{"a":2}\n'))
    assert [r.value for r in records] == [{"a": 1}, {"a": 2}]


def test_gzip_bomb_is_refused_not_inflated():
    [record] = _split(gzip.compress(b" " * 50_000), max_message=10_000)
    assert record.error.error_type == "oversized"


def test_corrupt_gzip_is_an_error_record():
    [record] = _split(b"\x1f\x8b" + b"garbage")
    assert record.error.error_type == "undecodable_message"


def test_oversized_record_is_not_parsed():
    record = decode_line(b'{"a":"' + b"x" * 2000 + b'"}', SRC, 1000)
    assert record.error.error_type == "oversized" and record.value is None


def test_unparsable_array_is_one_error_with_the_whole_payload():
    [record] = _split(b'[{"a":1},')
    assert record.error.error_type == "invalid_json" and record.raw == b'[{"a":1},'
