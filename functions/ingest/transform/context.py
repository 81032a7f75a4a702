"""What a transform needs besides the record itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.config import Settings
from ingest.consent import Action
from ingest.contracts import TableSchema


class SkipRecord(Exception):
    """The record is valid but deliberately not loaded (counted as skipped)."""


@dataclass(frozen=True)
class TransformContext:
    settings: Settings
    table: TableSchema
    received_at: datetime
    publish_time: datetime | None = None
    consent_action: Action = Action.KEEP
