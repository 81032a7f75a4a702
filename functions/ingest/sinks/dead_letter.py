"""Rows of ``ingestion_errors``: the raw record exactly as received, its source, every reason.

One ``DeadLetter`` per invocation holds what its error rows share (contract, reception time,
code version, attributes, the payload limit), so every failure is recorded by one call with
only what differs: the bytes, where they came from, and the ``RecordError``.

A record whose person refused consent is never kept raw: under a ``drop`` policy it is dropped
before validation (counted in ``consent_dropped``); under ``pseudonymise`` a failing record is
recorded ``withhold``-ing its payload and the words of its reasons (which may quote values),
so operators still see that, where and why such records fail.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import datetime
from typing import Any

import orjson

from ingest.errors import FailureKind, RecordError
from ingest.records import SourceRef
from ingest.rowid import stable_id
from ingest.transform.timeutil import bq_timestamp

Row = tuple[str, bytes]
"""(insertId, the row as JSON)."""
SAMPLES = 20


class DeadLetter:
    """The error rows of one invocation, and how many of each kind (over the whole invocation,
    even when its rows are written batch by batch with ``take``)."""

    def __init__(self, *, contract: str | None, received_at: datetime, code_version: str, payload_limit: int,
                 attributes: dict[str, str] | None = None) -> None:
        self._shared: dict[str, Any] = {"received_at": bq_timestamp(received_at), "contract": contract,
                                        "code_version": code_version}
        if attributes:
            self._shared["attributes"] = orjson.dumps(attributes).decode()
        self._payload_limit = payload_limit
        self._rows: list[Row] = []
        self.kinds: Counter[FailureKind] = Counter()
        self.samples: list[dict[str, Any]] = []
        """The first ``SAMPLES`` failures, for a partner's report: where, what kind, why."""

    def add(self, raw: bytes, source: SourceRef, error: RecordError, size: int | None = None, *,
            withhold: bool = False) -> None:
        """``size`` is the length as received when ``raw`` was already cut short by the reader;
        ``withhold`` keeps the payload and reason texts out (consent denied)."""
        self._rows.append(error_row(raw, source, error, self._shared, self._payload_limit, size, withhold))
        self.kinds[error.kind] += 1
        if len(self.samples) < SAMPLES:
            self.samples.append({"line": source.line_number, "record_index": source.record_index,
                                 "error_type": error.kind.value,
                                 "reason": WITHHELD if withhold else f"{error.reasons[0].path}: {error.reasons[0].message}"})

    def take(self) -> list[Row]:
        """The rows added since the last call."""
        rows, self._rows = self._rows, []
        return rows

    def __len__(self) -> int:
        return len(self._rows)


WITHHELD = "withheld"
"""raw_payload_encoding of a row whose payload is not kept (consent denied)."""


def error_row(raw: bytes, source: SourceRef, error: RecordError, shared: dict[str, Any], payload_limit: int,
              size: int | None = None, withhold: bool = False) -> Row:
    """``(error_id, row)``; the id is stable across redeliveries of the same record (never from
    ``shared``: received_at is the attempt's), ingestion_errors_deduplicated keeps one row per id."""
    size = len(raw) if size is None else size
    kept = b"" if withhold else raw[:payload_limit]
    payload: str | None
    if withhold:
        payload, encoding = None, WITHHELD
    else:
        try:
            payload, encoding = kept.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    error_id = stable_id(source.uri(), error.kind, raw)
    row: dict[str, Any] = {
        "error_id": error_id,
        **shared,
        "error_type": error.kind.value,
        "reasons": [{"path": r.path, "message": WITHHELD if withhold else r.message} for r in error.reasons],
        "source_kind": source.kind,
        "source": source.as_row(),
        "raw_payload": payload,
        "raw_payload_encoding": encoding,
        "raw_payload_bytes": size,
        "raw_payload_truncated": not withhold and size > len(kept),
    }
    return error_id, orjson.dumps(row)
