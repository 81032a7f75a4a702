"""In-memory stand-in for BigQueryWriter, for unit tests only (integration tests use the emulator)."""

from __future__ import annotations

from typing import Any, Sequence

from ingest.errors import Reason, TransientError
from ingest.sinks.bigquery import Rejection


class FakeWriter:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.reject: dict[str, str] = {}
        """row_id → message: rows to refuse as BigQuery would."""
        self.fail_next = 0

    def insert(self, table: str, rows: Sequence[tuple[str, dict[str, Any]]]) -> list[Rejection]:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("503 backend unavailable")
        stored = self.tables.setdefault(table, {})
        rejections = []
        for row_id, row in rows:
            if row_id in self.reject:
                rejections.append(Rejection(row_id, [Reason("$.x", self.reject[row_id])]))
            else:
                stored[row_id] = row
        return rejections

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.tables.get(table, {}).values())
