import gzip
import shutil
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from ingest.config import Settings
from ingest.errors import TransientError
from ingest.pipeline import Pipeline
from ingest.records import SourceRef
from tests.support.fake_writer import FakeWriter
from tests.support.memory_files import MemoryFiles, ingest

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
KEY = "a-test-key-of-16+chars"
EXAMPLES = SCHEMAS / "pro_event" / "examples"
EVENT = orjson.loads((EXAMPLES / "ga4_export.pass.json").read_bytes())
LOG = orjson.loads((SCHEMAS / "pro_log" / "examples" / "logentry_stock.pass.json").read_bytes())


def _pipe(**overrides) -> tuple[Pipeline, FakeWriter]:
    writer = FakeWriter()
    return Pipeline(Settings(schemas_dir=overrides.pop("schemas_dir", SCHEMAS), **overrides), writer), writer


def _message(pipe: Pipeline, data: bytes, contract: str = "pro_event", message_id: str = "m1"):
    return pipe.ingest_message(function="ingest_events", contract=contract, data=data,
                               source=SourceRef(kind="pubsub", topic="tracking-events", message_id=message_id),
                               attributes={"origin": "test"}, publish_time=datetime.now(timezone.utc))


def _row_id(event: dict, contract: str = "pro_event") -> str:
    pipe, writer = _pipe()
    _message(pipe, orjson.dumps(event), contract)
    [row] = writer.rows(contract)
    return row["row_id"]


def test_every_record_has_exactly_one_outcome_and_the_audit_proves_it():
    denied = {**EVENT, "privacy_info": {"analytics_storage": "No"}}
    missing = {k: v for k, v in EVENT.items() if k != "privacy_info"}
    data = b"\n".join([orjson.dumps(EVENT), b"{broken", orjson.dumps(denied), orjson.dumps(missing),
                       orjson.dumps(EVENT), orjson.dumps({"event_name": "x"})])
    pipe, writer = _pipe()
    counts = _message(pipe, data)
    assert (counts.received, counts.rows_sent, counts.dead_lettered, counts.consent_dropped,
            counts.duplicates_in_batch) == (6, 1, 2, 2, 1)
    assert counts.balanced()
    [row] = writer.rows("pro_event")
    assert row["offer_id"] == "998877" and row["unique_session_id"] == "1234567890.1763800000-1763899000"
    assert row["ingestion_source"] == "pubsub://tracking-events/m1#0"
    errors = {e["source"]["record_index"]: e for e in writer.rows("ingestion_errors")}
    assert errors[1]["raw_payload"] == "{broken" and errors[1]["error_type"] == "invalid_json"
    assert errors[5]["error_type"] == "schema_violation"
    assert {r["path"] for r in errors[5]["reasons"]} == {"$", }  # both required fields missing at the root
    assert len(errors[5]["reasons"]) == 2
    [audit] = writer.rows("ingestion_audit")
    assert audit["received"] == 6 and audit["rows_sent"] == 1 and audit["consent_dropped"] == 2
    assert audit["dead_lettered"] == 2 and audit["duplicates_in_batch"] == 1 and audit["earliest_partition"] == "2025-11-23"


def test_event_parameters_never_fill_derived_columns():
    # Parameters named like columns the pipeline computes (attribution, device, lateness, ids)
    # are kept in event_params but cannot overwrite or break those columns.
    spoofed = [{"key": name, "value": {"string_value": "spoofed"}}
               for name in ("traffic_source", "trafficMedium", "user_device_category", "is_late", "row_id",
                            "event_date")]
    event = {**EVENT, "event_params": EVENT["event_params"] + spoofed}
    pipe, writer = _pipe()
    counts = _message(pipe, orjson.dumps(event))
    assert counts.rows_sent == 1, writer.rows("ingestion_errors")
    [row] = writer.rows("pro_event")
    assert (row["traffic_source"], row["traffic_medium"]) == ("brevo", "email")
    assert row["user_device_category"] == "desktop" and row["is_late"] is True
    assert row["event_date"] == "2025-11-23"
    assert orjson.loads(row["event_params"])["traffic_source"] == "spoofed"
    assert row["offer_id"] == "998877"  # a parameter that is a plain column still fills it


def test_a_top_level_field_wins_over_the_event_parameter_unless_it_is_null():
    event = {**EVENT, "page_title": "Top level", "page_location": None, "ga_session_id": 42}
    pipe, writer = _pipe()
    _message(pipe, orjson.dumps(event))
    [row] = writer.rows("pro_event")
    assert row["page_name"] == "Top level" and row["session_id"] == "42"
    assert row["page_location"].startswith("https://passculture.pro/offres?utm_source=brevo")  # the parameter's


def test_redelivery_produces_the_same_ids():
    pipe, writer = _pipe()
    data = orjson.dumps([EVENT, {"bad": True}])
    _message(pipe, data)
    _message(pipe, data)
    assert len(writer.rows("pro_event")) == 1
    assert len(writer.rows("ingestion_errors")) == 1
    assert len(writer.rows("ingestion_audit")) == 1


