"""In-memory stand-in for BigQueryWriter, for unit tests only (integration tests use the emulator).

It fails the way BigQuery does, not only succeeds: per-row refusals (of chosen rows, or of every
row of a table, as a schema mismatch would), a request refused outright (5xx/429 after the
client's retries), and a response lost after BigQuery applied the request (a dropped
connection) — the case where a retry must not double anything. Like insertAll, a row whose
insertId it has already stored is not stored again.
"""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from ingest.errors import Reason, TransientError
from ingest.sinks.bigquery import Rejection


class FakeWriter:
    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.reject: dict[str, str] = {}
        """row_id (or insertId) → message: rows to refuse one by one, as BigQuery would."""
        self.refuse_table: dict[str, str] = {}
        """table → message: refuse every row sent to it."""
        self.fail_next = 0
        """Requests to refuse outright (nothing stored), as after exhausted retries on a 503."""
        self.lose_response_next = 0
        """Requests to apply and then fail (the connection drops before the answer arrives)."""
        self.requests: list[tuple[str, int]] = []
        """(table, rows) of every request that reached the fake."""
        self.expired: list[tuple[str, dict[str, Any]]] = []
        """(table, row) stored before the insertId dedupe window was last expired."""

    def insert(self, table: str, rows: Sequence[tuple[str, bytes]]) -> list[Rejection]:
        self.requests.append((table, len(rows)))
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("503 backend unavailable")
        stored = self.tables.setdefault(table, {})
        rejections = []
        for insert_id, encoded in rows:
            row = orjson.loads(encoded)
            message = self.refuse_table.get(table) or self.reject.get(insert_id) or self.reject.get(row.get("row_id", ""))
            if message:
                rejections.append(Rejection(insert_id, [Reason("$.x", message)]))
            else:
                stored.setdefault(insert_id, row)
        if self.lose_response_next:
            self.lose_response_next -= 1
            raise TransientError("connection reset by peer (the rows were written)")
        return rejections

    def window_expired(self) -> None:
        """BigQuery's best-effort insertId dedupe lasts about a minute: past it, a row sent again
        under the same insertId is stored again."""
        self.expired += [(table, row) for table, rows in self.tables.items() for row in rows.values()]
        self.tables = {}

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row stored, those stored before the dedupe window expired included."""
        return [row for t, row in self.expired if t == table] + list(self.tables.get(table, {}).values())
