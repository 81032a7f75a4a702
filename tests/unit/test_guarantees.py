"""Guarantees that once had no test able to fail (a deliberate bug in each passed the suite), and
the record-path promises of the "every record accounted for" issue: identity, the audit, sinks
that refuse or drop, streams that break, consent in the dead letter."""

from __future__ import annotations

import gzip
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import requests

from ingest.config import Settings
from ingest.consent import pseudonym
from ingest.decode import split_message
from ingest.errors import FailureKind, RecordError, TransientError
from ingest.pipeline import Pipeline, prepare
from ingest.records import SourceRef
from ingest.sinks.dead_letter import DeadLetter
from tests.support.fake_writer import FakeWriter
from tests.support.hostile_corpus import BARE_LOG, EVENT, FLAT, LOG, event
from tests.support.memory_files import MemoryFiles, ingest, vanishing

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
KEY = "a-test-key-of-16+chars"
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _settings(**overrides) -> Settings:
    return Settings(schemas_dir=overrides.pop("schemas_dir", SCHEMAS), pseudonymisation_key=KEY, **overrides)


def _rows(contract: str, *values, received_at: datetime = RECEIVED, settings: Settings | None = None,
          message_id: str = "m") -> list[dict]:
    source = SourceRef(kind="pubsub", topic="t", message_id=message_id)
    settings = settings or _settings()
    records = split_message(b"\n".join(orjson.dumps(v) for v in values), source, settings)
    prepared = prepare(contract, records, settings, received_at=received_at)
    assert len(prepared.dead_letter) == 0, prepared.dead_letter.take()
    return [orjson.loads(row) for _, row in prepared.rows]


def _row_id(contract: str, value, **kwargs) -> str:
    [row] = _rows(contract, value, **kwargs)
    return row["row_id"]


def _pipe(**overrides) -> tuple[Pipeline, FakeWriter]:
    writer = FakeWriter()
    return Pipeline(_settings(**overrides), writer), writer


def _message(pipe: Pipeline, data: bytes, contract: str = "pro_event", message_id: str = "m1"):
    return pipe.ingest_message(function="ingest_events", contract=contract, data=data,
                               source=SourceRef(kind="pubsub", topic="t", message_id=message_id), attributes={},
                               publish_time=RECEIVED)


# --- identity -------------------------------------------------------------------------------------

def test_row_id_ignores_key_order_at_every_level():
    flat_reordered = {**dict(reversed(list(FLAT.items()))),
                      "event_params": dict(reversed(list(FLAT["event_params"].items())))}
    assert _row_id("pro_event", FLAT) == _row_id("pro_event", flat_reordered)
    userpilot = orjson.loads((SCHEMAS / "userpilot_event/examples/interaction.pass.json").read_bytes())
    reordered = {**dict(reversed(list(userpilot.items()))),
                 "metadata": dict(reversed(list(userpilot["metadata"].items())))}
    assert _row_id("userpilot_event", userpilot) == _row_id("userpilot_event", reordered)


def test_row_id_is_computed_from_values_typed_to_their_columns():
    assert _row_id("pro_event", event(1)) == _row_id("pro_event", event(1, event_timestamp=1763900000123456.0))
    assert _row_id("pro_event", event(1, user_id="123")) == _row_id("pro_event", event(1, user_id=123))
    assert _row_id("pro_event", event(1)) != _row_id("pro_event", event(2))
    assert _row_id("pro_event", event(1)) != _row_id("pro_event", event(1, event_timestamp=1763900000123457))


def test_row_id_does_not_depend_on_when_the_record_arrived():
    # Not late on arrival, then redelivered four days later when it is: the same event.
    sent = datetime(2025, 11, 23, 12, 0, tzinfo=timezone.utc)
    early, late = (_rows("pro_event", EVENT, received_at=sent + delay)[0] for delay in (timedelta(hours=1),
                                                                                        timedelta(days=4)))
    assert (early["is_late"], late["is_late"]) == (False, True)
    assert early["row_id"] == late["row_id"] and early["ingested_at"] != late["ingested_at"]


