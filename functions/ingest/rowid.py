"""Deterministic ids: the same record (or the same failure of it) always gets the same id,
so BigQuery's insertId dedupe and the deduplicated views absorb redeliveries."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def row_id(contract: str, value: Any) -> str:
    """From the record's content, key order ignored: a re-published event is the same row."""
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(contract.encode() + b"\0" + canonical).hexdigest()[:32]


def stable_id(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]
