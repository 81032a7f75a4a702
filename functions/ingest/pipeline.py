"""The one place a record's path reads top to bottom:
decode → validate → consent → enrich/transform → write → dead-letter → audit.

``prepare`` is pure (no I/O: unit tests and benchmarks call it directly); ``Pipeline``
adds the writes. Only sink failures raise (``TransientError``); everything wrong with a
record ends in ``ingestion_errors`` with its raw bytes and every reason.
"""

from __future__ import annotations

import traceback
import zlib
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

import orjson

from ingest import contracts
from ingest.config import Settings
from ingest.consent import Action, check_policies, load_policy
from ingest.decode import decode_line, split_message
from ingest.enrich.reference import ReferenceData, ReferenceSnapshot
from ingest.errors import Reason, RecordError, TransientError
from ingest.files import ObjectMissing, iter_lines, open_lines, plan_object
from ingest.logs import log
from ingest.records import Record, SourceRef
from ingest.rowid import row_id
from ingest.sinks.audit import Counts, audit_row
from ingest.sinks.bigquery import BigQueryWriter
from ingest.sinks.dead_letter import error_row
from ingest.transform import pro_event, pro_log, userpilot_event
from ingest.transform.context import SkipRecord, TransformContext
from ingest.transform.timeutil import bq_timestamp

Transform = Callable[[dict[str, Any], TransformContext], dict[str, Any]]

TRANSFORMS: dict[str, Transform] = {
    "pro_event": pro_event.to_row,
    "pro_log": pro_log.to_row,
    "userpilot_event": userpilot_event.to_row,
}

Row = tuple[str, dict[str, Any]]
ObjectOpener = Callable[[str, str, int], AbstractContextManager[BinaryIO]]
"""(bucket, name, generation) → a binary stream of that exact generation."""
T = TypeVar("T")


@dataclass
class Prepared:
    """What a batch of records becomes before anything is written."""

    rows: list[Row] = field(default_factory=list)
    sources: dict[str, Record] = field(default_factory=dict)
    errors: list[Row] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)


def now() -> datetime:
    return datetime.now(timezone.utc)


def prepare(contract: str, records: Iterable[Record], settings: Settings, *,
            received_at: datetime, publish_time: datetime | None = None,
            attributes: dict[str, str] | None = None, reference: ReferenceSnapshot | None = None) -> Prepared:
    table = contracts.table_schema(settings.schemas_dir, contract)
    validator = contracts.input_validator(settings.schemas_dir, contract)
    policy = load_policy(settings.schemas_dir, contract)
    transform = TRANSFORMS[contract]
    ingested_at = bq_timestamp(received_at)
    out = Prepared()
    tally: Counter[str] = Counter()
    contexts: dict[Action, TransformContext] = {}

    def reject(record: Record, error: RecordError) -> None:
        out.counts.invalid += 1
        out.errors.append(error_row(
            raw=record.raw, source=record.source, contract=contract, error_type=error.error_type,
            reasons=error.reasons, received_at=received_at, code_version=settings.code_version,
            payload_limit=settings.dead_letter_payload_bytes, attributes=attributes, size=record.size))

    rows, sources, counts = out.rows, out.sources, out.counts
    for record in records:
        counts.received += 1
        if record.error is not None:
            reject(record, record.error)
            continue
        value = record.value
        if not isinstance(value, dict):
            reject(record, RecordError("schema_violation", [Reason("$", "a record must be a JSON object")]))
            continue
        reasons = validator.errors(value)
        if reasons:
            reject(record, RecordError("schema_violation", reasons))
            continue
        action = Action.KEEP
        if policy is not None:
            _, action = policy.action(value)
            if action is Action.DROP:
                counts.consent_dropped += 1
                continue
        ctx = contexts.get(action)
        if ctx is None:
            ctx = contexts[action] = TransformContext(
                settings=settings, table=table, received_at=received_at, publish_time=publish_time,
                consent_action=action, reference=reference, tally=tally)
        try:
            row = transform(value, ctx)
        except SkipRecord:
            counts.skipped += 1
            continue
        except RecordError as error:
            reject(record, error)
            continue
        except Exception as error:  # a bug must cost one record, never the whole batch
            log("ERROR", "transform_failed", str(error), contract=contract, source=record.source.uri(),
                traceback=traceback.format_exc())
            reject(record, RecordError("internal_error", [Reason("$", f"{type(error).__name__}: {error}")]))
            continue
        identity = row_id(contract, value)
        if identity in sources:
            counts.duplicates += 1
            continue
        row["row_id"] = identity
        row["ingested_at"] = ingested_at
        row["ingestion_source"] = record.source.uri()
        rows.append((identity, row))
        sources[identity] = record
        if action is Action.PSEUDONYMISE:
            counts.pseudonymised += 1
    counts.written = len(rows)
    counts.reference_misses = tally["reference_misses"]
    if tally["reference_bad_values"]:
        log("WARNING", "reference_bad_values", "reference values that do not fit their column were left out",
            contract=contract, count=tally["reference_bad_values"])
    return out


