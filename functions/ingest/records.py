"""What flows through the pipeline: a record's exact bytes, where it came from, its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.errors import RecordError


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Enough to find (and replay) a record: message id + index, or object generation + line."""

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
        if self.kind == "pubsub":
            base = f"pubsub://{self.topic or '?'}/{self.message_id or '?'}"
            return base if self.record_index is None else f"{base}#{self.record_index}"
        base = f"gs://{self.bucket}/{self.object}#{self.generation}"
        return base if self.line_number is None else f"{base}:{self.line_number}"

    def at(self, *, record_index: int | None = None, line_number: int | None = None) -> "SourceRef":
        """The same source, pointing at one record of it (cheaper than dataclasses.replace)."""
        return SourceRef(self.kind, self.topic, self.message_id, self.publish_time, record_index,
                         self.bucket, self.object, self.generation, line_number)

    def batch_uri(self) -> str:
        """The invocation's source, without the per-record part."""
        return self.at().uri()

    def as_row(self) -> dict[str, Any]:
        fields = ("topic", "message_id", "publish_time", "record_index", "bucket", "object",
                  "generation", "line_number")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}


@dataclass
class Record:
    raw: bytes
    """The record exactly as received (a message, an NDJSON line, or an array element)."""
    source: SourceRef
    value: Any = None
    """Decoded JSON; meaningless when ``error`` is set."""
    error: RecordError | None = None
    size: int | None = None
    """Length as received when ``raw`` holds only its first bytes (a runaway file line)."""
