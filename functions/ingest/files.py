"""Partner files in Cloud Storage: which contract an object is for, and its lines as a stream.

Objects are read in chunks and split into lines as they arrive (gzip inflated on the fly by the
one gzip reader), so a file of any size costs the memory of one chunk plus one batch of lines.
A stream that breaks — truncated or corrupt gzip, trailing garbage, a decompression bomb — ends
with one ``Line`` that says why, after every line that could be read; the bytes of the line it
broke in are kept with it. Errors of the download itself are not caught here: they are transient.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Iterator, NamedTuple, Protocol

from ingest.decode import UTF8_BOM
from ingest.errors import FailureKind, RecordError
from ingest.gzipstream import CHUNK_BYTES, GzipError, Read, inflate, is_gzip
from ingest.ledger import DocumentStore

PREFIX_CONTRACTS = {"events": "pro_event", "logs": "pro_log", "userpilot": "userpilot_event"}
"""First path segment of the object name → contract."""

IGNORED_PREFIXES = frozenset({"processed", "quarantine", "reports"})
"""Where handled and rejected files are kept (bucket lifecycle rules expire them) and where the
pipeline writes its reports on files: an object there is not a drop to ingest."""
REPORTS_PREFIX = "reports"

class Format(StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"
    JSON = "json"
    """A JSON array of records, or NDJSON: told apart by the file's first character."""


SUFFIX_FORMATS = {".ndjson": Format.NDJSON, ".jsonl": Format.NDJSON, ".json": Format.JSON, ".csv": Format.CSV}
"""Extension (before an optional ``.gz``) → format. Gzip itself is recognised by its content."""


class ObjectMissing(Exception):
    """The notified generation is gone (deleted or overwritten before we read it)."""


class FileFormatError(Exception):
    """The file cannot be read further in its format (a CSV header naming a column twice, a JSON
    array broken in the middle): every record before ``line`` was read, the rest cannot be."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class ObjectInfo(NamedTuple):
    size: int
    md5: str | None
    crc32c: str | None
    metadata: dict[str, str]
    """The object's custom metadata (where a partner may set ``ingest-reprocess``)."""


class FileStore(Protocol):
    """What reading one partner file needs from Cloud Storage and Pub/Sub (``ingest.clients.GcsFiles``;
    an in-memory one in the tests). Failures of the service itself raise; only ``ObjectMissing``
    is a property of the file."""

    documents: DocumentStore
    """The state bucket's documents: the ledger and the content index."""

    def stat(self, bucket: str, name: str, generation: int) -> ObjectInfo:
        """That generation's size, checksums and metadata; ``ObjectMissing`` when it is gone."""
        ...

    def open(self, bucket: str, name: str, generation: int, start: int = 0) -> AbstractContextManager[BinaryIO]:
        """That generation's stored bytes (gzip is not inflated), from byte ``start``."""
        ...

    def mark(self, bucket: str, name: str, generation: int, metadata: dict[str, str]) -> None:
        """Add metadata to that generation, so partners see how their file went."""
        ...

    def put(self, bucket: str, name: str, body: bytes, content_type: str) -> None:
        """Write a small object (a file's error report)."""
        ...

    def continue_later(self, bucket: str, name: str, generation: int) -> None:
        """Ask for another invocation on this file (FILE_TASKS_TOPIC)."""
        ...


@dataclass(frozen=True)
class ObjectPlan:
    contract: str | None
    problem: str | None
    """Why the object cannot be loaded, or None."""
    kind: FailureKind | None = None
    ignored: bool = False
    format: Format = Format.NDJSON


def plan_object(name: str) -> ObjectPlan:
    prefix = name.split("/", 1)[0] if "/" in name else ""
    if prefix in IGNORED_PREFIXES:
        return ObjectPlan(None, None, ignored=True)
    contract = PREFIX_CONTRACTS.get(prefix)
    if contract is None:
        known = ", ".join(f"{p}/" for p in PREFIX_CONTRACTS)
        return ObjectPlan(None, f"object name prefix {prefix or '(none)'!r} names no contract; expected one of {known}",
                          FailureKind.UNKNOWN_CONTRACT)
    bare = name.removesuffix(".gz")
    suffix = next((s for s in SUFFIX_FORMATS if bare.lower().endswith(s)), None)
    if suffix is None:
        return ObjectPlan(contract, f"unsupported file format for {name!r}: expected one of "
                          f"{', '.join(SUFFIX_FORMATS)}, optionally .gz", FailureKind.UNSUPPORTED_FORMAT)
    return ObjectPlan(contract, None, format=SUFFIX_FORMATS[suffix])


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    """1-based, blank lines included."""
    data: bytes
    """The line without its end of line; only its first ``max_line_bytes`` when it is longer."""
    length: int
    """Its full length, so a cut line is measured without being held whole."""
    end: int
    """Offset, in the (inflated) stream, just past this line's end of line: where to resume."""
    broken: GzipError | ObjectMissing | FileFormatError | None = None
    """Set on the last line when the stream broke inside it: why reading stopped."""
    value: Any = None
    """The record, when the format reader decoded it itself (CSV, JSON-array files)."""
    error: RecordError | None = None
    """Why the format reader could not make a record of these bytes."""
    decoded: bool = False
    """Whether ``value``/``error`` were set by a format reader (else ``data`` is one JSON text)."""
    last_line: int = 0
    """The physical line the record ends on (a CSV record or a JSON element may span several;
    0: ``number``): where numbering resumes."""

    @property
    def ends_on(self) -> int:
        return self.last_line or self.number


