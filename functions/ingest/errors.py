"""The two kinds of failure, and the retry decision that follows from each.

A ``TransientError`` escapes the handler so Pub/Sub / Eventarc redeliver (rows carry
deterministic ids, so the retry cannot duplicate them). Everything about a *record* is a
``RecordError`` of one ``FailureKind``: it goes to ``ingestion_errors`` and the input is
acknowledged. ``FailureKind`` is the one list of kinds; a contract test checks that the
``ingestion_errors.error_type`` description names every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    """``ingestion_errors.error_type``: why a record did not reach its table."""

    INVALID_JSON = "invalid_json"
    """Not a JSON document (or not UTF-8)."""
    INVALID_CSV = "invalid_csv"
    """A CSV record that cannot be read: not UTF-8, an unbalanced quote, more cells than the header."""
    SCHEMA_VIOLATION = "schema_violation"
    """Valid JSON that breaks the contract's input schema."""
    INVALID_VALUE = "invalid_value"
    """Allowed by the schema, but a value does not fit its column (type, range, nesting, time)."""
    OVERSIZED = "oversized"
    """A record above MAX_RECORD_BYTES."""
    OVERSIZED_MESSAGE = "oversized_message"
    """A message that expands beyond MAX_MESSAGE_BYTES, MAX_MESSAGE_RECORDS or MAX_DECOMPRESSION_RATIO:
    kept whole as one error, never split into records."""
    UNDECODABLE_MESSAGE = "undecodable_message"
    """A Pub/Sub or Eventarc envelope that cannot be read, or a message whose gzip is corrupt."""
    UNDECODABLE_FILE = "undecodable_file"
    """A file whose stream breaks (truncated or corrupt gzip, trailing garbage): recorded once,
    at the line where reading stopped, after every readable line."""
    REJECTED_BY_BIGQUERY = "rejected_by_bigquery"
    """A row BigQuery refused, with its own words."""
    UNKNOWN_CONTRACT = "unknown_contract"
    """A dropped file whose name prefix names no contract."""
    UNSUPPORTED_FORMAT = "unsupported_format"
    """A dropped file of a format the pipeline does not read."""
    OBJECT_MISSING = "object_missing"
    """The notified object generation no longer exists."""
    INTERNAL_ERROR = "internal_error"
    """A bug: the record was fine as far as the contract says, the code failed on it."""


@dataclass(frozen=True)
class Reason:
    """One thing wrong with a record, at a JSON path ("$" for the whole record)."""

    path: str
    message: str


class TransientError(Exception):
    """A dependency failed in a way that may succeed later (5xx, 429, timeout, lost connection):
    the input is not acknowledged, so it is delivered again."""


class RecordError(Exception):
    """A record cannot be loaded (permanent); carries every reason found, not just the first."""

    def __init__(self, kind: FailureKind, reasons: list[Reason]) -> None:
        super().__init__(f"{kind}: " + "; ".join(f"{r.path}: {r.message}" for r in reasons))
        self.kind = kind
        self.reasons = reasons

    @classmethod
    def at(cls, kind: FailureKind, path: str, message: str) -> RecordError:
        """The common case: one reason."""
        return cls(kind, [Reason(path, message)])