def test_a_log_is_identified_by_where_it_was_emitted():
    bare = {"message": "Offer has been updated", "extra": {"offer_id": 1}}
    first, second = _rows("pro_log", bare, bare)
    assert first["row_id"] != second["row_id"]  # two emissions, seconds apart
    assert _row_id("pro_log", bare, message_id="a") != _row_id("pro_log", bare, message_id="b")
    assert _row_id("pro_log", LOG, message_id="a") == _row_id("pro_log", LOG, message_id="b")  # one insertId
    assert _row_id("pro_log", LOG) != _row_id("pro_log", {**LOG, "insertId": "another"})


# --- the audit and the sinks ------------------------------------------------------------------------

def test_the_dead_letter_refusing_a_row_raises_so_nothing_is_acked():
    pipe, writer = _pipe()
    writer.refuse_table["ingestion_errors"] = "no such field: raw_payload"
    with pytest.raises(TransientError, match="ingestion_errors refused 1"):
        _message(pipe, b"{broken")
    assert writer.rows("ingestion_audit") == []  # not audited as done
    del writer.refuse_table["ingestion_errors"]
    _message(pipe, b"{broken")  # the redelivery
    assert len(writer.rows("ingestion_errors")) == 1 and len(writer.rows("ingestion_audit")) == 1


def test_a_refused_audit_row_raises():
    pipe, writer = _pipe()
    writer.refuse_table["ingestion_audit"] = "no such field: rows_sent"
    with pytest.raises(TransientError, match="audit row"):
        _message(pipe, orjson.dumps(EVENT))


@pytest.mark.parametrize("table", ["pro_event", "ingestion_errors", "ingestion_audit"])
def test_a_connection_dropped_after_bigquery_applied_a_request_is_retried_without_doubles(table):
    pipe, writer = _pipe()
    data = orjson.dumps([event(1), event(2), {"bad": True}])
    writer.lose_response_next = 0
    calls = []
    original = writer.insert

    def insert(target, rows):
        calls.append(target)
        if target == table and calls.count(target) == 1:
            writer.lose_response_next = 1
        return original(target, rows)

    writer.insert = insert  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        _message(pipe, data)
    counts = _message(pipe, data)  # Pub/Sub redelivers the same message
    assert counts.rows_sent == 2 and counts.balanced()
    assert len(writer.rows("pro_event")) == 2 and len(writer.rows("ingestion_errors")) == 1
    assert len(writer.rows("ingestion_audit")) == 1


def test_rows_sent_counts_each_position_once_and_a_republished_event_again():
    pipe, writer = _pipe()
    assert _message(pipe, orjson.dumps(EVENT), message_id="a").rows_sent == 1
    assert _message(pipe, orjson.dumps(EVENT), message_id="b").rows_sent == 1
    rows = writer.rows("pro_event")
    assert len(rows) == 2 and len({r["row_id"] for r in rows}) == 1  # the views keep one
    assert {r["ingestion_source"] for r in rows} == {"pubsub://t/a", "pubsub://t/b"}


def test_rows_refused_by_bigquery_leave_the_audit_balanced():
    pipe, writer = _pipe()
    refused = _row_id("pro_event", event(2))
    writer.reject[refused] = "Cannot convert value"
    counts = _message(pipe, orjson.dumps([event(1), event(2), event(3, foo=1)]))
    assert (counts.rows_sent, counts.dead_lettered, counts.unmapped) == (2, 1, 1) and counts.balanced()
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "rejected_by_bigquery" and error["source"]["record_index"] == 1


# --- pseudonymisation --------------------------------------------------------------------------------

@pytest.fixture
def pseudonymising(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    (schemas / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "pseudonymise", "on_missing": "drop"}))
    return _settings(schemas_dir=schemas)