def test_row_rejected_by_bigquery_goes_to_the_dead_letter_and_the_rest_lands():
    pipe, writer = _pipe()
    other = {**EVENT, "event_name": "hasClickedShowBooking"}
    writer.reject[_row_id(other)] = "Cannot convert value"
    counts = _message(pipe, orjson.dumps([EVENT, other]))
    assert counts.rows_sent == 1 and counts.dead_lettered == 1 and counts.balanced()
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "rejected_by_bigquery" and orjson.loads(error["raw_payload"]) == other


def test_transient_failure_raises_so_the_message_is_retried():
    pipe, writer = _pipe()
    writer.fail_next = 1
    with pytest.raises(TransientError):
        _message(pipe, orjson.dumps(EVENT))
    _message(pipe, orjson.dumps(EVENT))
    assert len(writer.rows("pro_event")) == 1


def test_denied_consent_is_pseudonymised_when_the_policy_says_so(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    (schemas / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "pseudonymise", "on_missing": "drop"}))
    pipe, writer = _pipe(schemas_dir=schemas, pseudonymisation_key=KEY)
    counts = _message(pipe, orjson.dumps({**EVENT, "privacy_info": {"analytics_storage": "No"}}))
    assert counts.pseudonymised == 1 and counts.rows_sent == 1
    [row] = writer.rows("pro_event")
    assert "user_id" not in row and "event_params" not in row
    assert row["user_pseudo_id"] != EVENT["user_pseudo_id"] and len(row["user_pseudo_id"]) == 32
    assert row["consent_status"] == "pseudonymised"
    assert "?" not in row["page_location"] and row["traffic_medium"] == "email"


