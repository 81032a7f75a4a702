"""Rows of ``ingestion_audit``: one per invocation, so received = the sum of the outcomes can be
proven, and each count names only what the invocation knows (rows *sent*, not rows that will
survive BigQuery's own dedupe; duplicates *within a batch*, not across the table)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import orjson

from ingest.rowid import stable_id
from ingest.transform.timeutil import bq_timestamp

OUTCOMES = ("rows_sent", "dead_lettered", "consent_dropped", "skipped", "duplicates_in_batch")
"""Every received record has exactly one of these."""


@dataclass
class Counts:
    received: int = 0
    rows_sent: int = 0
    dead_lettered: int = 0
    consent_dropped: int = 0
    pseudonymised: int = 0
    """Not an outcome: rows sent with pseudonymised identifiers (among rows_sent)."""
    skipped: int = 0
    duplicates_in_batch: int = 0
    unmapped: int = 0
    """Not an outcome: rows sent that carried fields no column maps."""
    reference_misses: int = 0
    """Not an outcome: rows whose venue/offerer id the reference snapshot did not know."""
    earliest_partition: str | None = None
    """Earliest partition date (ISO) among the rows sent."""

    def add(self, other: Counts) -> None:
        for spec in fields(self):
            if spec.name == "earliest_partition":
                self.note_partition(other.earliest_partition)
            else:
                setattr(self, spec.name, getattr(self, spec.name) + getattr(other, spec.name))

    def note_partition(self, day: str | None) -> None:
        if day is not None and (self.earliest_partition is None or day < self.earliest_partition):
            self.earliest_partition = day

    def balanced(self) -> bool:
        """Every received record has exactly one outcome."""
        return self.received == sum(getattr(self, name) for name in OUTCOMES)

    def as_row(self) -> dict[str, Any]:
        """Every field, in declaration order (an instance's ``__dict__`` is exactly that, ~10× cheaper
        than walking ``fields``)."""
        return dict(vars(self))


@dataclass(frozen=True)
class FileFacts:
    """What the audit row of a file says besides its records."""

    object_bytes: int
    lines: int
    invocations: int
    duplicate_of: str | None = None


def audit_row(*, function: str, contract: str | None, source_kind: str, source: str, counts: Counts,
              started_at: datetime, finished_at: datetime, code_version: str,
              file: FileFacts | None = None) -> tuple[str, bytes]:
    """``(audit_id, encoded row)``; a retried invocation gets the same id (ingestion_audit_deduplicated
    keeps one row per id), so the id must not depend on anything of the attempt (times, counts)."""
    audit_id = stable_id(function, source)
    row = {
        **(asdict(file) if file is not None else {}),
        "audit_id": audit_id,
        "contract": contract,
        "function": function,
        "source_kind": source_kind,
        "source": source,
        **counts.as_row(),
        "started_at": bq_timestamp(started_at),
        "finished_at": bq_timestamp(finished_at),
        "code_version": code_version,
    }
    return audit_id, orjson.dumps(row)
