"""Reference data (offerer, venue and partner attributes of seed 000) joined at ingestion.

A snapshot is an NDJSON file (path configurable, usually in a bucket): one object per line,
``{"kind": "venue", "venue_id": ..., <pro_event column>: value, ...}`` or
``{"kind": "offerer", "offerer_id": ..., ...}``. Whatever keys of a line are pro_event columns
are copied onto rows with that id, so a new attribute needs a column, not code. The snapshot is
loaded lazily, refreshed after a TTL, and a failed refresh keeps the previous one: reference data
improves rows, it never blocks them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import orjson

from ingest.logs import log

KEYS = {"venue": "venue_id", "offerer": "offerer_id"}
"""Snapshot kind → the id column it is joined on."""


@dataclass(frozen=True)
class ReferenceSnapshot:
    attributes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """kind → id → attributes."""

    @classmethod
    def from_lines(cls, lines: Iterable[bytes]) -> "ReferenceSnapshot":
        attributes: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KEYS}
        for line in lines:
            if not line.strip():
                continue
            item = orjson.loads(line)
            kind = item.pop("kind", None)
            key = KEYS.get(kind)
            if key is None or item.get(key) is None:
                continue
            attributes[kind][str(item.pop(key))] = item
        return cls(attributes)

    def lookup(self, kind: str, identifier: Any) -> dict[str, Any] | None:
        return self.attributes.get(kind, {}).get(str(identifier))


class ReferenceData:
    """The current snapshot, (re)loaded through ``load`` at most once per ``ttl_s``."""

    def __init__(self, load: Callable[[], Iterable[bytes]], ttl_s: float, source: str) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._source = source
        self._lock = threading.Lock()
        self._snapshot: ReferenceSnapshot | None = None
        self._loaded_at = float("-inf")

    def snapshot(self) -> ReferenceSnapshot | None:
        if time.monotonic() - self._loaded_at < self._ttl_s:
            return self._snapshot
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl_s:
                self._refresh()
        return self._snapshot

    def _refresh(self) -> None:
        started = time.monotonic()
        try:
            snapshot = ReferenceSnapshot.from_lines(self._load())
        except Exception as error:  # keep serving the previous snapshot (or none)
            log("ERROR", "reference_load_failed", str(error), source=self._source)
            self._loaded_at = started - self._ttl_s / 2  # try again in half a TTL
            return
        self._snapshot, self._loaded_at = snapshot, started
        log("INFO", "reference_loaded", f"reference snapshot loaded from {self._source}", source=self._source,
            **{kind: len(ids) for kind, ids in snapshot.attributes.items()},
            duration_ms=round((time.monotonic() - started) * 1000, 1))