def test_a_pseudonymised_event_keeps_no_identifier_no_query_string_and_no_referrer_path(pseudonymising):
    denied = {**FLAT, "privacy_info": {"analytics_storage": "No"}, "user_id": "42", "note": "me@example.org"}
    from_ad = {**denied, "page_location": "https://passculture.pro/offres?gclid=abc&email=me@example.org#x"}
    from_site = {**denied, "page_location": "https://passculture.pro/offres?email=me@example.org",
                 "page_referrer": "https://news.example.org/articles/123?utm_source=me"}
    ad, site = (_rows("pro_event", value, settings=pseudonymising)[0] for value in (from_ad, from_site))
    for row in (ad, site):
        assert row["consent_status"] == "pseudonymised" and row["page_location"] == "https://passculture.pro/offres"
        assert "user_id" not in row and "event_params" not in row and "unmapped" not in row
        text = orjson.dumps(row).decode()
        assert FLAT["user_pseudo_id"] not in text and "me@example.org" not in text and "abc" not in text
    assert site["page_referrer"] == "https://news.example.org/"
    assert (ad["traffic_source"], ad["traffic_medium"]) == ("google", "cpc")  # attribution survives...
    assert "gclid" not in ad["traffic_origin"]  # ...without the click id
    assert site["traffic_source"] == "news.example.org" and "referral_path" not in site["traffic_origin"]


def test_the_pseudonym_changes_every_day_and_nobody_without_the_key_can_recompute_it(pseudonymising):
    denied = {**FLAT, "privacy_info": {"analytics_storage": "No"}}
    today = _rows("pro_event", denied, settings=pseudonymising)[0]["user_pseudo_id"]
    later = {**denied, "event_timestamp": "2026-11-23T18:00:00Z"}
    tomorrow = {**denied, "event_timestamp": "2026-11-24T09:15:02.250Z"}
    assert _rows("pro_event", later, settings=pseudonymising)[0]["user_pseudo_id"] == today
    assert _rows("pro_event", tomorrow, settings=pseudonymising)[0]["user_pseudo_id"] != today
    assert pseudonym("another-key-0123456789", FLAT["user_pseudo_id"], "2026-11-23") != today
    assert pseudonym(KEY, FLAT["user_pseudo_id"], "2026-11-23") == today


def test_an_invalid_record_of_someone_who_refused_is_never_kept_raw(pseudonymising):
    # Under the drop policy it is dropped before validation; under pseudonymise, withheld.
    pipe, writer = _pipe()
    invalid = {"event_timestamp": "soon", "user_pseudo_id": "me@example.org", "privacy_info": {"analytics_storage": "No"}}
    counts = _message(pipe, orjson.dumps(invalid))
    assert counts.consent_dropped == 1 and writer.rows("ingestion_errors") == []
    pipe = Pipeline(pseudonymising, writer := FakeWriter())
    counts = _message(pipe, orjson.dumps(invalid))
    [error] = writer.rows("ingestion_errors")
    assert counts.dead_lettered == 1 and error["raw_payload"] is None and error["raw_payload_encoding"] == "withheld"
    assert "me@example.org" not in orjson.dumps(error).decode() and error["reasons"][0]["path"]


# --- time ---------------------------------------------------------------------------------------------

def test_the_lateness_threshold_is_in_hours():
    sent = 1763900000123456
    at = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=sent)
    settings = _settings(late_after_hours=72)
    assert not _rows("pro_event", EVENT, received_at=at + timedelta(hours=71, minutes=59), settings=settings)[0]["is_late"]
    assert _rows("pro_event", EVENT, received_at=at + timedelta(hours=72, minutes=1), settings=settings)[0]["is_late"]


# --- the dead letter's payload ------------------------------------------------------------------------

