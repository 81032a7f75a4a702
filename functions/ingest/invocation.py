"""The log context of one invocation, and one structured line for a crash.

``handler`` wraps an entry point of ``main.py``. While it runs, every log line carries the
function, contract, Pub/Sub message id (or bucket, object and generation) and trace of the event
being handled. An exception that escapes the entry point becomes ONE ``invocation_failed`` line
(severity ERROR, the stack trace in ``stack_trace``, where Error Reporting looks first) and the
function answers 500, so Pub/Sub / Eventarc redeliver as before; functions-framework's own
multi-line traceback on stderr is not printed.
"""

from __future__ import annotations

import functools
import re
import traceback
from typing import Any, Callable

from cloudevents.http import CloudEvent
from flask import has_request_context, request
from werkzeug.exceptions import InternalServerError

from ingest.errors import TransientError
from ingest.logs import Invocation, bind, log, route_standard_logging, unbind

Handler = Callable[[CloudEvent], None]

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?")


def _source_labels(event: CloudEvent) -> dict[str, str]:
    """Message id and publish time (a dead-lettered copy keeps only the latter), or bucket, object
    and generation, from whatever shape the event has; never raises."""
    labels: dict[str, str] = {}
    data: Any = event.data
    if not isinstance(data, dict):
        return labels
    message = data.get("message")
    if isinstance(message, dict):
        for label, keys in (("message_id", ("messageId", "message_id")), ("publish_time", ("publishTime", "publish_time"))):
            value = message.get(keys[0]) or message.get(keys[1])
            if value:
                labels[label] = str(value)
        attributes = message.get("attributes")
        if isinstance(attributes, dict):  # a Cloud Storage notification delivered through Pub/Sub
            for label, key in (("bucket", "bucketId"), ("object", "objectId"), ("generation", "objectGeneration")):
                if attributes.get(key):
                    labels[label] = str(attributes[key])
    else:  # a Cloud Storage event delivered by Eventarc: the object resource itself
        for label in ("bucket", "name", "generation"):
            if data.get(label):
                labels["object" if label == "name" else label] = str(data[label])
    return labels


def _trace(event: CloudEvent, project: str) -> tuple[str | None, str | None]:
    """The W3C ``traceparent`` (CloudEvent extension or header), else Cloud Run's
    ``X-Cloud-Trace-Context``, as Cloud Logging's trace and span fields."""
    headers = request.headers if has_request_context() else {}
    parent = event.get("traceparent") or headers.get("traceparent") or ""
    if m := _TRACEPARENT.match(str(parent)):
        return f"projects/{project}/traces/{m[1]}", m[2]
    if m := _CLOUD_TRACE.match(headers.get("X-Cloud-Trace-Context", "")):
        return f"projects/{project}/traces/{m[1]}", (f"{int(m[2]):016x}" if m[2] else None)
    return None, None


def context_of(event: CloudEvent, function: str, contract: str | None, project: str) -> Invocation:
    labels = {"function": function, **({"contract": contract} if contract else {}), **_source_labels(event)}
    if event.get("id"):
        labels["event_id"] = str(event["id"])
    trace, span = _trace(event, project)
    return Invocation(labels, trace, span)


def handler(contract: str | None = None) -> Callable[[Handler], Handler]:
    """``@handler("pro_event")`` under ``@functions_framework.cloud_event`` (it keeps the name,
    which functions-framework registers)."""

    def wrap(entry_point: Handler) -> Handler:
        function = entry_point.__name__

        @functools.wraps(entry_point)
        def run(event: CloudEvent) -> None:
            from ingest.config import settings

            route_standard_logging()
            token = bind(context_of(event, function, contract, settings().project))
            try:
                entry_point(event)
            except Exception as error:
                retried = isinstance(error, TransientError)
                log("ERROR", "invocation_failed",
                    f"{function}: {type(error).__name__}: {error} (answered 500: the event will be delivered again)",
                    error_type=type(error).__name__, transient=retried, stack_trace=traceback.format_exc())
                # An HTTP error, not the exception: Flask answers 500 without printing its own traceback.
                raise InternalServerError(f"{function} failed: {type(error).__name__}") from error
            finally:
                unbind(token)

        return run

    return wrap
