"""Rows of ``ingestion_errors``: the raw record exactly as received, its source, every reason."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from ingest.errors import Reason
from ingest.records import SourceRef
from ingest.rowid import stable_id
from ingest.transform.timeutil import bq_timestamp


def error_row(*, raw: bytes, source: SourceRef, contract: str | None, error_type: str,
              reasons: list[Reason], received_at: datetime, code_version: str, payload_limit: int,
              attributes: dict[str, str] | None = None, size: int | None = None) -> tuple[str, dict[str, Any]]:
    """``(error_id, row)``; the id is stable across redeliveries of the same record.
    ``size`` is the length as received when ``raw`` was already cut short by the reader."""
    size = len(raw) if size is None else size
    kept = raw[:payload_limit]
    try:
        payload, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    error_id = stable_id(source.uri(), error_type, raw)
    row: dict[str, Any] = {
        "error_id": error_id,
        "received_at": bq_timestamp(received_at),
        "contract": contract,
        "error_type": error_type,
        "reasons": [{"path": r.path, "message": r.message} for r in reasons],
        "source_kind": source.kind,
        "source": source.as_row(),
        "raw_payload": payload,
        "raw_payload_encoding": encoding,
        "raw_payload_bytes": size,
        "raw_payload_truncated": size > len(kept),
        "code_version": code_version,
    }
    if attributes:
        row["attributes"] = orjson.dumps(attributes).decode()
    return error_id, row
