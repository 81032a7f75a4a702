"""Structured logs that Cloud Logging parses: one JSON object per line on stdout.

Cloud Logging maps the special fields of each line: ``severity``, ``message``, ``time`` (RFC 3339,
UTC: local log files get timestamps too), ``logging.googleapis.com/labels`` and
``logging.googleapis.com/trace``. Every other key lands in ``jsonPayload``, where log-based metrics
filter on ``jsonPayload.event``.

The invocation being handled (``Invocation``: function, contract, message id or object and
generation, trace) is set once per request by ``ingest.invocation`` and added to every line as
labels, so one filter (``labels.message_id="…"``) finds all that one message caused.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import orjson

from ingest import config

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LABELS = "logging.googleapis.com/labels"
TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"


@dataclass(frozen=True)
class Invocation:
    """What a line was logged while handling. ``labels`` are strings (Cloud Logging's rule)."""

    labels: dict[str, str]
    trace: str | None = None
    """``projects/P/traces/T``: links the line to the request's trace."""
    span: str | None = None


_CURRENT: ContextVar[Invocation | None] = ContextVar("invocation", default=None)


def bind(invocation: Invocation | None) -> object:
    """Make ``invocation`` the context of the lines logged from now on; returns a token for ``unbind``."""
    return _CURRENT.set(invocation)


def unbind(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def _enabled(severity: str) -> bool:
    return _LEVELS.get(severity, 20) >= _threshold(config.settings().log_level)


@lru_cache(maxsize=8)
def _threshold(log_level: str) -> int:
    """The least severity ``LOG_LEVEL`` lets through (settings are cached: so is this, per value)."""
    return _LEVELS.get(log_level.upper(), 20)


def entry(severity: str, event: str, message: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of one line (tests and the stdlib bridge build lines the same way)."""
    line = {"severity": severity, "time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "event": event, "message": message or event, **fields}
    invocation = _CURRENT.get()
    if invocation is not None:
        line[LABELS] = invocation.labels
        if invocation.trace:
            line[TRACE] = invocation.trace
        if invocation.span:
            line[SPAN] = invocation.span
    return line


def _write(line: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE).decode())
    sys.stdout.flush()


def log(severity: str, event: str, message: str = "", **fields: Any) -> None:
    if _enabled(severity):
        _write(entry(severity, event, message, fields))


class JsonHandler(logging.Handler):
    """Lines of the standard ``logging`` module (client libraries' retries, warnings) in the same
    format, instead of plain text without a timestamp on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            severity = record.levelname if record.levelname in _LEVELS else "INFO"
            fields: dict[str, Any] = {"logger": record.name}
            if record.exc_info:
                fields["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
            _write(entry(severity, "library_log", record.getMessage(), fields))
        except Exception:  # a log line must never break the request that logs it
            self.handleError(record)


def route_standard_logging() -> None:
    """Send the root logger's records, and Python warnings, through ``JsonHandler`` (idempotent).

    google-api-core cuts the ``google`` logger off from the root (``propagate = False``) when a
    client is first made, unless that logger is configured already: it gets its own
    ``JsonHandler`` here, so the client libraries' lines come out once, in the same format.
    """
    root, google = logging.getLogger(), logging.getLogger("google")
    if not any(isinstance(handler, JsonHandler) for handler in root.handlers):
        root.addHandler(JsonHandler())
        logging.captureWarnings(True)
    if not any(isinstance(handler, JsonHandler) for handler in google.handlers):
        google.addHandler(JsonHandler())
        google.propagate = False
