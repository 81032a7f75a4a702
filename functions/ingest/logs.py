"""Structured logs that Cloud Logging parses: one JSON object per line on stdout.

``severity`` and ``message`` are the special fields Cloud Logging maps; every other key
lands in ``jsonPayload`` so log-based metrics can filter on ``jsonPayload.event``.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def log(severity: str, event: str, message: str = "", **fields: Any) -> None:
    from ingest.config import settings

    if _LEVELS.get(severity, 20) < _LEVELS.get(settings().log_level.upper(), 20):
        return
    entry = {"severity": severity, "event": event, "message": message or event, **fields}
    sys.stdout.write(orjson.dumps(entry, default=str).decode() + "\n")
    sys.stdout.flush()
