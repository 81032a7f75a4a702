"""What a transform needs besides the record itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.config import Settings
from ingest.consent import Action
from ingest.contracts import TableSchema
from ingest.enrich.reference import ReferenceSnapshot


class SkipRecord(Exception):
    """The record is valid but deliberately not loaded (counted as skipped)."""


@dataclass(frozen=True)
class TransformContext:
    settings: Settings
    table: TableSchema
    received_at: datetime
    publish_time: datetime | None = None
    consent_action: Action = Action.KEEP
    reference: ReferenceSnapshot | None = None
    tally: Counter[str] = field(default_factory=Counter)
    """Per-batch side counts a transform reports (e.g. reference_misses), shared by the batch."""
    late_after: timedelta = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "late_after", timedelta(hours=self.settings.late_after_hours))
