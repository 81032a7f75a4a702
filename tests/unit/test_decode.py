import gzip

import orjson
import pytest

from ingest.config import Settings
from ingest.decode import decode_line, split_message
from ingest.records import SourceRef

SRC = SourceRef(kind="pubsub", topic="tracking-events", message_id="m1")


def _split(data: bytes, max_record: int = 1024, max_message: int = 65_536, max_records: int = 1000,
           ratio: float = 100):
    settings = Settings(max_record_bytes=max_record, max_message_bytes=max_message, max_message_records=max_records,
                        max_decompression_ratio=ratio)
    return split_message(data, SRC, settings)


def _kinds(records) -> list[str | None]:
    return [r.error.kind if r.error else None for r in records]


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
    assert _kinds(records) == [None, "invalid_json", None]
    assert records[1].raw == b"not json" and records[2].source.record_index == 2


def test_gzip_batch_is_inflated():
    records = _split(gzip.compress(b'{"a":1}\n{"a":2}\n'))
    assert [r.value for r in records] == [{"a": 1}, {"a": 2}]


def test_every_member_of_a_multi_member_gzip_message_is_decoded():
    data = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}')
    assert [r.value for r in _split(data)] == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_gzip_bomb_is_refused_whole_not_inflated():
    bomb = gzip.compress(b" " * 500_000)
    [record] = _split(bomb, max_message=1_000_000, ratio=100)
    assert record.error.kind == "oversized_message" and record.raw == bomb
    assert "MAX_DECOMPRESSION_RATIO=100" in record.error.reasons[0].message


def test_a_gzip_message_inflating_past_the_byte_bound_is_one_error():
    data = gzip.compress(b"\n".join(orjson.dumps({"n": i, "pad": "x" * 50}) for i in range(2000)))
    [record] = _split(data, max_message=65_536, ratio=1000)
    assert record.error.kind == "oversized_message" and "MAX_MESSAGE_BYTES=65536" in record.error.reasons[0].message


def test_a_47_byte_bomb_of_3000_records_is_one_error_not_3000():
    bomb = gzip.compress(b"{}\n" * 3000, 9)
    assert len(bomb) < 60
    assert _kinds(_split(bomb, ratio=100)) == ["oversized_message"]


@pytest.mark.parametrize("body", [b"{}\n" * 1001, b"[" + b",".join([b"{}"] * 1001) + b"]"])
def test_more_records_than_the_bound_is_one_error(body):
    [record] = _split(body, max_records=1000)
    assert record.error.kind == "oversized_message" and "MAX_MESSAGE_RECORDS=1000" in record.error.reasons[0].message
    assert len(_split(body, max_records=1001)) == 1001


def test_blank_lines_do_not_count_against_the_record_bound():
    assert len(_split(b"{}\n\n\n" * 1000, max_records=1000)) == 1000


def test_corrupt_gzip_is_an_error_record():
    [record] = _split(b"\x1f\x8b" + b"garbage")
    assert record.error.kind == "undecodable_message"


def test_oversized_record_is_not_parsed():
    record = decode_line(b'{"a":"' + b"x" * 2000 + b'"}', SRC, 1000)
    assert record.error.kind == "oversized" and record.value is None


def test_array_elements_over_the_record_limit_are_oversized_and_at_the_limit_are_not():
    at_limit = b'{"a":"' + b"x" * (1024 - 8) + b'"}'
    assert len(at_limit) == 1024
    records = _split(b"[" + at_limit + b"," + at_limit[:-2] + b'x"}' + b"]", max_record=1024)
    assert _kinds(records) == [None, "oversized"]


def test_unparsable_array_is_one_error_with_the_whole_payload():
    [record] = _split(b'[{"a":1},')
    assert record.error.kind == "invalid_json" and record.raw == b'[{"a":1},'


def test_array_elements_keep_their_exact_bytes():
    records = _split(b'[ {"a":1,"a":2,"b":1E2} ,\n {"c": "\\u00e9"}]')
    assert [r.raw for r in records] == [b'{"a":1,"a":2,"b":1E2}', b'{"c": "\\u00e9"}']
    assert records[0].value == {"a": 2, "b": 100.0}


def test_a_byte_order_mark_is_not_part_of_the_json():
    [record] = _split(b"\xef\xbb\xbf" + b'{"a": 1}')
    assert record.value == {"a": 1} and record.raw == b"\xef\xbb\xbf" + b'{"a": 1}'
    assert [r.value for r in _split(b"\xef\xbb\xbf" + b'{"a":1}\n{"a":2}')] == [{"a": 1}, {"a": 2}]