def test_a_refused_row_takes_back_exactly_its_own_counts_and_withholds_only_its_own_payload(tmp_path):
    """``prepare`` keeps per row only its record (and which rows are pseudonymised or unmapped):
    what a refusal takes back must be that row's, whichever rows around it are refused or land."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    (schemas / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "pseudonymise", "on_missing": "drop"}))
    denied = {"privacy_info": {"analytics_storage": "No"}}
    events = [{**EVENT, "event_name": "kept"}, {**EVENT, **denied, "event_name": "pseudonymised_refused"},
              {**EVENT, "event_name": "unmapped_refused", "extra_field": 1},
              {**EVENT, **denied, "event_name": "pseudonymised_kept"},
              {**EVENT, "event_name": "unmapped_kept", "extra_field": 2},
              {**EVENT, "event_name": "plain_kept"}]
    data = b"\n".join(map(orjson.dumps, events))
    dry, dry_writer = _pipe(schemas_dir=schemas, pseudonymisation_key=KEY)
    _message(dry, data)
    ids = {row["event_name"]: row["row_id"] for row in dry_writer.rows("pro_event")}
    pipe, writer = _pipe(schemas_dir=schemas, pseudonymisation_key=KEY)
    for name in ("pseudonymised_refused", "unmapped_refused"):
        writer.reject[ids[name]] = "Cannot convert value"
    counts = _message(pipe, data)
    assert (counts.rows_sent, counts.dead_lettered, counts.pseudonymised, counts.unmapped) == (4, 2, 1, 1)
    assert counts.balanced()
    assert sorted(row["event_name"] for row in writer.rows("pro_event")) == [
        "kept", "plain_kept", "pseudonymised_kept", "unmapped_kept"]
    errors = {e["source"]["record_index"]: e for e in writer.rows("ingestion_errors")}
    assert set(errors) == {1, 2} and {e["error_type"] for e in errors.values()} == {"rejected_by_bigquery"}
    assert errors[1]["raw_payload"] is None
    assert orjson.loads(errors[2]["raw_payload"]) == events[2]


def test_the_earliest_partition_is_the_least_event_date_of_the_rows_sent():
    day = 86_400_000_000
    times = [EVENT["event_timestamp"] + offset * day for offset in (3, -2, 0, 5, -1)]
    events = [{**EVENT, "event_timestamp": moment, "event_name": f"e{i}"} for i, moment in enumerate(times)]
    pipe, writer = _pipe()
    counts = _message(pipe, b"\n".join(map(orjson.dumps, events)))
    dates = sorted(row["event_date"] for row in writer.rows("pro_event"))
    assert len(dates) == 5 and counts.earliest_partition == dates[0] < dates[1]


def test_a_policy_that_pseudonymises_without_a_key_fails_at_start_up(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    (schemas / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "pseudonymise", "on_missing": "drop"}))
    with pytest.raises(ValueError, match="PSEUDONYMISATION_KEY"):
        _pipe(schemas_dir=schemas)
    other = tmp_path / "other"  # contract files are read once per directory and process
    shutil.copytree(SCHEMAS, other)
    (other / "pro_event" / "consent.json").write_bytes(orjson.dumps(
        {"purpose": "analytics", "granted_purposes": ["analytics"], "on_denied": "forget", "on_missing": "drop"}))
    with pytest.raises(ValueError, match="on_denied"):
        _pipe(schemas_dir=other, pseudonymisation_key=KEY)


def test_pro_log_maps_extra_and_skips_unsupported_kinds():
    pipe, writer = _pipe()
    other = {**LOG, "jsonPayload": {**LOG["jsonPayload"], "message": "Some log we do not cover"}}
    counts = _message(pipe, orjson.dumps([LOG, other]), contract="pro_log")
    assert counts.skipped == 1 and counts.rows_sent == 1 and counts.balanced()
    [row] = writer.rows("pro_log")
    assert row["environement"] == "production" and row["stock_old_price"] == "12.50"
    assert row["stock_old_quantity"] == 10 and row["stock_new_quantity"] == 8 and row["stock_booking_quantity"] == 2
    assert row["partition_date"] == "2026-11-23" and row["user_id"] == "1234"


def test_cookies_consent_log_fills_the_consent_columns():
    pipe, writer = _pipe()
    bare = orjson.loads((SCHEMAS / "pro_log" / "examples" / "bare_cookies_consent.pass.json").read_bytes())
    _message(pipe, orjson.dumps(bare), contract="pro_log")
    [row] = writer.rows("pro_log")
    assert row["cookies_consent_accepted"] == ["firebase"] and row["cookies_consent_refused"] == ["hotjar"]
    assert row["device_id"] == "d-123" and row["analytics_source"] == "app-pro"
    assert row["choice_datetime"] == "2026-11-23T10:04:59.500000Z" and row["environement"] == "local"


def test_bad_extra_value_is_an_invalid_value_error_with_its_path():
    pipe, writer = _pipe()
    bad = {**LOG, "jsonPayload": {**LOG["jsonPayload"], "extra": {"old_quantity": "ten", "stock_price": "cheap"}}}
    counts = _message(pipe, orjson.dumps(bad), contract="pro_log")
    assert counts.dead_lettered == 1
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "invalid_value"
    assert {r["path"] for r in error["reasons"]} == {"$.jsonPayload.extra.old_quantity", "$.jsonPayload.extra.stock_price"}


def test_file_drop_is_streamed_in_batches_with_line_numbers():
    lines = [orjson.dumps({**EVENT, "event_name": f"e{i}"}) for i in range(7)] + [b"oops"]
    pipe, writer = _pipe(file_batch_lines=3)
    counts = ingest(pipe, "events/2026/a.ndjson.gz", gzip.compress(b"\n".join(lines)), bucket="partner-drops",
                    generation=17)
    assert counts.received == 8 and counts.rows_sent == 7 and counts.dead_lettered == 1
    [error] = writer.rows("ingestion_errors")
    assert error["source"] == {"bucket": "partner-drops", "object": "events/2026/a.ndjson.gz",
                               "generation": 17, "line_number": 8}
    [audit] = writer.rows("ingestion_audit")
    assert audit["source"] == "gs://partner-drops/events/2026/a.ndjson.gz#17"


def test_unknown_prefix_and_format_are_recorded_not_read():
    pipe, writer = _pipe()
    files = MemoryFiles()  # holds no object: reading one would fail the test
    ingest(pipe, "misc/x.ndjson", files=files)
    ingest(pipe, "events/x.xlsx", files=files)
    types = sorted(e["error_type"] for e in writer.rows("ingestion_errors"))
    assert types == ["unknown_contract", "unsupported_format"]


def test_truncated_gzip_keeps_every_readable_line_of_the_batch_it_broke_in():
    lines = [orjson.dumps({**EVENT, "event_name": f"e{i}"}) for i in range(50)]
    good = gzip.compress(b"\n".join(lines))
    pipe, writer = _pipe(file_batch_lines=10)
    counts = ingest(pipe, "events/x.ndjson.gz", good[: len(good) - 20])
    landed = sorted(int(r["event_name"][1:]) for r in writer.rows("pro_event"))
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "undecodable_file" and error["source"]["line_number"] == len(landed) + 1
    assert landed == list(range(len(landed))) and len(landed) >= 45  # only the line it broke in is missing
    assert lines[len(landed)].startswith(error["raw_payload"].encode())
    assert counts.dead_lettered == 1 and counts.rows_sent == len(landed) and counts.balanced()


def test_runaway_line_is_dead_lettered_with_its_true_size():
    pipe, writer = _pipe(max_record_bytes=3000, dead_letter_payload_bytes=1000)
    content = b'{"a":"' + b"x" * 5000 + b'"}\n' + orjson.dumps(EVENT) + b"\n"
    counts = ingest(pipe, "events/x.ndjson", content)
    assert counts.rows_sent == 1 and counts.dead_lettered == 1
    [error] = writer.rows("ingestion_errors")
    assert error["error_type"] == "oversized" and error["source"]["line_number"] == 1
    assert error["raw_payload_bytes"] == 5008 and error["raw_payload_truncated"] is True
    assert len(error["raw_payload"]) == 1000
