"""Replaying ``ingestion_errors`` after a fix: each record again through the record path.

A record that now passes lands in its table under its *original* position (``ingestion_source``),
so its row is the one the first attempt would have written. A record that still fails is not
dead-lettered a second time — its original error row stays the one copy — the new reason is
recorded instead. Every replayed record gets one ``ingestion_replays`` row (when, which run, what
outcome), and a record with such a row is not selected again unless asked: nothing is replayed
twice by accident.

Failures of a whole message or file (oversized_message, undecodable_message, undecodable_file,
unknown_contract, unsupported_format, object_missing), truncated or withheld payloads, and CSV
records (whose header is in the file, not in the error row) are not records that can be replayed
alone: they are marked ``not_replayable`` (re-run the message or the file instead).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

import orjson
from google.cloud import bigquery

from ingest import contracts
from ingest.decode import decode_line
from ingest.errors import FailureKind
from ingest.pipeline import Pipeline, now, prepare
from ingest.records import Record, SourceRef
from ingest.rowid import stable_id
from ingest.transform.timeutil import bq_timestamp

REPLAYABLE = frozenset({FailureKind.INVALID_JSON, FailureKind.SCHEMA_VIOLATION, FailureKind.INVALID_VALUE,
                        FailureKind.OVERSIZED, FailureKind.REJECTED_BY_BIGQUERY, FailureKind.INTERNAL_ERROR})


@dataclass(frozen=True)
class Selection:
    since: datetime
    until: datetime
    contract: str | None = None
    error_type: str | None = None
    limit: int = 10_000
    again: bool = False
    """Select records already replayed too."""


def select_errors(client: bigquery.Client, dataset: str, selection: Selection) -> Iterator[dict[str, Any]]:
    """The dead letter's records chosen by contract, kind and reception time, one per error_id: read
    from ingestion_errors_deduplicated (a redelivery writes a record's error row again, same id), so
    a record dead-lettered twice is listed and replayed once, received when it first failed."""
    replays = "" if selection.again else (
        f"AND error_id NOT IN (SELECT error_id FROM `{client.project}.{dataset}.ingestion_replays` "
        "WHERE replayed_at >= @since)")
    sql = f"""
        SELECT error_id, contract, error_type, source_kind, source, raw_payload, raw_payload_encoding,
               raw_payload_truncated, received_at
        FROM `{client.project}.{dataset}.ingestion_errors_deduplicated`
        WHERE received_at BETWEEN @since AND @until
          AND (@contract IS NULL OR contract = @contract)
          AND (@error_type IS NULL OR error_type = @error_type)
          {replays}
        ORDER BY received_at
        LIMIT {int(selection.limit)}"""
    config = bigquery.QueryJobConfig(query_parameters=[
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", selection.since),
        bigquery.ScalarQueryParameter("until", "TIMESTAMP", selection.until),
        bigquery.ScalarQueryParameter("contract", "STRING", selection.contract),
        bigquery.ScalarQueryParameter("error_type", "STRING", selection.error_type),
    ])
    for row in client.query(sql, job_config=config).result():
        yield dict(row)


def replay(pipe: Pipeline, errors: Iterable[dict[str, Any]], replay_id: str | None = None) -> list[dict[str, Any]]:
    """Replay each record; write what lands and one ``ingestion_replays`` row per record; those rows."""
    replay_id = replay_id or uuid.uuid4().hex
    settings = pipe.settings
    outcomes: list[dict[str, Any]] = []
    for error in errors:
        outcome = _replay_one(pipe, error)
        outcomes.append({"error_id": error["error_id"], "replay_id": replay_id, "replayed_at": bq_timestamp(now()),
                         "contract": error.get("contract"), "code_version": settings.code_version, **outcome})
    table = contracts.table_schema(settings.schemas_dir, "ingestion_replays").table_id
    rows = [(stable_id(replay_id, o["error_id"]), orjson.dumps(o)) for o in outcomes]
    if rows:
        refused = pipe.insert_json(table, rows)
        if refused:
            raise RuntimeError(f"{table} refused {len(refused)} row(s): {refused[0].reasons}")
    return outcomes


def _replay_one(pipe: Pipeline, error: dict[str, Any]) -> dict[str, Any]:
    record, why_not = _record(error, pipe.settings.max_record_bytes)
    if record is None:
        return {"outcome": "not_replayable", "reason": why_not}
    contract = error["contract"]
    prepared = prepare(contract, [record], pipe.settings, received_at=now(), reference=pipe.reference_snapshot())
    counts = prepared.counts
    if counts.rows_sent:
        table = contracts.table_schema(pipe.settings.schemas_dir, contract).table_id
        refused = pipe.insert_json(table, prepared.rows)  # JSON rows: the row_id is read back below
        if refused:
            reason = refused[0].reasons[0]
            return {"outcome": "still_failing", "error_type": FailureKind.REJECTED_BY_BIGQUERY.value,
                    "reason": f"{reason.path}: {reason.message}"}
        return {"outcome": "row", "row_id": orjson.loads(prepared.rows[0][1])["row_id"]}
    if counts.dead_lettered:
        [sample] = prepared.dead_letter.samples
        return {"outcome": "still_failing", "error_type": sample["error_type"], "reason": sample["reason"]}
    return {"outcome": "consent_dropped" if counts.consent_dropped else "skipped"}


def _record(error: dict[str, Any], max_record_bytes: int) -> tuple[Record | None, str]:
    """The record as first received, with its original position; or why it cannot be replayed."""
    kind = error["error_type"]
    if kind not in REPLAYABLE or not error.get("contract"):
        return None, f"{kind} is a failure of a whole message or file: re-run it instead"
    if error.get("raw_payload_truncated"):
        return None, "the dead letter holds only the first bytes of this record"
    encoding = error.get("raw_payload_encoding")
    if encoding == "withheld" or error.get("raw_payload") is None:
        return None, "the payload was withheld (consent denied)"
    source = _source(error["source_kind"], error.get("source") or {})
    if source.kind == "gcs" and (source.object or "").lower().removesuffix(".gz").endswith(".csv"):
        return None, "a CSV record is read with its file's header: re-run the file instead"
    raw = base64.b64decode(error["raw_payload"]) if encoding == "base64" else error["raw_payload"].encode()
    return decode_line(raw, source, max_record_bytes), ""


def _source(kind: str, fields: dict[str, Any]) -> SourceRef:
    published = fields.get("publish_time")
    if isinstance(published, datetime):
        published = bq_timestamp(published.astimezone(timezone.utc))
    return SourceRef(kind=kind, topic=fields.get("topic"), message_id=fields.get("message_id"),
                     publish_time=published, record_index=fields.get("record_index"),
                     bucket=fields.get("bucket"), object=fields.get("object"), generation=fields.get("generation"),
                     line_number=fields.get("line_number"))
