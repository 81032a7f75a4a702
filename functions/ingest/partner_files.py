"""One partner file, exactly once per object generation.

claim it in the ledger → skip it if the same content was already ingested → read it from where
the last invocation stopped → write batch by batch, checkpointing → past the time budget, hand it
over to a continuation → at the end, one audit row for the whole file, the ledger closed, the
content registered, and the object marked (plus a report object when lines failed) for its
partner.

At most the lines written since the last checkpoint are sent again after a crash (same insertIds,
same positions: BigQuery's insertId dedupe or, past its window, the deduplicated views absorb
them, and the audit still counts each position once).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator

import orjson

from ingest.contracts import input_field_types
from ingest.decode import decode_line
from ingest.errors import FailureKind, RecordError, TransientError
from ingest.files import (
    REPORTS_PREFIX,
    FileFormatError,
    FileStore,
    Format,
    Line,
    LineStream,
    ObjectMissing,
    ObjectPlan,
    plan_object,
)
from ingest.formats import CsvRecords, JsonArrayElements
from ingest.gzipstream import GzipError, GzipLimitExceeded
from ingest.ledger import (
    Busy,
    Claim,
    Finished,
    Progress,
    Status,
    already_ingested,
    claim,
    content_key,
    ledger_key,
    register_content,
    reopen,
)
from ingest.logs import log
from ingest.records import Record, SourceRef
from ingest.sinks.audit import Counts, FileFacts
from ingest.sinks.dead_letter import SAMPLES

if TYPE_CHECKING:
    from ingest.pipeline import Pipeline

REPROCESS_METADATA = "ingest-reprocess"
"""Object metadata a partner sets (to ``true``) to have an identical re-upload ingested again."""


class FileBusy(TransientError):
    """Another invocation holds this file: this delivery must come back later, not be acked."""


def ingest_file(pipe: Pipeline, *, function: str, bucket: str, name: str, generation: int,
                metadata: dict[str, Any], files: FileStore, invocation: str, plan: ObjectPlan | None = None,
                force: bool = False) -> Counts:
    """The file's counts so far (all of them once it is done, as its one audit row says).
    ``plan`` overrides what the object's name says (a local file); ``force`` reads a file again
    even if it was done, or its content already ingested (``ingest replay --force``)."""
    started = datetime.now(timezone.utc)
    clock_start = time.monotonic()
    settings = pipe.settings
    source = SourceRef(kind="gcs", bucket=bucket, object=name, generation=generation)
    plan = plan or plan_object(name)
    if plan.ignored:
        log("INFO", "object_ignored", f"{name}: not a drop to ingest (archive or report prefix)", source=source.uri())
        return Counts()
    if plan.problem is not None:
        assert plan.kind is not None
        return pipe.reject_whole(function, plan.contract, source, orjson.dumps(metadata),
                                 RecordError.at(plan.kind, "$", plan.problem))
    contract = plan.contract or ""
    try:
        info = files.stat(bucket, name, generation)
    except ObjectMissing as error:
        return pipe.reject_whole(function, contract, source, orjson.dumps(metadata),
                                 RecordError.at(FailureKind.OBJECT_MISSING, "$", str(error)))
    content = content_key(bucket, contract, info.md5, info.crc32c, info.size)
    if force:
        reopen(files.documents, ledger_key(bucket, name, generation))
    held = claim(files.documents, ledger_key(bucket, name, generation), invocation, settings.file_lease_s, content,
                 time.time, started)
    if isinstance(held, Finished):
        log("INFO", "file_already_ingested", f"{source.uri()} was already {held.entry.status}: nothing written",
            source=source.uri(), status=held.entry.status.value)
        return Counts()
    if isinstance(held, Busy):
        raise FileBusy(f"{source.uri()} is being ingested by {held.owner} (lease until {held.lease_until:.0f}); "
                       "retry later")
    progress = held.progress

    reprocess = (force or settings.reingest_identical_files
                 or info.metadata.get(REPROCESS_METADATA, "").lower() == "true")
    duplicate_of = None if reprocess or progress.line else already_ingested(files.documents, content, source.uri())
    if duplicate_of is not None:
        log("INFO", "file_skipped_identical", f"{source.uri()} has the content of {duplicate_of}: not ingested again",
            source=source.uri(), duplicate_of=duplicate_of)
        pipe.finish_file(function, contract, source, progress, _started_at(progress),
                         FileFacts(info.size, 0, progress.invocations, duplicate_of), pipe.dead_letter_for(contract, started))
        held.finish(progress, Status.SKIPPED, duplicate_of)
        _mark(files, source, {"ingest-status": "skipped-identical", "ingest-duplicate-of": duplicate_of})
        return Counts()

    dead_letter = pipe.dead_letter_for(contract, started)
    try:
        if _read(pipe, held, files, source, contract, plan.format, dead_letter, started, clock_start):
            pipe.log_dead_letter(function, contract, source, dead_letter)
            return held.progress.counts  # handed over to a continuation
        pipe.finish_file(function, contract, source, held.progress, _started_at(held.progress),
                         FileFacts(info.size, held.progress.line, held.progress.invocations), dead_letter)
    except TransientError:
        _let_go(held)
        raise
    held.finish(held.progress)
    register_content(files.documents, content, source.uri())
    _report(files, source, held.progress)
    return held.progress.counts


def _read(pipe: Pipeline, held: Claim, files: FileStore, source: SourceRef, contract: str, file_format: Format,
          dead_letter: Any, started: datetime, clock_start: float) -> bool:
    """Batches from where the file was left; True when the time budget ran out and a continuation
    was asked for."""
    settings = pipe.settings
    progress = held.progress
    assert source.bucket is not None and source.object is not None and source.generation is not None
    resume_plain = progress.offset and not progress.gzip
    if file_format is Format.JSON and progress.json_array is None:
        with files.open(source.bucket, source.object, source.generation) as stream:
            progress.json_array = holds_array(_transient_reads(stream, source), settings)
    with files.open(source.bucket, source.object, source.generation,
                    progress.offset if resume_plain else 0) as stream:
        reader = FileRecords(_transient_reads(stream, source), file_format, contract, settings, progress,
                             skip=0 if resume_plain else progress.offset)
        last_checkpoint = time.monotonic()
        for number, batch in enumerate(_batches(reader, settings.file_batch_lines)):
            if number and time.monotonic() - clock_start >= settings.file_time_budget_s:
                # More to read, no time left: what this batch read is left to the continuation.
                held.hand_over(progress)
                files.continue_later(source.bucket, source.object, source.generation)
                log("INFO", "file_continued", f"{source.uri()}: time budget spent at line {progress.line}; "
                    "a continuation takes over", source=source.uri(), lines=progress.line,
                    invocation=progress.invocations, **progress.counts.as_row())
                return True
            records = [record_of(line, source, settings) for line in batch]
            counts = pipe.write_batch(contract, records, started, dead_letter)
            progress.counts.add(counts)
            progress.line, progress.offset = batch[-1].ends_on, batch[-1].end
            progress.gzip, progress.header = reader.gzip, reader.header
            progress.errors = (progress.errors + dead_letter.samples)[:SAMPLES]
            dead_letter.samples.clear()
            if time.monotonic() - last_checkpoint >= settings.file_checkpoint_s:
                held.checkpoint(progress)
                last_checkpoint = time.monotonic()
                log("INFO", "file_progress", f"{source.uri()}: {progress.line} lines read", source=source.uri(),
                    lines=progress.line, offset=progress.offset, rows_sent=progress.counts.rows_sent,
                    dead_lettered=progress.counts.dead_lettered)
    return False


def _let_go(held: Claim) -> None:
    """After a transient failure: keep what was written and free the file, so the redelivery can
    resume at once instead of waiting for the lease to expire (best effort: the lease expires anyway)."""
    try:
        held.hand_over(held.progress)
    except Exception as error:
        log("WARNING", "file_release_failed", str(error))


class FileRecords:
    """The records of a file in its format, from where ``progress`` says the last invocation stopped;
    a file that cannot be read further in its format ends with one broken ``Line``. Also what
    ``ingest validate`` reads a local file with, so a dry run is the function's own path."""

    def __init__(self, read: Callable[[int], bytes], file_format: Format, contract: str, settings: Any,
                 progress: Progress, skip: int = 0) -> None:
        self._lines = LineStream(read, max_line_bytes=settings.max_record_bytes,
                                 max_ratio=settings.max_decompression_ratio, first_line=progress.line,
                                 offset=progress.offset, skip=skip, keep_blank=file_format is Format.CSV)
        self._csv: CsvRecords | None = None
        self._records: Iterable[Line] = self._lines
        if file_format is Format.CSV:
            self._records = self._csv = CsvRecords(self._lines, input_field_types(settings.schemas_dir, contract),
                                                   progress.header, settings.max_record_bytes)
        elif file_format is Format.JSON and progress.json_array:
            self._records = JsonArrayElements(self._lines, first_line=progress.line, resumed=progress.line > 0,
                                              max_record_bytes=settings.max_record_bytes)

    @property
    def gzip(self) -> bool:
        return self._lines.gzip

    @property
    def header(self) -> list[str] | None:
        return self._csv.header if self._csv is not None else None

    def __iter__(self) -> Iterator[Line]:
        try:
            yield from self._records
        except FileFormatError as error:
            yield Line(error.line, b"", 0, self._lines.position, broken=error)


