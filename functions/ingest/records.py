"""What flows through the pipeline: a record's exact bytes, where it came from, its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ingest.errors import RecordError


class SourceRef(NamedTuple):
    """Enough to find (and replay) a record: message id + index, or object generation + line.

    A tuple rather than a frozen dataclass: one is made per record, and a frozen dataclass's
    ``__init__`` costs ~3 µs, a tenth of the whole record path's budget."""

    kind: str  # "pubsub" | "gcs"
    topic: str | None = None
    message_id: str | None = None
    publish_time: str | None = None
    record_index: int | None = None
    bucket: str | None = None
    object: str | None = None
    generation: int | None = None
    line_number: int | None = None

    def uri(self) -> str:
        """``pubsub://<topic>/<message id>[#<index>]`` or ``gs://<bucket>/<object>[#<generation>][:<line>]``,
        with ``?`` for what an unreadable envelope did not tell."""
        if self.kind == "pubsub":  # one string per record (the row's ingestion_source): built once
            if self.record_index is None:
                return f"pubsub://{self.topic or '?'}/{self.message_id or '?'}"
            return f"pubsub://{self.topic or '?'}/{self.message_id or '?'}#{self.record_index}"
        base = f"gs://{self.bucket or '?'}/{self.object or '?'}"
        if self.generation is not None:
            base = f"{base}#{self.generation}"
        return base if self.line_number is None else f"{base}:{self.line_number}"

    def at(self, *, record_index: int | None = None, line_number: int | None = None) -> "SourceRef":
        """The same source, pointing at one record of it: one per record, so the tuple is made
        directly (half the cost of the generated ``__new__``)."""
        return _tuple_new(SourceRef, self[:4] + (record_index,) + self[5:8] + (line_number,))

    def batch_uri(self) -> str:
        """The invocation's source, without the per-record part."""
        return self.at().uri()

    def as_row(self) -> dict[str, Any]:
        return {name: value for name, value in zip(self._fields[1:], self[1:], strict=True) if value is not None}


_tuple_new = tuple.__new__


@dataclass(slots=True)
class Record:
    raw: bytes
    """The record exactly as received (a message, an NDJSON line, or an array element)."""
    source: SourceRef
    value: Any = None
    """Decoded JSON; meaningless when ``error`` is set."""
    error: RecordError | None = None
    size: int | None = None
    """Length as received when ``raw`` holds only its first bytes (a runaway file line)."""
