"""Turns a message body or a file line into records.

Publishers batch to amortise the per-request function envelope, so a Pub/Sub message may hold
one JSON object, a JSON array of objects, or NDJSON, optionally gzipped (any number of gzip
members). Decoding never raises: what cannot be decoded becomes a record carrying its error.

Each record keeps its exact bytes: an NDJSON line as it was, an array element as the slice of
the message it occupied (msgspec's ``Raw`` finds the boundaries without re-serializing, so
``{"a":1,"a":2}`` is dead-lettered as sent, not as ``{"a":2}``).

A message is bounded before any record is made of it (``MAX_MESSAGE_BYTES`` once inflated,
``MAX_DECOMPRESSION_RATIO``, ``MAX_MESSAGE_RECORDS``): beyond a bound it is one
``oversized_message`` error holding the message, so a 47-byte gzip bomb is one dead-letter row,
not thousands, and never hundreds of MB of records in memory.
"""

from __future__ import annotations

import re

import msgspec
import orjson
import simdjson

from ingest.config import Settings
from ingest.errors import FailureKind, RecordError
from ingest.gzipstream import GzipError, GzipLimitExceeded, gunzip, is_gzip
from ingest.records import Record, SourceRef

UTF8_BOM = b"\xef\xbb\xbf"
_loads = orjson.loads
_tuple_new = tuple.__new__
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_NON_BLANK_LINE = re.compile(rb"^[ \t\r\f\v]*\S", re.MULTILINE)


def split_message(message: bytes, source: SourceRef, settings: Settings) -> list[Record]:
    """Every record of a message body, each with its index in the message. A failure of the
    message as a whole is one record holding the message exactly as received."""
    data = message
    if is_gzip(message):
        ratio_bound = int(settings.max_decompression_ratio * len(message))
        try:
            data = gunzip(message, min(settings.max_message_bytes, ratio_bound))
        except GzipLimitExceeded:
            if ratio_bound < settings.max_message_bytes:
                bound = (f"{len(message)} gzip bytes expand more than "
                         f"MAX_DECOMPRESSION_RATIO={settings.max_decompression_ratio:g} times")
            else:
                bound = f"it decompresses to more than MAX_MESSAGE_BYTES={settings.max_message_bytes} bytes"
            return [_whole(message, source, FailureKind.OVERSIZED_MESSAGE, f"message refused: {bound}")]
        except GzipError as error:
            return [_whole(message, source, FailureKind.UNDECODABLE_MESSAGE, f"bad gzip data: {error}")]
    elif len(message) > settings.max_message_bytes:
        return [_whole(message, source, FailureKind.OVERSIZED_MESSAGE,
                       f"message of {len(message)} bytes is above MAX_MESSAGE_BYTES={settings.max_message_bytes}")]
    # ``data``: the records as they were sent (the message, inflated when it was gzip).
    body = (data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data).strip()
    if body.startswith(b"["):
        return _array(message, body, source, settings)
    if body.count(b"\n") >= settings.max_message_records and _count_lines(body) > settings.max_message_records:
        return [_too_many(message, source, settings)]
    lines = [line for line in body.split(b"\n") if line and not line.isspace()]
    if len(lines) <= 1:
        return [_decoded(data, body, source, settings.max_record_bytes)]
    first = decode_line(lines[0], source.at(record_index=0), settings.max_record_bytes)
    if first.error is not None and len(body) <= settings.max_record_bytes:
        # A first line that is not a document of its own: one pretty-printed document?
        try:
            return [Record(raw=data, source=source, value=orjson.loads(body))]
        except orjson.JSONDecodeError:
            pass
    rest = lines[1:]
    if first.error is None and max(map(len, rest)) <= settings.max_record_bytes:
        try:  # every line a document (nearly always): one comprehension, no call per line of ours
            head, tail = source[:4], source[5:8] + (None,)  # SourceRef.at(record_index=i), inlined
            return [first] + [Record(line, _tuple_new(SourceRef, (*head, i, *tail)), _loads(line))
                              for i, line in enumerate(rest, 1)]
        except orjson.JSONDecodeError:
            pass  # the general path below says which line and why
    return [first] + [decode_line(line, source.at(record_index=i), settings.max_record_bytes)
                      for i, line in enumerate(rest, 1)]


def decode_line(raw: bytes, source: SourceRef, max_record_bytes: int) -> Record:
    """One JSON document (a single-record message or an NDJSON line)."""
    return _decoded(raw, raw, source, max_record_bytes)


def _decoded(raw: bytes, document: bytes, source: SourceRef, max_record_bytes: int) -> Record:
    """``document`` is ``raw`` without what surrounds the JSON text (a BOM, blank space)."""
    if len(raw) > max_record_bytes:
        return Record(raw=raw, source=source, error=_oversized(len(raw), max_record_bytes))
    try:
        return Record(raw, source, orjson.loads(document))  # positional: one per record, and cheaper
    except orjson.JSONDecodeError as error:
        return Record(raw=raw, source=source, error=RecordError.at(FailureKind.INVALID_JSON, "$",
                                                                   f"not valid JSON: {error}"))


def _array(message: bytes, body: bytes, source: SourceRef, settings: Settings) -> list[Record]:
    if body.count(b",") >= settings.max_message_records and _elements(body) > settings.max_message_records:
        return [_too_many(message, source, settings)]
    try:
        elements = _ARRAY.decode(body)
    except msgspec.DecodeError as error:
        return [_whole(message, source, FailureKind.INVALID_JSON, f"not a valid JSON array: {error}")]
    return [decode_line(bytes(element), source.at(record_index=i), settings.max_record_bytes)
            for i, element in enumerate(elements)]


def _elements(body: bytes) -> int:
    """Top-level elements of a JSON array, counted on simdjson's tape without making one Python
    object per element: 10 MiB of ``[1,1,...]`` would otherwise be 5 M objects (~300 MB) before
    the record bound could refuse them. 0 when it is not a valid array (msgspec then says why)."""
    try:
        document = simdjson.Parser().parse(body)
    except ValueError:
        return 0
    return len(document) if isinstance(document, simdjson.Array) else 0


def _count_lines(body: bytes) -> int:
    return sum(1 for _ in _NON_BLANK_LINE.finditer(body))


def _too_many(message: bytes, source: SourceRef, settings: Settings) -> Record:
    return _whole(message, source, FailureKind.OVERSIZED_MESSAGE,
                  f"message refused: more than MAX_MESSAGE_RECORDS={settings.max_message_records} records")


def _whole(message: bytes, source: SourceRef, kind: FailureKind, reason: str) -> Record:
    return Record(raw=message, source=source, error=RecordError.at(kind, "$", reason))


def _oversized(size: int, limit: int) -> RecordError:
    return RecordError.at(FailureKind.OVERSIZED, "$", f"record is {size} bytes, above MAX_RECORD_BYTES={limit}")
