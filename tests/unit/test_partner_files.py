"""Partner files exactly once per object generation, whatever the platform does: duplicate and
late notifications, concurrent invocations, an invocation killed half-way, files longer than one
invocation, identical re-uploads — over the in-memory store and writer (the same behaviours are
run on the emulators in tests/integration/test_partner_files.py)."""

from __future__ import annotations

import gzip
import threading
import time
from pathlib import Path

import orjson
import pytest

from ingest.config import Settings
from ingest.ledger import Entry, Status, ledger_key
from ingest.partner_files import FileBusy
from ingest.pipeline import Pipeline
from tests.support.fake_writer import FakeWriter
from tests.support.hostile_corpus import event
from tests.support.memory_files import MemoryFiles, ingest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NAME = "events/drop/part-1.ndjson"


class Killed(BaseException):
    """The instance dies (out of memory, timeout): no handler runs, nothing is released."""


def _pipe(**overrides) -> tuple[Pipeline, FakeWriter]:
    writer = FakeWriter()
    settings = Settings(schemas_dir=SCHEMAS, pseudonymisation_key="a-test-key-of-16+chars",
                        **{"file_batch_lines": 10, "file_checkpoint_s": 0, **overrides})
    return Pipeline(settings, writer), writer


def _body(count: int, bad_every: int = 0) -> bytes:
    return b"\n".join(b"{oops" if bad_every and i % bad_every == bad_every - 1 else orjson.dumps(event(i))
                      for i in range(count)) + b"\n"


def _positions(writer: FakeWriter) -> list[int]:
    return sorted(int(r["ingestion_source"].rsplit(":", 1)[1]) for r in writer.rows("pro_event"))


def _entry(files: MemoryFiles, generation: int = 1) -> Entry:
    document, _ = files.documents.load(ledger_key("b", NAME, generation))
    assert document is not None
    return Entry.from_json(document)


def test_a_duplicate_notification_now_or_an_hour_later_writes_nothing():
    pipe, writer = _pipe()
    files = MemoryFiles()
    first = ingest(pipe, NAME, _body(25), files=files)
    assert first.rows_sent == 25 and _entry(files).status is Status.DONE
    requests = len(writer.requests)
    assert ingest(pipe, NAME, files=files, invocation="again").received == 0
    writer.window_expired()  # an hour later BigQuery would store the same insertIds again
    assert ingest(pipe, NAME, files=files, invocation="an-hour-later").received == 0
    assert len(writer.requests) == requests and len(writer.rows("pro_event")) == 25
    [audit] = writer.rows("ingestion_audit")
    assert (audit["received"], audit["rows_sent"], audit["lines"], audit["invocations"]) == (25, 25, 25, 1)


def test_two_invocations_of_one_object_at_once_process_it_once():
    pipe, writer = _pipe()
    files = MemoryFiles()
    files.drop("b", NAME, _body(40))
    outcomes: list[object] = []
    started = threading.Event()
    original = writer.insert

    def slow_insert(table, rows):
        if table == "pro_event" and not started.is_set():
            started.set()
            second = threading.Thread(target=lambda: outcomes.append(_try(pipe, files, "second")))
            second.start()
            second.join()
        return original(table, rows)

    writer.insert = slow_insert  # type: ignore[method-assign]
    ingest(pipe, NAME, files=files, invocation="first")
    assert len(outcomes) == 1 and isinstance(outcomes[0], FileBusy)  # retried later by the platform
    assert ingest(pipe, NAME, files=files, invocation="second-retry").received == 0
    assert _positions(writer) == list(range(1, 41)) and len(writer.rows("ingestion_audit")) == 1


def _try(pipe: Pipeline, files: MemoryFiles, invocation: str) -> object:
    try:
        return ingest(pipe, NAME, files=files, invocation=invocation)
    except FileBusy as error:
        return error


