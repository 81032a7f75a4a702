"""Rows of ``ingestion_audit``: one per invocation, so received = sum of the outcomes can be proven."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ingest.rowid import stable_id
from ingest.transform.timeutil import bq_timestamp


@dataclass
class Counts:
    received: int = 0
    written: int = 0
    invalid: int = 0
    consent_dropped: int = 0
    pseudonymised: int = 0
    skipped: int = 0
    duplicates: int = 0
    reference_misses: int = 0
    """Not an outcome: rows whose venue/offerer id the reference snapshot did not know."""

    def add(self, other: "Counts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def balanced(self) -> bool:
        """Every received record has exactly one outcome (pseudonymised rows are also written)."""
        return self.received == (self.written + self.invalid + self.consent_dropped + self.skipped
                                 + self.duplicates)


def audit_row(*, function: str, contract: str | None, source_kind: str, source: str, counts: Counts,
              started_at: datetime, finished_at: datetime, code_version: str) -> tuple[str, dict[str, Any]]:
    audit_id = stable_id(function, source)
    return audit_id, {
        "audit_id": audit_id,
        "contract": contract,
        "function": function,
        "source_kind": source_kind,
        "source": source,
        **asdict(counts),
        "started_at": bq_timestamp(started_at),
        "finished_at": bq_timestamp(finished_at),
        "code_version": code_version,
    }
