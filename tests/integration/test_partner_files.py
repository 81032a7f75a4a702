"""Partner files exactly once per object generation, on the real emulators: fake-gcs-server's
conditional writes hold the ledger, the Pub/Sub emulator carries continuations back to the
function, and local-bigquery holds the rows."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import orjson
import pytest
from google.cloud import pubsub_v1, storage

from ingest.clients import build_pipeline
from ingest.config import Settings
from ingest.errors import TransientError
from ingest.gcs import GcsFiles
from ingest.partner_files import FileBusy
from tests.integration.conftest import CFG, eventually
from tests.support.hostile_corpus import event
from tools.local_run import FILE_TASKS_TOPIC, STATE_BUCKET


class Killed(BaseException):
    """The instance dies mid-file: no handler runs."""


class _KilledAfter(GcsFiles):
    """The real store, whose next download dies after ``budget`` bytes."""

    budget: int | None = None

    def open(self, bucket: str, name: str, generation: int, start: int = 0) -> Any:
        opened = super().open(bucket, name, generation, start)
        budget, self.budget = self.budget, None
        if budget is None:
            return opened

        class Dying:
            def __enter__(inner) -> Any:
                stream = opened.__enter__()

                class Reader:
                    def read(self, size: int = -1) -> bytes:
                        nonlocal budget
                        if budget <= 0:
                            raise Killed()
                        chunk = stream.read(min(size, budget))
                        budget -= len(chunk)
                        return chunk
                return Reader()

            def __exit__(inner, *exc: Any) -> Any:
                return opened.__exit__(*exc)
        return Dying()


def _pipeline(names, **overrides):
    settings = Settings(**{"project": CFG.project, "dataset": names.dataset, "bigquery_emulator_host": CFG.bigquery_url,
                           "bigquery_grpc_emulator_host": CFG.bigquery_grpc_target, "bigquery_stream_max_age_s": 5,
                           "bigquery_timeout_s": 10, "state_bucket": STATE_BUCKET,
                           "file_tasks_topic": FILE_TASKS_TOPIC, **overrides})
    return build_pipeline(settings)


def _files(cls=GcsFiles) -> GcsFiles:
    publisher = pubsub_v1.PublisherClient()
    return cls(storage.Client(project=CFG.project), STATE_BUCKET, publisher,
               publisher.topic_path(CFG.project, FILE_TASKS_TOPIC), 10)


def _upload(bucket, name: str, lines: list[bytes]) -> int:
    blob = bucket.blob(name)
    blob.upload_from_string(b"\n".join(lines) + b"\n")
    return int(blob.generation)


def _ingest(pipe, files, name: str, generation: int, invocation: str):
    return pipe.ingest_object(function="ingest_file", bucket=CFG.bucket, name=name, generation=generation,
                              metadata={}, files=files, invocation=invocation)


def _marked(marker: str, count: int, bad_every: int = 0) -> list[bytes]:
    return [b"{oops" if bad_every and i % bad_every == bad_every - 1
            else orjson.dumps(event(i, user_pseudo_id=f"{marker}-{i}")) for i in range(count)]


def _rows(query, marker: str) -> list[dict]:
    return query("SELECT user_pseudo_id, ingestion_source FROM pro_event WHERE event_date >= '2000-01-01' "
                 "AND STARTS_WITH(user_pseudo_id, @m)", m=marker)


def _audits(query, name: str) -> list[dict]:
    return query("SELECT * FROM ingestion_audit WHERE source LIKE @s", s=f"gs://{CFG.bucket}/{name}#%")


def test_the_same_notification_twice_and_an_hour_later_writes_nothing_new(functions, bucket, names, query):
    """The second and third passes must not reach BigQuery at all: insertId dedupe (about a minute
    in production, forever in the emulator) cannot be what stops them."""
    marker = f"dup-{uuid.uuid4().hex[:8]}"
    name = f"events/{marker}/drop.ndjson"
    generation = _upload(bucket, name, _marked(marker, 30, bad_every=10))
    eventually(lambda: _audits(query, name))  # the bucket's own notification, through the function
    pipe = _pipeline(names)
    inserts: list[str] = []
    original = pipe.writer.insert
    pipe.writer.insert = lambda table, rows: inserts.append(table) or original(table, rows)  # type: ignore
    for invocation in ("redelivered", "an-hour-later"):
        assert _ingest(pipe, _files(), name, generation, invocation).received == 0
    assert inserts == []
    assert len(_rows(query, marker)) == 27 and len(_audits(query, name)) == 1
    meta = bucket.get_blob(name).metadata
    assert meta["ingest-status"] == "done-with-errors" and meta["ingest-rows"] == "27"
    report = orjson.loads(bucket.blob(f"reports/{name}#{generation}.json").download_as_bytes())
    assert [e["line"] for e in report["first_errors"]] == [10, 20, 30]
    assert sorted(e["source"]["line_number"] for e in query(report["all_errors"])) == [10, 20, 30]


QUIET = "partner-direct"
"""A bucket without notifications: only the invocations a test makes read its files."""


@pytest.fixture(scope="module")
def quiet(bucket) -> storage.Bucket:
    client = storage.Client(project=CFG.project)
    try:
        client.create_bucket(QUIET)
    except Exception:  # created by an earlier run of the session
        pass
    return client.bucket(QUIET)


def _ingest_quiet(pipe, files, name: str, generation: int, invocation: str):
    return pipe.ingest_object(function="ingest_file", bucket=QUIET, name=name, generation=generation,
                              metadata={}, files=files, invocation=invocation)


def _quiet_audits(query, name: str) -> list[dict]:
    return query("SELECT * FROM ingestion_audit WHERE source LIKE @s", s=f"gs://{QUIET}/{name}#%")


def test_two_invocations_of_one_object_at_once_write_it_once(quiet, names, query):
    marker = f"race-{uuid.uuid4().hex[:8]}"
    name = f"events/{marker}/drop.ndjson"
    generation = _upload(quiet, name, _marked(marker, 40))
    pipe = _pipeline(names, file_batch_lines=10)
    outcomes: list[object] = []
    gate = threading.Event()
    original = pipe.writer.insert

    def insert(table, rows):
        if table == "pro_event" and not gate.is_set():
            gate.set()  # the first invocation is writing: a second one arrives now
            second = threading.Thread(target=lambda: outcomes.append(_attempt(pipe, name, generation)))
            second.start()
            second.join()
        return original(table, rows)

    pipe.writer.insert = insert  # type: ignore[method-assign]
    assert _ingest_quiet(pipe, _files(), name, generation, "first").rows_sent == 40
    assert len(outcomes) == 1 and isinstance(outcomes[0], FileBusy)  # refused on fake-gcs's own precondition
    assert _ingest_quiet(pipe, _files(), name, generation, "second-retried").received == 0
    rows = _rows(query, marker)
    assert len(rows) == 40 and len({r["ingestion_source"] for r in rows}) == 40
    assert len(_quiet_audits(query, name)) == 1


def _attempt(pipe, name: str, generation: int) -> object:
    try:
        return _ingest_quiet(pipe, _files(), name, generation, "second").received
    except FileBusy as error:
        return error


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_invocation_killed_half_way_is_resumed_from_its_checkpoint(quiet, names, query, gzipped):
    import gzip
    marker = f"kill-{uuid.uuid4().hex[:8]}"
    name = f"events/{marker}/drop.ndjson" + (".gz" if gzipped else "")
    lines = _marked(marker, 300, bad_every=50)
    body = b"\n".join(lines) + b"\n"
    blob = quiet.blob(name)
    blob.upload_from_string(gzip.compress(body) if gzipped else body)
    generation = int(blob.generation)
    pipe = _pipeline(names, file_batch_lines=50, file_checkpoint_s=0, file_lease_s=6)
    files = _files(_KilledAfter)
    files.budget = (len(gzip.compress(body)) if gzipped else len(body)) // 2
    with pytest.raises(Killed):
        _ingest_quiet(pipe, files, name, generation, "killed")
    landed = len(_rows(query, marker))
    assert 0 < landed < 294 and _quiet_audits(query, name) == []
    with pytest.raises(FileBusy):
        _ingest_quiet(pipe, files, name, generation, "too-soon")  # the dead one's lease is still alive
    time.sleep(6.5)
    counts = _ingest_quiet(pipe, files, name, generation, "retry")
    assert counts.received == 300  # the whole file's counts, carried over from the checkpoint
    rows = _rows(query, marker)
    assert len(rows) == 294 and len({r["ingestion_source"] for r in rows}) == 294  # nothing sent twice
    [audit] = _quiet_audits(query, name)
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"], audit["invocations"]) == (300, 294, 6, 2)


def test_an_identical_reupload_is_skipped_and_recorded(functions, bucket, query):
    marker = f"same-{uuid.uuid4().hex[:8]}"
    name = f"userpilot/{marker}/export.ndjson"
    lines = [orjson.dumps({**orjson.loads(b'{"event_type": "track", "inserted_at": "2026-11-20T08:30:00Z"}'),
                           "user_id": f"{marker}-{i}"}) for i in range(5)]
    first = _upload(bucket, name, lines)
    eventually(lambda: _audits(query, name))
    second = _upload(bucket, name, lines)  # the same bytes again: a new generation
    audits = eventually(lambda: (a := _audits(query, name)) and len(a) == 2 and a)
    [skipped] = [a for a in audits if a["source"].endswith(f"#{second}")]
    assert skipped["duplicate_of"] == f"gs://{CFG.bucket}/{name}#{first}" and skipped["received"] == 0
    rows = query("SELECT * FROM userpilot_event WHERE inserted_at >= TIMESTAMP('2000-01-01') "
                 "AND STARTS_WITH(user_id, @m)", m=marker)
    assert len(rows) == 5
    assert bucket.get_blob(name).metadata["ingest-status"] == "skipped-identical"


def test_a_file_longer_than_one_invocation_is_continued_through_the_tasks_topic(functions, quiet, names, query):
    marker = f"cont-{uuid.uuid4().hex[:8]}"
    name = f"events/{marker}/big.ndjson"
    generation = _upload(quiet, name, _marked(marker, 120, bad_every=40))
    pipe = _pipeline(names, file_batch_lines=20, file_time_budget_s=0.01)
    first = _ingest_quiet(pipe, _files(), name, generation, "first")
    assert first.received == 20  # one batch, then the budget was spent: a continuation was published
    # The emulator pushes the continuation to the served ingest_file, which resumes and finishes.
    [audit] = eventually(lambda: _quiet_audits(query, name), timeout=60)
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"], audit["lines"]) == (120, 117, 3, 120)
    assert audit["invocations"] == 2
    rows = _rows(query, marker)
    assert len(rows) == 117 and len({r["ingestion_source"] for r in rows}) == 117


def test_a_batch_lost_to_the_network_is_sent_again_and_the_view_holds_each_line_once(quiet, names, query,
                                                                                    write_api_proxy):
    """The third batch's append reaches BigQuery but its answer is lost: the invocation raises before
    that batch is checkpointed, its redelivery resumes at that batch and sends it again. The raw table
    holds that batch twice; the deduplicated view, the audit and the ledger hold every line once."""
    marker = f"lost-{uuid.uuid4().hex[:8]}"
    name = f"events/{marker}/drop.ndjson"
    generation = _upload(quiet, name, _marked(marker, 100, bad_every=25))
    overrides = {"file_batch_lines": 20, "file_checkpoint_s": 0, "bigquery_grpc_emulator_host": write_api_proxy.target}
    pipe = _pipeline(names, **overrides)
    batches = []
    original = pipe.writer.insert

    def insert(table, rows):
        if table == "pro_event":
            batches.append(len(rows))
            if len(batches) == 3:
                write_api_proxy.lose_responses()
        return original(table, rows)

    pipe.writer.insert = insert  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        _ingest_quiet(pipe, _files(), name, generation, "lost")
    write_api_proxy.disarm()
    counts = _ingest_quiet(_pipeline(names, **overrides), _files(), name, generation, "redelivered")
    assert (counts.received, counts.rows_sent, counts.dead_lettered) == (100, 96, 4)
    expected = sorted(f"{marker}-{i}" for i in range(100) if i % 25 != 24)
    view = query("SELECT user_pseudo_id FROM pro_event_deduplicated WHERE event_date >= '2000-01-01' "
                 "AND STARTS_WITH(user_pseudo_id, @m)", m=marker)
    assert sorted(r["user_pseudo_id"] for r in view) == expected
    raw = _rows(query, marker)
    assert len(raw) > 96 and len({r["ingestion_source"] for r in raw}) == 96, "the lost batch landed, then again"
    audits = _quiet_audits(query, name)
    assert {(a["audit_id"], a["received"], a["rows_sent"], a["dead_lettered"]) for a in audits} == {
        (audits[0]["audit_id"], 100, 96, 4)}
