"""Partner files in Cloud Storage: which contract an object is for, and its lines as a stream.

Objects are read in chunks and split into lines as they arrive (gzip inflated on the fly by the
one gzip reader), so a file of any size costs the memory of one chunk plus one batch of lines.
A stream that breaks — truncated or corrupt gzip, trailing garbage, a decompression bomb — ends
with one ``Line`` that says why, after every line that could be read; the bytes of the line it
broke in are kept with it. Errors of the download itself are not caught here: they are transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from ingest.decode import UTF8_BOM
from ingest.errors import FailureKind
from ingest.gzipstream import CHUNK_BYTES, GzipError, Read, inflate, is_gzip

PREFIX_CONTRACTS = {"events": "pro_event", "logs": "pro_log", "userpilot": "userpilot_event"}
"""First path segment of the object name → contract."""

IGNORED_PREFIXES = frozenset({"processed", "quarantine"})
"""Where handled and rejected files are kept (bucket lifecycle rules expire them): moving a file
there finalizes a new object, which must not be ingested a second time."""

NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".json")


class ObjectMissing(Exception):
    """The notified generation is gone (deleted or overwritten before we read it)."""


@dataclass(frozen=True)
class ObjectPlan:
    contract: str | None
    problem: str | None
    """Why the object cannot be loaded, or None."""
    kind: FailureKind | None = None
    ignored: bool = False


def plan_object(name: str) -> ObjectPlan:
    prefix = name.split("/", 1)[0] if "/" in name else ""
    if prefix in IGNORED_PREFIXES:
        return ObjectPlan(None, None, ignored=True)
    contract = PREFIX_CONTRACTS.get(prefix)
    if contract is None:
        known = ", ".join(f"{p}/" for p in PREFIX_CONTRACTS)
        return ObjectPlan(None, f"object name prefix {prefix or '(none)'!r} names no contract; expected one of {known}",
                          FailureKind.UNKNOWN_CONTRACT)
    bare = name[:-3] if name.endswith(".gz") else name
    if not bare.endswith(NDJSON_SUFFIXES):
        return ObjectPlan(contract, f"unsupported file format for {name!r}: expected NDJSON "
                          f"({', '.join(NDJSON_SUFFIXES)}, optionally .gz)", FailureKind.UNSUPPORTED_FORMAT)
    return ObjectPlan(contract, None)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    """1-based, blank lines included."""
    data: bytes
    """The line without its end of line; only its first ``max_line_bytes`` when it is longer."""
    length: int
    """Its full length, so a cut line is measured without being held whole."""
    broken: GzipError | ObjectMissing | None = None
    """Set on the last line when the stream broke inside it: why reading stopped."""


def read_lines(read: Read, *, max_line_bytes: int, max_ratio: float) -> Iterator[Line]:
    """Non-blank lines of a stream, inflating gzip (recognised by its magic bytes, not its name).

    A stream that breaks, or whose object disappears mid-read, ends with one ``Line`` whose
    ``broken`` says why, holding the bytes read of the line it broke in."""
    number = 0
    head = b""  # the current line's first bytes, at most max_line_bytes
    length = 0  # the current line's length so far
    try:
        first = read(CHUNK_BYTES).removeprefix(UTF8_BOM)  # a byte order mark (Windows exports) is no data
        if is_gzip(first):
            chunks: Iterable[bytes] = _inflated_without_bom(inflate(_prefixed(first, read), max_ratio=max_ratio))
        else:
            chunks = _chunks(first, read)
        for chunk in chunks:
            pieces = chunk.split(b"\n")
            for piece in pieces[:-1]:
                number += 1
                line, size = _append(head, length, piece, max_line_bytes)
                head, length = b"", 0
                if (piece or line).endswith(b"\r"):  # a CRLF file
                    line, size = line.removesuffix(b"\r"), size - 1
                if line.strip():
                    yield Line(number, line, size)
            head, length = _append(head, length, pieces[-1], max_line_bytes)
    except (GzipError, ObjectMissing) as error:
        yield Line(number + 1, head, length, broken=error)
        return
    if head.strip():
        yield Line(number + 1, head.rstrip(b"\r"), length)


def _prefixed(first: bytes, read: Read) -> Read:
    pending = [first]

    def read_next(size: int) -> bytes:
        return pending.pop() if pending else read(size)
    return read_next


def _chunks(first: bytes, read: Read) -> Iterator[bytes]:
    chunk = first
    while chunk:
        yield chunk
        chunk = read(CHUNK_BYTES)


def _inflated_without_bom(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for index, chunk in enumerate(chunks):
        yield chunk.removeprefix(UTF8_BOM) if index == 0 else chunk


def _append(head: bytes, length: int, piece: bytes, limit: int) -> tuple[bytes, int]:
    """The line so far plus ``piece``, keeping at most ``limit`` bytes but counting them all."""
    if len(head) < limit:
        head += piece[:limit - len(head)]
    return head, length + len(piece)