def record_of(line: Line, source: SourceRef, settings: Any) -> Record:
    """A file's unit (a line, a CSV record, an array element, or where the file broke) as a record
    at its line: what ``prepare`` takes."""
    located = source.at(line_number=line.number)
    if isinstance(line.broken, ObjectMissing):
        return Record(raw=line.data, source=located, size=line.length, error=RecordError.at(
            FailureKind.OBJECT_MISSING, "$", f"{line.broken}; every line before this one was read"))
    if line.decoded:
        return Record(raw=line.data, source=located, value=line.value, error=line.error, size=line.length)
    if line.broken is not None:
        setting = (f" (MAX_DECOMPRESSION_RATIO={settings.max_decompression_ratio:g})"
                   if isinstance(line.broken, GzipLimitExceeded) else "")
        return Record(raw=line.data, source=located, size=line.length, error=RecordError.at(
            FailureKind.UNDECODABLE_FILE, "$", f"reading stopped in this line: {line.broken}{setting}; "
            "every line before it was read, the rest of the file was not"))
    if line.length > settings.max_record_bytes:
        return Record(raw=line.data, source=located, size=line.length, error=RecordError.at(
            FailureKind.OVERSIZED, "$", f"line is {line.length} bytes, above "
            f"MAX_RECORD_BYTES={settings.max_record_bytes}"))
    return decode_line(line.data, located, settings.max_record_bytes)


