"""Partner files in Cloud Storage: which contract an object is for, and its lines as a stream.

Objects are read in chunks and line by line (gzip inflated on the fly), so a file of any size
costs the memory of one chunk plus one batch of lines, never the whole object.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from typing import BinaryIO, Iterator

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
    """Why the object cannot be loaded (error_type, message), or None."""
    error_type: str | None = None
    ignored: bool = False


def plan_object(name: str) -> ObjectPlan:
    prefix = name.split("/", 1)[0] if "/" in name else ""
    if prefix in IGNORED_PREFIXES:
        return ObjectPlan(None, None, ignored=True)
    contract = PREFIX_CONTRACTS.get(prefix)
    if contract is None:
        known = ", ".join(f"{p}/" for p in PREFIX_CONTRACTS)
        return ObjectPlan(None, f"object name prefix {prefix or '(none)'!r} names no contract; expected one of {known}",
                          "unknown_contract")
    bare = name[:-3] if name.endswith(".gz") else name
    if not bare.endswith(NDJSON_SUFFIXES):
        return ObjectPlan(contract, f"unsupported file format for {name!r}: expected NDJSON "
                          f"({', '.join(NDJSON_SUFFIXES)}, optionally .gz)", "unsupported_format")
    return ObjectPlan(contract, None)


def open_lines(stream: BinaryIO) -> BinaryIO:
    """Inflate gzip transparently, recognised by its magic bytes rather than by name."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    return buffered


def iter_lines(stream: BinaryIO, max_line_bytes: int) -> Iterator[tuple[int, bytes, int]]:
    """(line number, bytes, full length) of each non-blank line. A line longer than the limit
    is cut to the limit and the rest skipped unread into memory, so one runaway line cannot
    exhaust it; its full length tells the caller it was cut."""
    number = 0
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        length = len(line.rstrip(b"\r\n"))
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            line = line[:max_line_bytes]
            while True:
                rest = stream.readline(1 << 20)
                length += len(rest.rstrip(b"\r\n"))
                if not rest or rest.endswith(b"\n"):
                    break
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line, length