@pytest.mark.parametrize("size,truncated", [(999, False), (1000, False), (1001, True)])
def test_raw_payload_truncated_is_true_only_when_the_payload_was_cut(size, truncated):
    dead_letter = DeadLetter(contract="c", received_at=RECEIVED, code_version="v", payload_limit=1000)
    dead_letter.add(b"x" * size, SourceRef(kind="pubsub"), RecordError.at(FailureKind.INVALID_JSON, "$", "no"))
    [(_, encoded)] = dead_letter.take()
    row = orjson.loads(encoded)
    assert row["raw_payload_truncated"] is truncated and row["raw_payload_bytes"] == size
    assert len(row["raw_payload"]) == min(size, 1000)


# --- nothing vanishes from a record -------------------------------------------------------------------

def test_unknown_fields_are_kept_in_unmapped_and_counted():
    pipe, writer = _pipe()
    counts = _message(pipe, orjson.dumps([event(1, page_locaton="https://typo"), event(2, offer_id=5)]))
    assert counts.unmapped == 2 and counts.rows_sent == 2
    unmapped = sorted(row["unmapped"] for row in writer.rows("pro_event"))
    assert unmapped == ['{"offer_id":5}', '{"page_locaton":"https://typo"}']
    assert writer.rows("ingestion_audit")[0]["unmapped"] == 2


def test_log_fields_without_a_column_are_kept_in_unmapped():
    entry = {**LOG, "labels": {"pod": "x"},
             "jsonPayload": {**LOG["jsonPayload"], "request_id": "r1",
                             "extra": {**LOG["jsonPayload"]["extra"], "newKey": [1, 2]}}}
    [row] = _rows("pro_log", entry)
    assert orjson.loads(row["unmapped"]) == {"extra": {"newKey": [1, 2]}, "jsonPayload": {"request_id": "r1"},
                                            "labels": {"pod": "x"}, "logName": LOG["logName"], "severity": "INFO"}
    [bare] = _rows("pro_log", BARE_LOG)
    assert "unmapped" not in bare


# --- files: streams that break, downloads that fail -----------------------------------------------------

def _file(pipe: Pipeline, body: bytes, name: str = "events/x.ndjson.gz", files: MemoryFiles | None = None):
    return ingest(pipe, name, body, generation=3, files=files)


@pytest.mark.parametrize("error", [requests.ConnectionError("reset by peer"), TimeoutError("read timed out"),
                                   OSError("network is unreachable")])
def test_a_download_error_is_transient_not_a_bad_file(error):
    pipe, writer = _pipe(file_batch_lines=10)
    body = b"\n".join(orjson.dumps(event(i)) for i in range(30))
    files = MemoryFiles()
    files.fail_reads = (200, error)
    with pytest.raises(TransientError, match="reading gs://b/events/x.ndjson.gz#3"):
        _file(pipe, gzip.compress(body), files=files)
    assert writer.rows("ingestion_errors") == [] and writer.rows("ingestion_audit") == []


def test_every_readable_line_of_a_corrupt_file_lands_and_the_break_is_recorded_once():
    pipe, writer = _pipe(file_batch_lines=500)
    lines = [orjson.dumps(event(i)) for i in range(3000)]
    compressed = gzip.compress(b"\n".join(lines))
    counts = _file(pipe, compressed[:5000] + b"\x00" * 64 + compressed[5064:])
    landed = sorted(int(r["user_pseudo_id"].split("-")[1]) for r in writer.rows("pro_event"))
    *garbled, error = sorted(writer.rows("ingestion_errors"), key=lambda e: e["source"]["line_number"])
    assert landed[: len(landed) - len(garbled)] == list(range(len(landed) - len(garbled))) and len(landed) > 5
    # Inflating the corrupt block may give a few garbled lines before zlib notices; each is its own error.
    assert {e["error_type"] for e in garbled} <= {"invalid_json", "schema_violation", "invalid_value"}
    assert error["error_type"] == "undecodable_file" and "corrupt" in error["reasons"][0]["message"]
    assert error["source"]["line_number"] == counts.received and counts.balanced()


def test_a_decompression_bomb_file_is_one_error_after_its_readable_lines():
    pipe, writer = _pipe(max_decompression_ratio=50)
    counts = _file(pipe, gzip.compress(b"\n".join([orjson.dumps(event(1))] * 400_000)))
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "undecodable_file" and "MAX_DECOMPRESSION_RATIO=50" in error["reasons"][0]["message"]
    assert counts.balanced() and counts.rows_sent >= 1 and counts.received < 400_000