class LineStream:
    """Non-blank lines of a stream, inflating gzip (recognised by its magic bytes, not its name).

    A stream that breaks, or whose object disappears mid-read, ends with one ``Line`` whose
    ``broken`` says why, holding the bytes read of the line it broke in. To resume after a line
    already handled (``first_line``, ending at ``offset``), a plain object is read from that
    offset (``skip=0``); a gzip one, which cannot be entered in the middle, is read from its start
    and ``skip=offset`` inflated bytes are passed over.
    """

    def __init__(self, read: Read, *, max_line_bytes: int, max_ratio: float, first_line: int = 0,
                 offset: int = 0, skip: int = 0, keep_blank: bool = False) -> None:
        self._read = read
        self._keep_blank = keep_blank
        self._max_line_bytes = max_line_bytes
        self._max_ratio = max_ratio
        self._first_line = first_line
        self._offset = offset
        self._skip = skip
        self._bom = 0
        self.position = offset
        """Offset of the first byte of the chunk ``chunks`` yielded last."""
        self.gzip = False
        """Whether the stream was gzip (known once the first line was read)."""

    def chunks(self) -> Iterator[bytes]:
        """The stream's bytes from where reading resumes (inflated, without a leading BOM)."""
        consumed = self._offset
        for chunk in self._chunks():
            consumed, self._bom = consumed + self._bom, 0
            self.position = consumed
            consumed += len(chunk)
            yield chunk
        self.position = consumed

    def _chunks(self) -> Iterator[bytes]:
        first = self._read(CHUNK_BYTES)
        self.gzip = is_gzip(first)
        chunks = inflate(_prefixed(first, self._read), max_ratio=self._max_ratio) if self.gzip else _plain(first,
                                                                                                       self._read)
        skip = self._skip
        for index, chunk in enumerate(chunks):
            if index == 0 and self._offset == 0 and chunk.startswith(UTF8_BOM):  # Windows exports: not data
                chunk, self._bom = chunk[len(UTF8_BOM):], len(UTF8_BOM)
            if skip:
                chunk, skip = chunk[skip:], max(0, skip - len(chunk))
            if chunk:
                yield chunk

    def __iter__(self) -> Iterator[Line]:
        number, consumed = self._first_line, self._offset
        head = b""  # the current line's first bytes, at most max_line_bytes
        length = 0  # the current line's length so far
        limit = self._max_line_bytes
        try:
            for chunk in self._chunks():
                consumed, self._bom = consumed + self._bom, 0
                pieces = chunk.split(b"\n")
                for piece in pieces[:-1]:
                    number += 1
                    line, size = _append(head, length, piece, limit)
                    consumed += size + 1
                    head, length = b"", 0
                    if (piece or line).endswith(b"\r"):  # a CRLF file
                        line, size = line.removesuffix(b"\r"), size - 1
                    if self._keep_blank or line.strip():
                        yield Line(number, line, size, consumed)
                head, length = _append(head, length, pieces[-1], limit)
        except (GzipError, ObjectMissing) as error:
            yield Line(number + 1, head, length, consumed + length, broken=error)
            return
        if head.strip():
            yield Line(number + 1, head.rstrip(b"\r"), length, consumed + length)


def read_lines(read: Read, *, max_line_bytes: int, max_ratio: float) -> Iterator[Line]:
    """The lines of a whole stream (``LineStream`` from its start)."""
    return iter(LineStream(read, max_line_bytes=max_line_bytes, max_ratio=max_ratio))


def _prefixed(first: bytes, read: Read) -> Read:
    pending = [first]

    def read_next(size: int) -> bytes:
        return pending.pop() if pending else read(size)
    return read_next


def _plain(first: bytes, read: Read) -> Iterator[bytes]:
    chunk = first
    while chunk:
        yield chunk
        chunk = read(CHUNK_BYTES)


def _append(head: bytes, length: int, piece: bytes, limit: int) -> tuple[bytes, int]:
    """The line so far plus ``piece``, keeping at most ``limit`` bytes but counting them all."""
    if len(head) < limit:
        head += piece[:limit - len(head)]
    return head, length + len(piece)
