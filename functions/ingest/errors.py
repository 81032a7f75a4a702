"""The two kinds of failure, and the retry decision that follows from each.

A ``TransientError`` escapes the handler so Pub/Sub / Eventarc redeliver (rows carry
deterministic ids, so the retry cannot duplicate them). Everything about a *record* is a
``RecordError``: it goes to ``ingestion_errors`` and the input is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """One thing wrong with a record, at a JSON path ("$" for the whole record)."""

    path: str
    message: str


class TransientError(Exception):
    """A dependency failed in a way that may succeed later (5xx, 429, timeout)."""


class RecordError(Exception):
    """A record cannot be loaded; carries every reason found, not just the first."""

    def __init__(self, error_type: str, reasons: list[Reason]) -> None:
        super().__init__(f"{error_type}: " + "; ".join(f"{r.path}: {r.message}" for r in reasons))
        self.error_type = error_type
        self.reasons = reasons