def test_an_object_deleted_while_read_is_recorded_where_reading_stopped():
    pipe, writer = _pipe(file_batch_lines=5)
    body = b"\n".join(orjson.dumps(event(i)) for i in range(20)) + b"\n"
    files = MemoryFiles()
    vanishing(files, after=3000)
    counts = _file(pipe, body, "events/x.ndjson", files=files)
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "object_missing" and counts.balanced()
    assert error["source"]["line_number"] == counts.rows_sent + 1


# --- configuration --------------------------------------------------------------------------------------

@pytest.mark.parametrize("env,message", [
    ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE='Mars/Olympus' is not an IANA time zone"),
    ({"FILE_BATCH_LINES": "-1"}, "FILE_BATCH_LINES=-1 must be between 1 and 100000"),
    ({"MAX_RECORD_BYTES": "lots"}, "MAX_RECORD_BYTES='lots' is not an integer"),
    ({"BIGQUERY_TIMEOUT_S": "soon"}, "BIGQUERY_TIMEOUT_S='soon' is not a number"),
    ({"FILE_BATCH_LINE": "10"}, "FILE_BATCH_LINE is not a setting; did you mean FILE_BATCH_LINES?"),
    ({"TIMEZONE": "UTC"}, "did you mean TIME_ZONE?"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='loud' must be DEBUG, INFO, WARNING or ERROR"),
    ({"MAX_MESSAGE_BYTES": "100000", "MAX_RECORD_BYTES": "200000"}, "MAX_MESSAGE_BYTES=100000 must be at least"),
    ({"SITE_HOSTS": "https://passculture.pro/"}, "SITE_HOSTS='https://passculture.pro/' holds"),
    ({"BQ_DATASET": "my-dataset"}, "BQ_DATASET='my-dataset' must be a BigQuery dataset id"),
])
def test_every_bad_setting_fails_at_start_naming_its_variable(env, message):
    with pytest.raises(ValueError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once_and_secrets_never_shown():
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"PSEUDONYMISATION_KEY": "short-secret", "TIME_ZONE": "Nowhere", "FILE_BATCH_LINES": "0"})
    text = str(caught.value)
    assert "PSEUDONYMISATION_KEY=(secret)" in text and "TIME_ZONE" in text and "FILE_BATCH_LINES" in text
    assert "short-secret" not in text
    settings = Settings.from_env({"PSEUDONYMISATION_KEY": "a-long-enough-secret-key"})
    assert "a-long-enough-secret-key" not in repr(settings) and settings.pseudonymisation_key.startswith("a-long")


def test_platform_variables_are_not_mistaken_for_misspellings():
    env = {"K_SERVICE": "ingest-events", "K_REVISION": "r1", "PORT": "8080", "FUNCTION_TARGET": "ingest_events",
           "GOOGLE_CLOUD_PROJECT": "p", "PUBSUB_EMULATOR_HOST": "h:1", "STORAGE_EMULATOR_HOST": "http://h:2",
           "LOG_EXECUTION_ID": "true", "PYTHONPATH": "x", "HOME": "/root", "PATH": "/bin"}
    settings = Settings.from_env(env)
    assert settings.project == "p" and settings.code_version == "r1"


