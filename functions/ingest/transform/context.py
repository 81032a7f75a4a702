"""What a transform needs besides the record itself."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ingest.config import Settings
from ingest.consent import Action
from ingest.contracts import TableSchema, input_fields
from ingest.enrich.reference import ReferenceSnapshot
from ingest.transform.timeutil import minute_parts, to_micros


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
    received_us: int = field(init=False)
    """``received_at`` in microseconds since the epoch, the unit the hot path works in."""
    late_after_us: int = field(init=False)
    """Events older than this on arrival are flagged late (``LATE_AFTER_HOURS``)."""
    input_fields: frozenset[str] = field(init=False)
    """Top-level fields the contract's input schema declares; any other field is unmapped."""
    minutes: Callable[[int], tuple[str, str]] = field(init=False)
    """Minute since the epoch → (UTC timestamp text up to the minute, date in ``TIME_ZONE``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "received_us", to_micros(self.received_at))
        object.__setattr__(self, "late_after_us", int(self.settings.late_after_hours * 3_600_000_000))
        object.__setattr__(self, "input_fields", input_fields(self.settings.schemas_dir, self.table.table_id))
        object.__setattr__(self, "minutes", minute_parts(self.settings.time_zone))