class Pipeline:
    """Binds ``prepare`` to the BigQuery sinks; one instance per process."""

    def __init__(self, settings: Settings, writer: BigQueryWriter, reference: ReferenceData | None = None) -> None:
        self.settings = settings
        self.writer = writer
        self.reference = reference
        check_policies(settings.schemas_dir, tuple(TRANSFORMS), settings.pseudonymisation_key)
        self._errors_table = contracts.table_schema(settings.schemas_dir, "ingestion_errors").table_id
        self._audit_table = contracts.table_schema(settings.schemas_dir, "ingestion_audit").table_id

    def write(self, contract: str, prepared: Prepared, *, received_at: datetime) -> Counts:
        """Rows first, then what BigQuery refused and what never got that far."""
        table = contracts.table_schema(self.settings.schemas_dir, contract).table_id
        errors = list(prepared.errors)
        for rejection in self.writer.insert(table, prepared.rows):
            record = prepared.sources[rejection.row_id]
            prepared.counts.written -= 1
            prepared.counts.invalid += 1
            errors.append(error_row(
                raw=record.raw, source=record.source, contract=contract, error_type="rejected_by_bigquery",
                reasons=rejection.reasons, received_at=received_at, code_version=self.settings.code_version,
                payload_limit=self.settings.dead_letter_payload_bytes))
        self.dead_letter(errors)
        return prepared.counts

    def dead_letter(self, errors: list[Row]) -> None:
        if not errors:
            return
        refused = self.writer.insert(self._errors_table, errors)
        if refused:
            # The dead letter is the last resort: if it refuses a row, retrying is the only way
            # not to lose it.
            reasons = "; ".join(f"{r.path}: {r.message}" for x in refused for r in x.reasons)
            raise TransientError(f"ingestion_errors refused {len(refused)} row(s): {reasons}")
        log("WARNING", "records_dead_lettered", f"{len(errors)} record(s) sent to ingestion_errors",
            count=len(errors), error_types=sorted({row["error_type"] for _, row in errors}))

    def audit(self, *, function: str, contract: str | None, source: SourceRef, counts: Counts,
              started_at: datetime) -> None:
        finished = now()
        identity, row = audit_row(function=function, contract=contract, source_kind=source.kind,
                                  source=source.batch_uri(), counts=counts, started_at=started_at,
                                  finished_at=finished, code_version=self.settings.code_version)
        self.writer.insert(self._audit_table, [(identity, row)])
        log("INFO", "ingested", f"{function}: {counts.written}/{counts.received} written",
            contract=contract, source=source.batch_uri(), balanced=counts.balanced(), **vars(counts),
            duration_ms=round((finished - started_at).total_seconds() * 1000, 1))

    def ingest_message(self, *, function: str, contract: str, data: bytes, source: SourceRef,
                       attributes: dict[str, str] | None, publish_time: datetime | None) -> Counts:
        started = now()
        records = split_message(data, source, self.settings.max_record_bytes, self.settings.max_message_bytes)
        prepared = prepare(contract, records, self.settings, received_at=started,
                           publish_time=publish_time, attributes=attributes, reference=self._snapshot())
        counts = self.write(contract, prepared, received_at=started)
        self.audit(function=function, contract=contract, source=source, counts=counts, started_at=started)
        return counts

    def ingest_object(self, *, function: str, bucket: str, name: str, generation: int,
                      metadata: dict[str, Any], open_object: ObjectOpener) -> Counts:
        """A dropped file, streamed line by line and written one batch of lines at a time."""
        started = now()
        source = SourceRef(kind="gcs", bucket=bucket, object=name, generation=generation)
        plan = plan_object(name)
        if plan.ignored:
            log("INFO", "object_ignored", f"{name}: archive prefix, not ingested", source=source.uri())
            return Counts()
        if plan.problem is not None:
            return self._reject_object(function, plan.contract, source, metadata, plan.error_type or "",
                                       plan.problem, started)
        contract = plan.contract or ""
        total = Counts()
        line_number = 0
        try:
            with open_object(bucket, name, generation) as stream:
                lines = iter_lines(open_lines(stream), self.settings.max_record_bytes)
                for batch_number, batch in enumerate(_batched(lines, self.settings.file_batch_lines), 1):
                    records = [self._line_record(number, line, length, source) for number, line, length in batch]
                    line_number = batch[-1][0]
                    prepared = prepare(contract, records, self.settings, received_at=started,
                                       reference=self._snapshot())
                    total.add(self.write(contract, prepared, received_at=started))
                    log("INFO", "file_progress", f"{name}: {line_number} lines read", source=source.uri(),
                        batch=batch_number, lines=line_number, written=total.written, invalid=total.invalid)
        except ObjectMissing as error:
            return self._reject_object(function, contract, source, metadata, "object_missing", str(error), started)
        except (OSError, EOFError, zlib.error) as error:
            # A corrupt or truncated gzip stream: what came before it is loaded, the rest of the
            # object is recorded once with the line where reading stopped.
            bad = Counts(received=1, invalid=1)
            self.dead_letter([error_row(
                raw=orjson.dumps(metadata), source=SourceRef(kind="gcs", bucket=bucket, object=name,
                                                             generation=generation, line_number=line_number + 1),
                contract=contract, error_type="undecodable_file", reasons=[Reason("$", f"{type(error).__name__}: {error}")],
                received_at=started, code_version=self.settings.code_version,
                payload_limit=self.settings.dead_letter_payload_bytes)])
            total.add(bad)
        self.audit(function=function, contract=contract, source=source, counts=total, started_at=started)
        return total

    def _snapshot(self) -> ReferenceSnapshot | None:
        return self.reference.snapshot() if self.reference is not None else None

    def _line_record(self, number: int, line: bytes, length: int, source: SourceRef) -> Record:
        located = source.at(line_number=number)
        if length > self.settings.max_record_bytes:
            return Record(raw=line, source=located, size=length, error=RecordError("oversized", [
                Reason("$", f"line is {length} bytes, limit is {self.settings.max_record_bytes}")]))
        return decode_line(line, located, self.settings.max_record_bytes)

    def _reject_object(self, function: str, contract: str | None, source: SourceRef, metadata: dict[str, Any],
                       error_type: str, problem: str, started: datetime) -> Counts:
        counts = Counts(received=1, invalid=1)
        self.dead_letter([error_row(raw=orjson.dumps(metadata), source=source, contract=contract,
                                    error_type=error_type, reasons=[Reason("$", problem)], received_at=started,
                                    code_version=self.settings.code_version,
                                    payload_limit=self.settings.dead_letter_payload_bytes)])
        self.audit(function=function, contract=contract, source=source, counts=counts, started_at=started)
        return counts


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