def test_an_instance_with_a_bad_setting_does_not_start(tmp_path):
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root / 'functions'}:{root}", "TIME_ZONE": "Mars/Olympus"}
    result = subprocess.run([sys.executable, "-c", "import main"], cwd=root / "functions", env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "TIME_ZONE='Mars/Olympus' is not an IANA time zone" in result.stderr


# --- a bug costs one record --------------------------------------------------------------------------------

def test_a_bug_on_one_record_is_an_internal_error_for_that_record_only(monkeypatch, capsys):
    from ingest import pipeline

    original = pipeline.CONTRACTS["pro_event"]

    def buggy(value, ctx):
        if value["user_pseudo_id"] == "corpus-2":
            raise KeyError("a bug")
        return original.transform(value, ctx)

    monkeypatch.setitem(pipeline.CONTRACTS, "pro_event", pipeline.Contract(buggy))
    pipe, writer = _pipe()
    counts = _message(pipe, b"\n".join(orjson.dumps(event(i)) for i in range(5)))
    assert counts.rows_sent == 4 and counts.dead_lettered == 1 and counts.balanced()
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "internal_error" and error["source"]["record_index"] == 2
    assert orjson.loads(error["raw_payload"])["user_pseudo_id"] == "corpus-2"
    logged = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(entry["event"] == "record_failed" and "KeyError" in entry["stack_trace"] for entry in logged)


# --- caches are bounded in bytes ---------------------------------------------------------------------------

def test_enrichment_caches_never_keep_a_key_longer_than_their_bound():
    from ingest.enrich import origin, urls
    from ingest.enrich.cache import MAX_KEY_CHARS, bounded_cache
    from ingest.enrich.useragent import parse_user_agent
    from ingest.transform import pro_event

    calls = []

    @bounded_cache(4, max_key_chars=10)
    def double(key: str) -> str:
        calls.append(key)
        return key * 2

    assert double("short") == double("short") == "shortshort" and calls == ["short"]
    assert double("x" * 11) == double("x" * 11) and calls == ["short", "x" * 11, "x" * 11]
    caches = [urls.url_path_extract, urls.url_path_agg, origin._url_origin, parse_user_agent, pro_event._path_columns,
              pro_event._agent_columns]
    before = [cache.cache_info().currsize for cache in caches]
    long_url = "https://passculture.pro/offres?gclid=" + "x" * MAX_KEY_CHARS
    urls.url_path_agg(urls.url_path_extract(long_url) + "/" + "y" * MAX_KEY_CHARS)
    origin.compute_origin(long_url, long_url, frozenset({"passculture.pro"}))
    parse_user_agent("Mozilla/5.0 " + "z" * MAX_KEY_CHARS)
    pro_event._path_columns(long_url)
    pro_event._agent_columns("Mozilla/5.0 " + "z" * MAX_KEY_CHARS)
    assert [cache.cache_info().currsize for cache in caches] == before
    assert origin._url_origin(long_url).gclid == "x" * MAX_KEY_CHARS  # still computed, only not kept


def test_dead_lettered_records_are_logged_once_per_invocation_with_where_they_came_from(capsys):
    pipe, writer = _pipe(file_batch_lines=2)
    body = b"\n".join([orjson.dumps(event(1)), b"{bad", b"[1]", orjson.dumps(event(2)), b"{worse"])
    _file(pipe, body, "events/x.ndjson")
    logged = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    [entry] = [e for e in logged if e["event"] == "records_dead_lettered"]
    assert entry["function"] == "ingest_file" and entry["contract"] == "pro_event"
    assert entry["source"] == "gs://b/events/x.ndjson#3" and entry["count"] == 3
    assert entry["error_types"] == {"invalid_json": 2, "schema_violation": 1}
    [ingested] = [e for e in logged if e["event"] == "ingested"]
    assert ingested["balanced"] is True and ingested["dead_lettered"] == 3 and ingested["rows_sent"] == 2


def test_an_instance_checks_only_the_consent_policies_of_the_contracts_it_ingests(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    (schemas / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "pseudonymise", "on_missing": "drop"}))
    # ingest_logs gets no key (infra gives it only where a policy pseudonymises): it must still start.
    Pipeline(Settings(schemas_dir=schemas, function_target="ingest_logs"), FakeWriter())
    for target in ("ingest_events", "ingest_file", ""):
        with pytest.raises(ValueError, match="PSEUDONYMISATION_KEY"):
            Pipeline(Settings(schemas_dir=schemas, function_target=target), FakeWriter())
