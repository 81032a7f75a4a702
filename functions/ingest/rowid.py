"""Deterministic ids: the same record (or the same failure of it) always gets the same id, so a
redelivery or a re-publication is recognisable, and the deduplicated views keep one row of it.

Two kinds of identity, chosen per contract in ``schemas/<contract>/table.json`` (``identity``):

- ``content``: what the record says, **as normalised to its columns' types** — the row, not the
  raw JSON — so ``1730800000123456`` and ``1730800000123456.0``, or ``"123"`` and ``123`` in a
  STRING column, give the same id, and key order never matters. Columns that describe the
  arrival rather than the record (``is_late``, reference attributes as of the snapshot, the
  pipeline's own columns) are left out, so a redelivery a day later keeps its id.
- ``emission``: where a log was emitted. Two identical "Offer has been updated" lines seconds
  apart are two events; a LogEntry's ``insertId`` names each one, and without it the record's
  position (message id + index, or object generation + line) does.

``insert_id`` is what BigQuery's best-effort insertId dedupe sees: the record's id *at its
position*, so a redelivered message (same positions) writes nothing twice, while a re-published
event lands again under its new source — and ``ingestion_audit`` counts stay exactly what the
table holds per source. Analysts read the deduplicated views, one row per ``row_id``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any, Iterable

import orjson


def content_id(contract: str, row: dict[str, Any], exclude: frozenset[str]) -> tuple[str, bytes, dict[str, Any]]:
    """From the typed row without the columns in ``exclude``, key order ignored:
    ``(id, those columns as canonical JSON, the columns left out)``. The canonical JSON is a
    valid encoding of that part of the row, so the caller can send it rather than encode twice."""
    left_out = {name: row.pop(name) for name in exclude if name in row}
    canonical = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    digest = _contract_digest(contract).copy()  # sha256(contract + NUL + canonical), without copying canonical
    digest.update(canonical)
    return digest.hexdigest()[:32], canonical, left_out


@lru_cache(maxsize=64)
def _contract_digest(contract: str) -> Any:
    """sha256 fed with the prefix every content id of ``contract`` starts with."""
    return hashlib.sha256(contract.encode() + b"\0")


def emission_id(contract: str, parts: Iterable[str]) -> str:
    return stable_id(contract, "emitted", *parts)


def insert_id(row_id: str, position: str) -> str:
    """``stable_id(row_id, position)``, in one call per row."""
    return hashlib.sha256(f"{row_id}\0{position}\0".encode()).hexdigest()[:32]


def stable_id(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]
