"""Cloud Functions entry points: envelope → core → ack (return) or retry (raise).

Nothing else decides ack versus retry: a ``TransientError`` (or any unexpected failure)
propagates so Pub/Sub / Eventarc redeliver; everything wrong with the input itself has
already been written to ``ingestion_errors`` and the input is acknowledged.

Settings are validated here, when the instance loads this module: a bad value stops the
instance from starting (naming the variable) instead of failing every record it would handle.
"""

from __future__ import annotations

import uuid

import functions_framework
import orjson
from cloudevents.http import CloudEvent
from flask import has_request_context, request

from ingest import clients, envelopes
from ingest.config import settings
from ingest.errors import RecordError
from ingest.invocation import handler
from ingest.logs import log

settings()


def _ingest_pubsub(event: CloudEvent, function: str, contract: str, topic: str) -> None:
    try:
        message = envelopes.pubsub_message(event.get("source"), event.data, topic)
    except RecordError as error:
        _reject_envelope(event, function, contract, error, topic)
        return
    clients.pipeline().ingest_message(function=function, contract=contract, data=message.data,
                                      source=message.source, attributes=message.attributes,
                                      publish_time=message.publish_time)


def _reject_envelope(event: CloudEvent, function: str, contract: str | None, error: RecordError,
                     default_topic: str) -> None:
    """An envelope we cannot read is itself the record: keep the request body as it arrived."""
    source = envelopes.envelope_source(event["type"], event.get("source"), event.get("subject"), event.get("id"),
                                       default_topic)
    raw = request.get_data() if has_request_context() else orjson.dumps(event.data, default=str)
    clients.pipeline().reject_whole(function, contract, source, raw, error)


@functions_framework.cloud_event
@handler("pro_event")
def ingest_events(event: CloudEvent) -> None:
    """Tracking events (pro_event) from Pub/Sub: one event, a JSON array, or NDJSON per message."""
    _ingest_pubsub(event, "ingest_events", "pro_event", settings().events_topic)


@functions_framework.cloud_event
@handler("pro_log")
def ingest_logs(event: CloudEvent) -> None:
    """Backend logs (pro_log) from Pub/Sub: LogEntry exports of a log sink, or bare payloads."""
    _ingest_pubsub(event, "ingest_logs", "pro_log", settings().logs_topic)


@functions_framework.cloud_event
@handler()
def ingest_file(event: CloudEvent) -> None:
    """Partner files: Cloud Storage finalize via Eventarc, a bucket notification via Pub/Sub, or a
    continuation of a file that outlived one invocation (FILE_TASKS_TOPIC)."""
    try:
        ref = envelopes.storage_object(event["type"], event.data, settings().notifications_topic,
                                       event.get("source"))
    except RecordError as error:
        _reject_envelope(event, "ingest_file", None, error, settings().notifications_topic)
        return
    if ref is None:
        log("DEBUG", "notification_ignored", "not an object finalize", event_id=event.get("id"))
        return
    clients.pipeline().ingest_object(function="ingest_file", bucket=ref.bucket, name=ref.name,
                                     generation=ref.generation, metadata=ref.metadata,
                                     files=clients.file_store(), invocation=uuid.uuid4().hex)
