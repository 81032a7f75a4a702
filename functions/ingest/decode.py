"""Turns a message body or a file line into records.

Publishers batch to amortise the ~0.5 ms per-request function envelope, so a Pub/Sub
message may hold one JSON object, a JSON array of objects, or NDJSON, optionally gzipped.
Decoding never raises: what cannot be decoded becomes a record carrying its error.
"""

from __future__ import annotations

import zlib

import orjson

from ingest.errors import Reason, RecordError
from ingest.records import Record, SourceRef

GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip member, refusing to inflate past ``limit`` bytes."""
    inflater = zlib.decompressobj(wbits=31)
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise RecordError("oversized", [Reason("$", f"decompresses to more than {limit} bytes")])
    return out + inflater.flush()


def split_message(data: bytes, source: SourceRef, max_record_bytes: int,
                  max_message_bytes: int) -> list[Record]:
    """Every record of a message body, each with its index in the message."""
    if data[:2] == GZIP_MAGIC:
        try:
            data = gunzip(data, max_message_bytes)
        except RecordError as error:
            return [Record(raw=data, source=source, error=error)]
        except zlib.error as error:
            return [Record(raw=data, source=source,
                           error=RecordError("undecodable_message", [Reason("$", f"bad gzip data: {error}")]))]
    body = data.strip()
    if body.startswith(b"["):
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return [_invalid_json(data, source, error)]
        return [
            _check_size(Record(raw=orjson.dumps(item), source=source.at(record_index=i), value=item),
                        max_record_bytes)
            for i, item in enumerate(items)
        ]
    lines = [line for line in body.split(b"\n") if line and not line.isspace()]
    if len(lines) <= 1:
        return [decode_line(data, source, max_record_bytes)]
    first = decode_line(lines[0], source.at(record_index=0), max_record_bytes)
    if first.error is not None and len(body) <= max_record_bytes:
        # A first line that is not a document of its own: one pretty-printed document?
        try:
            return [Record(raw=data, source=source, value=orjson.loads(body))]
        except orjson.JSONDecodeError:
            pass
    return [first] + [decode_line(line, source.at(record_index=i), max_record_bytes)
                      for i, line in enumerate(lines[1:], 1)]


def decode_line(raw: bytes, source: SourceRef, max_record_bytes: int) -> Record:
    """One JSON document (a single-record message or an NDJSON line)."""
    if len(raw) > max_record_bytes:
        return Record(raw=raw, source=source, error=_oversized(len(raw), max_record_bytes))
    try:
        return Record(raw=raw, source=source, value=orjson.loads(raw))
    except orjson.JSONDecodeError as error:
        return _invalid_json(raw, source, error)


def _check_size(record: Record, limit: int) -> Record:
    if len(record.raw) > limit:
        record.error = _oversized(len(record.raw), limit)
    return record


def _oversized(size: int, limit: int) -> RecordError:
    return RecordError("oversized", [Reason("$", f"record is {size} bytes, limit is {limit}")])


def _invalid_json(raw: bytes, source: SourceRef, error: orjson.JSONDecodeError) -> Record:
    return Record(raw=raw, source=source,
                  error=RecordError("invalid_json", [Reason("$", f"not valid JSON: {error}")]))