def holds_array(read: Callable[[int], bytes], settings: Any) -> bool:
    """A ``.json`` file is one JSON array when its first character is ``[``, else NDJSON."""
    lines = LineStream(read, max_line_bytes=settings.max_record_bytes, max_ratio=settings.max_decompression_ratio)
    try:
        for chunk in lines.chunks():
            if start := chunk.lstrip():
                return start[:1] == b"["
    except (GzipError, ObjectMissing):
        return False  # then read as lines: the break is recorded where it happens
    return False


def _batches(lines: Iterable[Line], size: int) -> Any:
    batch = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _started_at(progress: Progress) -> datetime:
    return datetime.fromisoformat(progress.started_at)


def _report(files: FileStore, source: SourceRef, progress: Progress) -> None:
    """The partner's view: metadata on the object, and a report object when lines failed."""
    assert source.bucket is not None and source.object is not None
    counts = progress.counts
    marks = {"ingest-status": "done-with-errors" if counts.dead_lettered else "done",
             "ingest-rows": str(counts.rows_sent), "ingest-dead-lettered": str(counts.dead_lettered),
             "ingest-lines": str(progress.line)}
    if counts.dead_lettered:
        report = f"{REPORTS_PREFIX}/{source.object}#{source.generation}.json"
        body = orjson.dumps({"source": source.uri(), "counts": counts.as_row(), "lines": progress.line,
                             "first_errors": progress.errors,
                             "all_errors": "SELECT * FROM ingestion_errors_deduplicated WHERE source.bucket = "
                                           f"'{source.bucket}' AND source.object = '{source.object}' AND "
                                           f"source.generation = {source.generation}"},
                            option=orjson.OPT_INDENT_2)
        try:
            files.put(source.bucket, report, body, "application/json")
            marks["ingest-report"] = f"gs://{source.bucket}/{report}"
        except Exception as error:  # the partner's view must never undo an ingested file
            log("WARNING", "file_report_failed", str(error), source=source.uri())
    _mark(files, source, marks)


def _mark(files: FileStore, source: SourceRef, marks: dict[str, str]) -> None:
    assert source.bucket is not None and source.object is not None and source.generation is not None
    try:
        files.mark(source.bucket, source.object, source.generation, marks)
    except Exception as error:  # overwritten since, or a hiccup: the ledger and the audit hold the truth
        log("WARNING", "file_mark_failed", str(error), source=source.uri())


def _transient_reads(stream: BinaryIO, source: SourceRef) -> Callable[[int], bytes]:
    """The stream's reads, where a failure of the download itself (the network, the service) is
    transient: the file is read again on redelivery, never acked as a bad file."""
    def read(size: int) -> bytes:
        try:
            return stream.read(size)
        except ObjectMissing:
            raise
        except Exception as error:
            raise TransientError(f"reading {source.uri()} failed: {type(error).__name__}: {error}") from error
    return read