@pytest.mark.parametrize("compress", [False, True])
def test_an_invocation_killed_half_way_is_resumed_after_its_lease_and_nothing_is_doubled(compress):
    pipe, writer = _pipe(file_lease_s=0.2)
    files = MemoryFiles()
    body = _body(95, bad_every=17)
    name = NAME + (".gz" if compress else "")
    files.drop("b", name, gzip.compress(body) if compress else body)
    files.fail_reads = (len(gzip.compress(body)) // 2 if compress else len(body) // 2, Killed())
    with pytest.raises(Killed):
        ingest(pipe, name, files=files, invocation="killed")
    done = _positions(writer)
    assert 0 < len(done) < 95 - 5 and writer.rows("ingestion_audit") == []
    with pytest.raises(FileBusy):  # its lease is still alive
        ingest(pipe, name, files=files, invocation="too-soon")
    document, _ = files.documents.load(ledger_key("b", name, 1))
    checkpoint = Entry.from_json(document).progress
    assert checkpoint.line > 0 and checkpoint.counts.received == len(done) + checkpoint.counts.dead_lettered
    time.sleep(0.3)
    writer.window_expired()  # the retry comes after BigQuery's insertId window: dedupe must not rely on it
    counts = ingest(pipe, name, files=files, invocation="retry")
    assert files.opened[-1] == (0 if compress else checkpoint.offset)  # gzip is inflated again, then skipped
    lines = [n for n in range(1, 96) if n % 17]
    assert _positions(writer) == lines  # every row once: the retry started after the last checkpoint
    assert len({e["error_id"] for e in writer.rows("ingestion_errors")}) == 95 - len(lines)
    [audit] = writer.rows("ingestion_audit")
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"], audit["invocations"]) == (
        95, len(lines), 95 - len(lines), 2)
    assert counts.rows_sent == len(lines) and counts.balanced()


