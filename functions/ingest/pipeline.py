"""The one place a record's path reads top to bottom:
decode → consent → validate → transform → identity → encode → write → dead-letter → audit.

``prepare`` is pure (no I/O: unit tests and benchmarks call it directly); ``Pipeline`` adds the
reads and writes. Each record goes through every record-level step inside one guard, so a
record that breaks any of them — however hostile — costs that record only: it is dead-lettered
with its exact bytes and a reason, and the rest of its message or file lands. Only the sinks
and the object download raise (``TransientError``), so the input is delivered again.
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

import orjson

from ingest import contracts
from ingest.config import Settings
from ingest.consent import Action, Signal, check_policies, load_policy
from ingest.decode import split_message
from ingest.enrich.reference import ReferenceData, ReferenceSnapshot
from ingest.errors import FailureKind, RecordError, TransientError
from ingest.files import PREFIX_CONTRACTS, FileStore, ObjectPlan
from ingest.ledger import Progress
from ingest.logs import log
from ingest.partner_files import ingest_file
from ingest.records import Record, SourceRef
from ingest.rowid import content_id, emission_id, insert_id
from ingest.sinks.audit import Counts, FileFacts, audit_row
from ingest.sinks.bigquery import BigQueryWriter, Rejection, RowEncoder, json_row
from ingest.sinks.dead_letter import DeadLetter, Row
from ingest.sinks.storage_write import StorageWriter
from ingest.transform import pro_event, pro_log, userpilot_event
from ingest.transform.context import SkipRecord, TransformContext
from ingest.transform.timeutil import bq_timestamp

Transform = Callable[[dict[str, Any], TransformContext], dict[str, Any]]


@dataclass(frozen=True)
class Contract:
    transform: Transform
    emission_key: Callable[[dict[str, Any]], list[str] | None] | None = None
    """For ``emission`` identities: what names the emitted record, when it says (else its position)."""


CONTRACTS: dict[str, Contract] = {
    "pro_event": Contract(pro_event.to_row),
    "pro_log": Contract(pro_log.to_row, pro_log.emission_key),
    "userpilot_event": Contract(userpilot_event.to_row),
}

ENTRY_POINT_CONTRACTS: dict[str, tuple[str, ...]] = {
    "ingest_events": ("pro_event",),
    "ingest_logs": ("pro_log",),
    "ingest_file": tuple(dict.fromkeys(PREFIX_CONTRACTS.values())),
}
"""The contracts each function of ``functions/main.py`` ingests (a file's prefix picks its contract)."""



class Sent(NamedTuple):
    """What the audit needs to know of a row sent, should BigQuery refuse it."""

    record: Record
    pseudonymised: bool
    unmapped: bool


class SentRows(Mapping[str, Sent]):
    """insertId → ``Sent``, for the rows of one ``Prepared``. BigQuery refuses a row rarely, so
    ``prepare`` keeps only each row's record (and the few rows that are pseudonymised or carry
    unmapped fields): the insertId index and the ``Sent`` are made on the first lookup."""

    __slots__ = ("_rows", "records", "pseudonymised", "unmapped", "_index")

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows
        self.records: list[Record] = []
        """``records[i]`` is where ``rows[i]`` came from."""
        self.pseudonymised: set[int] = set()
        self.unmapped: set[int] = set()
        self._index: dict[str, int] | None = None

    def _positions(self) -> dict[str, int]:
        if self._index is None:
            self._index = {key: i for i, (key, _) in enumerate(self._rows)}
        return self._index

    def __getitem__(self, insert_id: str) -> Sent:
        i = self._positions()[insert_id]
        return Sent(self.records[i], i in self.pseudonymised, i in self.unmapped)

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class Prepared:
    """What a batch of records becomes before anything is written."""

    dead_letter: DeadLetter
    rows: list[Row] = field(default_factory=list)
    """(insertId, the row as JSON), ready for the contract's table."""
    sent: SentRows = field(init=False)
    """insertId → where the row came from."""
    counts: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        self.sent = SentRows(self.rows)


def now() -> datetime:
    return datetime.now(timezone.utc)


def prepare(contract: str, records: Iterable[Record], settings: Settings, *,
            received_at: datetime, publish_time: datetime | None = None,
            attributes: dict[str, str] | None = None, reference: ReferenceSnapshot | None = None,
            dead_letter: DeadLetter | None = None, encode: RowEncoder | None = None) -> Prepared:
    table = contracts.table_schema(settings.schemas_dir, contract)
    validator = contracts.input_validator(settings.schemas_dir, contract)
    policy = load_policy(settings.schemas_dir, contract)
    spec = CONTRACTS[contract]
    transform, content, exclude = spec.transform, table.identity_kind == "content", table.identity_exclude
    partition = table.partition_column or ""
    encode = encode or json_row
    ingested_at = bq_timestamp(received_at)
    if dead_letter is None:
        dead_letter = DeadLetter(contract=contract, received_at=received_at, code_version=settings.code_version,
                                 payload_limit=settings.dead_letter_payload_bytes, attributes=attributes)
    out = Prepared(dead_letter)
    tally: Counter[str] = Counter()
    contexts: dict[Action, TransformContext] = {}
    keep_ctx: TransformContext | None = None  # the usual context, found without hashing an Enum
    seen: set[str] = set()
    rows, counts = out.rows, out.counts
    sources, pseudonymised_rows, unmapped_rows = out.sent.records, out.sent.pseudonymised, out.sent.unmapped
    # Per record, only what a row needs; the counts follow from these at the end (locals, not
    # attributes: this loop runs once per event).
    keep, drop, pseudonymise, denied = Action.KEEP, Action.DROP, Action.PSEUDONYMISE, Signal.DENIED
    unmapped_column = contracts.UNMAPPED_COLUMN
    received = dead_lettered = consent_dropped = skipped = duplicates = 0
    earliest: str | None = None  # the least partition value: its date is the least date

    for record in records:
        received += 1
        if record.error is not None:
            dead_lettered += 1
            dead_letter.add(record.raw, record.source, record.error, record.size)
            continue
        value = record.value
        action = keep
        try:
            if not isinstance(value, dict):
                raise RecordError.at(FailureKind.SCHEMA_VIOLATION, "$", "a record must be a JSON object")
            if policy is not None:
                signal, action = policy.action(value)
                if action is drop and signal is denied:
                    # Refused before anything else: not even an invalid copy is kept.
                    consent_dropped += 1
                    continue
            reasons = validator.errors(value)
            if reasons:
                raise RecordError(FailureKind.SCHEMA_VIOLATION, reasons)
            if action is drop:
                consent_dropped += 1
                continue
            ctx = keep_ctx if action is keep else contexts.get(action)
            if ctx is None:
                ctx = contexts[action] = TransformContext(
                    settings=settings, table=table, received_at=received_at, publish_time=publish_time,
                    consent_action=action, reference=reference, tally=tally)
                if action is keep:
                    keep_ctx = ctx
            row = transform(value, ctx)
            position = record.source.uri()
            if content:
                identity, canonical, left_out = content_id(contract, row, exclude)
            else:
                emitted = spec.emission_key(value) if spec.emission_key else None
                identity, canonical, left_out = emission_id(contract, emitted or [position]), b"{}", row
            if identity in seen:
                duplicates += 1
                continue
            left_out["row_id"] = identity
            left_out["ingested_at"] = ingested_at
            left_out["ingestion_source"] = position
            encoded = encode(row, left_out, canonical)
        except SkipRecord:
            skipped += 1
            continue
        except RecordError as error:
            dead_lettered += 1
            dead_letter.add(record.raw, record.source, error, record.size, withhold=action is pseudonymise)
            continue
        except Exception as error:  # a bug must cost one record, never the whole batch
            log("ERROR", "record_failed", f"{type(error).__name__}: {error}", contract=contract,
                source=record.source.uri(), stack_trace=traceback.format_exc())
            dead_lettered += 1
            dead_letter.add(record.raw, record.source, RecordError.at(
                FailureKind.INTERNAL_ERROR, "$", f"{type(error).__name__}: {error}"), record.size,
                withhold=action is pseudonymise)
            continue
        seen.add(identity)
        if action is pseudonymise:
            pseudonymised_rows.add(len(rows))
        if unmapped_column in row:
            unmapped_rows.add(len(rows))
        rows.append((insert_id(identity, position), encoded))
        sources.append(record)
        day = row.get(partition) or left_out.get(partition)
        if day and (earliest is None or day < earliest):
            earliest = day
    counts.received, counts.dead_lettered, counts.consent_dropped = received, dead_lettered, consent_dropped
    counts.skipped, counts.duplicates_in_batch = skipped, duplicates
    counts.pseudonymised, counts.unmapped = len(pseudonymised_rows), len(unmapped_rows)
    counts.note_partition(earliest and earliest[:10])
    counts.rows_sent = len(rows)
    counts.reference_misses = tally["reference_misses"]
    if tally["reference_bad_values"]:
        log("WARNING", "reference_bad_values", "reference values that do not fit their column were left out",
            contract=contract, count=tally["reference_bad_values"])
    return out


class Pipeline:
    """Binds ``prepare`` to the BigQuery sinks; one instance per process."""

    def __init__(self, settings: Settings, writer: BigQueryWriter | StorageWriter, reference: ReferenceData | None = None) -> None:
        self.settings = settings
        self.writer = writer
        self.reference = reference
        check_policies(settings.schemas_dir, ENTRY_POINT_CONTRACTS.get(settings.function_target, tuple(CONTRACTS)),
                       settings.pseudonymisation_key)
        self._errors_table = contracts.table_schema(settings.schemas_dir, "ingestion_errors").table_id
        self._audit_table = contracts.table_schema(settings.schemas_dir, "ingestion_audit").table_id

    def ingest_message(self, *, function: str, contract: str, data: bytes, source: SourceRef,
                       attributes: dict[str, str] | None, publish_time: datetime | None) -> Counts:
        started = now()
        dead_letter = self.dead_letter_for(contract, started, attributes)
        records = split_message(data, source, self.settings)
        prepared = prepare(contract, records, self.settings, received_at=started, publish_time=publish_time,
                           attributes=attributes, reference=self.reference_snapshot(), dead_letter=dead_letter,
                           encode=self._encoder(contract))
        counts = self._write(contract, prepared)
        self._finish(function, contract, source, counts, dead_letter, started)
        return counts

    def ingest_object(self, *, function: str, bucket: str, name: str, generation: int,
                      metadata: dict[str, Any], files: FileStore, invocation: str, plan: ObjectPlan | None = None,
                      force: bool = False) -> Counts:
        """A dropped file, exactly once per generation (``ingest.partner_files``): what this
        invocation did."""
        return ingest_file(self, function=function, bucket=bucket, name=name, generation=generation,
                           metadata=metadata, files=files, invocation=invocation, plan=plan, force=force)

    def write_batch(self, contract: str, records: list[Record], received_at: datetime,
                    dead_letter: DeadLetter) -> Counts:
        """One batch of a file's records, prepared and written (dead letter included)."""
        prepared = prepare(contract, records, self.settings, received_at=received_at, reference=self.reference_snapshot(),
                           dead_letter=dead_letter, encode=self._encoder(contract))
        return self._write(contract, prepared)

    def finish_file(self, function: str, contract: str, source: SourceRef, progress: Progress,
                    started_at: datetime, facts: FileFacts, dead_letter: DeadLetter) -> None:
        """The one audit row of a whole file, from the counts of every invocation it took."""
        self._finish(function, contract, source, progress.counts, dead_letter, started_at, facts)

    def reject_whole(self, function: str, contract: str | None, source: SourceRef, raw: bytes,
                     error: RecordError) -> Counts:
        """An input that is not records at all (an unreadable envelope, a file of no contract):
        it is itself the one record, dead-lettered whole."""
        started = now()
        dead_letter = self.dead_letter_for(contract, started, None)
        dead_letter.add(raw, source, error)
        self._flush(dead_letter)
        counts = Counts(received=1, dead_lettered=1)
        self._finish(function, contract, source, counts, dead_letter, started)
        return counts

    def dead_letter_for(self, contract: str | None, started: datetime,
                        attributes: dict[str, str] | None = None) -> DeadLetter:
        return DeadLetter(contract=contract, received_at=started, code_version=self.settings.code_version,
                          payload_limit=self.settings.dead_letter_payload_bytes, attributes=attributes)

    def _encoder(self, contract: str) -> RowEncoder:
        """The sink's encoding of the contract's rows; a sink that takes JSON rows needs none."""
        encoder = getattr(self.writer, "encoder", None)
        return encoder(contracts.table_schema(self.settings.schemas_dir, contract).table_id) if encoder else json_row

    def insert_json(self, table: str, rows: list[Row]) -> list[Rejection]:
        """Rows built as JSON outside ``prepare`` (dead letter, audit, replays), written in the sink's
        encoding: a few rows per invocation, so their second conversion is not worth a second row
        builder. A value the sink cannot encode raises ``RecordError``."""
        encoder = getattr(self.writer, "encoder", None)
        if encoder is not None:
            encode = encoder(table)
            rows = [(key, encode(orjson.loads(data), {}, b"{}")) for key, data in rows]
        return self.writer.insert(table, rows)

    def _write(self, contract: str, prepared: Prepared) -> Counts:
        """Rows first, then what BigQuery refused and what never got that far."""
        table = contracts.table_schema(self.settings.schemas_dir, contract).table_id
        counts = prepared.counts
        for rejection in self.writer.insert(table, prepared.rows):
            sent = prepared.sent[rejection.insert_id]
            counts.rows_sent -= 1
            counts.pseudonymised -= sent.pseudonymised
            counts.unmapped -= sent.unmapped
            counts.dead_lettered += 1
            prepared.dead_letter.add(sent.record.raw, sent.record.source,
                                     RecordError(FailureKind.REJECTED_BY_BIGQUERY, rejection.reasons),
                                     sent.record.size, withhold=sent.pseudonymised)
        self._flush(prepared.dead_letter)
        return counts

    def _flush(self, dead_letter: DeadLetter) -> None:
        rows = dead_letter.take()
        if not rows:
            return
        refused = self.insert_json(self._errors_table, rows)
        if refused:
            # The dead letter is the last resort: if it refuses a row, retrying is the only way
            # not to lose it.
            reasons = "; ".join(f"{r.path}: {r.message}" for x in refused for r in x.reasons)
            raise TransientError(f"{self._errors_table} refused {len(refused)} row(s): {reasons}")

    def log_dead_letter(self, function: str, contract: str | None, source: SourceRef,
                        dead_letter: DeadLetter) -> None:
        """One line per invocation for what it dead-lettered (alerted on in production)."""
        if dead_letter.kinds:
            log("WARNING", "records_dead_lettered", f"{function}: {sum(dead_letter.kinds.values())} record(s) sent "
                f"to {self._errors_table}", function=function, contract=contract, source=source.batch_uri(),
                count=sum(dead_letter.kinds.values()), error_types={k.value: n for k, n in dead_letter.kinds.items()})

    def _finish(self, function: str, contract: str | None, source: SourceRef, counts: Counts,
                dead_letter: DeadLetter, started: datetime, file: FileFacts | None = None) -> None:
        """One audit row and one log line per invocation (and one line for its dead letter)."""
        batch = source.batch_uri()
        self.log_dead_letter(function, contract, source, dead_letter)
        finished = now()
        identity, row = audit_row(function=function, contract=contract, source_kind=source.kind, source=batch,
                                  counts=counts, started_at=started, finished_at=finished,
                                  code_version=self.settings.code_version, file=file)
        refused = self.insert_json(self._audit_table, [(identity, row)])
        if refused:
            reasons = "; ".join(f"{r.path}: {r.message}" for r in refused[0].reasons)
            raise TransientError(f"{self._audit_table} refused the audit row of {batch}: {reasons}")
        log("INFO", "ingested", f"{function}: {counts.rows_sent}/{counts.received} rows sent", function=function,
            contract=contract, source=batch, balanced=counts.balanced(), **counts.as_row(),
            duration_ms=round((finished - started).total_seconds() * 1000, 1))

    def reference_snapshot(self) -> ReferenceSnapshot | None:
        """The reference data to join now (refreshed after its TTL), if any is configured."""
        return self.reference.snapshot() if self.reference is not None else None