def test_a_plain_file_is_resumed_at_its_byte_offset_not_read_from_the_start():
    pipe, writer = _pipe(file_lease_s=0.2)
    files = MemoryFiles()
    body = _body(50)
    files.drop("b", NAME, body)
    files.fail_reads = (len(body) * 3 // 4, Killed())
    with pytest.raises(Killed):
        ingest(pipe, NAME, files=files, invocation="killed")
    time.sleep(0.3)
    ingest(pipe, NAME, files=files, invocation="retry")
    resumed_at = files.opened[-1]
    assert resumed_at > 0 and body[resumed_at - 1:resumed_at] == b"\n"
    assert _positions(writer) == list(range(1, 51))


def test_a_transient_failure_releases_the_file_so_the_retry_resumes_at_once():
    import requests
    pipe, writer = _pipe(file_lease_s=60)
    files = MemoryFiles()
    body = _body(60)
    files.drop("b", NAME, body)
    files.fail_reads = (len(body) // 2, requests.ConnectionError("reset"))
    with pytest.raises(Exception, match="reading gs://b"):
        ingest(pipe, NAME, files=files, invocation="first")
    ingest(pipe, NAME, files=files, invocation="redelivery")  # no FileBusy: the lease was released
    assert _positions(writer) == list(range(1, 61)) and files.opened[-1] > 0


def test_a_file_longer_than_one_invocation_is_continued_and_audited_once():
    pipe, writer = _pipe(file_time_budget_s=0.01, file_batch_lines=7)
    files = MemoryFiles()
    original = writer.insert

    def slow(table, rows):  # each batch takes longer than the budget
        time.sleep(0.02)
        return original(table, rows)

    writer.insert = slow  # type: ignore[method-assign]
    first = ingest(pipe, NAME, _body(30, bad_every=9), files=files)
    assert files.continuations == [("b", NAME, 1)] and first.received == 7
    assert writer.rows("ingestion_audit") == []
    invocations = 1
    while files.continuations and invocations < 10:
        files.continuations.pop()
        ingest(pipe, NAME, files=files, invocation=f"continuation-{invocations}")
        invocations += 1
    assert invocations == 5  # 30 lines, 7 per invocation
    [audit] = writer.rows("ingestion_audit")
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"], audit["invocations"], audit["lines"]) == (
        30, 27, 3, 5, 30)
    assert _positions(writer) == [n for n in range(1, 31) if n % 9]


def test_an_identical_reupload_is_skipped_and_recorded_unless_asked_otherwise():
    pipe, writer = _pipe()
    files = MemoryFiles()
    body = _body(12)
    ingest(pipe, NAME, body, files=files, generation=1)
    assert ingest(pipe, NAME, body, files=files, generation=2).received == 0
    assert len(writer.rows("pro_event")) == 12
    skipped = [a for a in writer.rows("ingestion_audit") if a["source"].endswith("#2")]
    assert skipped[0]["duplicate_of"] == f"gs://b/{NAME}#1" and skipped[0]["received"] == 0
    assert files.metadata("b", NAME, 2)["ingest-status"] == "skipped-identical"
    assert _entry(files, 2).status is Status.SKIPPED
    forced = ingest(pipe, NAME, body, files=files, generation=3, metadata={"ingest-reprocess": "true"})
    assert forced.rows_sent == 12
    pipe_again, _ = _pipe(reingest_identical_files=True)
    assert ingest(pipe_again, NAME, body, files=files, generation=4).rows_sent == 12


def test_a_partner_sees_how_the_file_went_on_the_object_and_in_a_report():
    pipe, writer = _pipe()
    files = MemoryFiles()
    ingest(pipe, NAME, _body(20, bad_every=6), files=files)
    marks = files.metadata("b", NAME)
    assert marks["ingest-status"] == "done-with-errors" and marks["ingest-rows"] == "17"
    assert marks["ingest-dead-lettered"] == "3" and marks["ingest-report"] == f"gs://b/reports/{NAME}#1.json"
    report = orjson.loads(files.puts[("b", f"reports/{NAME}#1.json")])
    assert [e["line"] for e in report["first_errors"]] == [6, 12, 18]
    assert report["first_errors"][0]["error_type"] == "invalid_json"
    ingest(pipe, "events/clean.ndjson", _body(3), files=files)
    assert files.metadata("b", "events/clean.ndjson")["ingest-status"] == "done"
    assert ("b", "reports/events/clean.ndjson#1.json") not in files.puts


def test_a_report_of_the_partner_bucket_is_never_ingested():
    pipe, writer = _pipe()
    files = MemoryFiles()
    assert ingest(pipe, f"reports/{NAME}#1.json", b'{"x": 1}', files=files).received == 0
    assert writer.rows("ingestion_errors") == [] and writer.rows("ingestion_audit") == []


@pytest.mark.parametrize("compress", [False, True])
def test_a_csv_file_continued_by_another_invocation_keeps_its_header(compress):
    pipe, writer = _pipe(file_time_budget_s=0.01, file_batch_lines=4)
    files = MemoryFiles()
    original = writer.insert

    def slow(table, rows):
        time.sleep(0.02)
        return original(table, rows)

    writer.insert = slow  # type: ignore[method-assign]
    body = b"event_type,inserted_at,user_id,screen_width\n" + b"".join(
        b"track,2026-11-20T08:%02d:00Z,c-%d,%d\n" % (i, i, i) for i in range(11))
    name = "userpilot/drop.csv" + (".gz" if compress else "")
    ingest(pipe, name, gzip.compress(body) if compress else body, files=files)
    invocations = 1
    while files.continuations:
        files.continuations.pop()
        ingest(pipe, name, files=files, invocation=f"continuation-{invocations}")
        invocations += 1
    assert invocations == 3 and writer.rows("ingestion_errors") == []
    rows = sorted(writer.rows("userpilot_event"), key=lambda r: r["screen_width"])
    assert [(r["user_id"], r["screen_width"]) for r in rows] == [(f"c-{i}", i) for i in range(11)]
