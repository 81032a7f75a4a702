"""Whatever arrives, the pipeline neither crashes nor loses a record: every record received has
exactly one outcome, and every invalid one reaches the dead letter with a reason."""

from datetime import datetime, timezone
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.config import Settings
from ingest.decode import split_message
from ingest.pipeline import prepare
from ingest.records import SourceRef

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SETTINGS = Settings(schemas_dir=SCHEMAS, max_record_bytes=20_000)
SOURCE = SourceRef(kind="pubsub", topic="t", message_id="m")
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)
EXAMPLE = orjson.loads((SCHEMAS / "pro_event/examples/ga4_export.pass.json").read_bytes())

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
                    st.sampled_from(["NaN", "inf", "-Infinity", "1e400", "99999999999999999999", "", " ", "\u0000"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=20)


def _check(contract: str, data: bytes) -> None:
    records = split_message(data, SOURCE, SETTINGS)
    prepared = prepare(contract, records, SETTINGS, received_at=NOW)
    counts = prepared.counts
    assert counts.received == len(records) and counts.balanced(), counts
    errors = [orjson.loads(row) for _, row in prepared.dead_letter.take()]
    assert len(errors) == counts.dead_lettered
    assert all(row["reasons"] and row["error_type"] != "internal_error" for row in errors), errors


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from(["pro_event", "pro_log", "userpilot_event"]))
def test_arbitrary_bytes(data, contract):
    _check(contract, data)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=5), st.sampled_from(["pro_event", "pro_log", "userpilot_event"]))
def test_arbitrary_json_batches(items, contract):
    _check(contract, orjson.dumps(items))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(EXAMPLE) + ["consent", "user_agent", "firebase_screen"]), json_values,
                       max_size=6))
def test_mutated_events(changes):
    """Plausible events with fields replaced by anything: valid or dead-lettered, never a crash."""
    _check("pro_event", orjson.dumps({**EXAMPLE, **changes}))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=0, max_value=2**63), st.datetimes().map(lambda d: d.isoformat() + "Z"),
                 st.text(max_size=30)))
def test_timestamps_of_any_value(stamp):
    _check("pro_event", orjson.dumps({**EXAMPLE, "event_timestamp": stamp}))
    log = orjson.loads((SCHEMAS / "pro_log/examples/logentry_stock.pass.json").read_bytes())
    _check("pro_log", orjson.dumps({**log, "timestamp": stamp}))
    userpilot = orjson.loads((SCHEMAS / "userpilot_event/examples/page_view.pass.json").read_bytes())
    _check("userpilot_event", orjson.dumps({**userpilot, "inserted_at": stamp}))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["offerId", "venueId", "isEdition", "downloadFilesCnt", "pageNumber", "x"]),
                       st.one_of(st.text(max_size=10), st.integers(min_value=-(2**63), max_value=2**64 - 1),
                                 st.floats(allow_nan=False, allow_infinity=False), st.booleans()),
                       max_size=6))
def test_parameter_values_of_any_type(params):
    _check("pro_event", orjson.dumps({**EXAMPLE, "event_params": params}))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=200, max_value=1000), st.sampled_from(["pro_event", "pro_log", "userpilot_event"]))
def test_deep_nesting_anywhere(depth, contract):
    nested = "[" * depth + "]" * depth
    example = {"pro_event": EXAMPLE, "pro_log": {"message": "Offer has been updated", "extra": {}},
               "userpilot_event": {"event_type": "track", "inserted_at": "2026-11-23T10:00:00Z"}}[contract]
    for field in ("unknown_field", "extra", "metadata", "event_params"):
        _check(contract, b'{"%s":%s,' % (field.encode(), nested.encode()) + orjson.dumps(example)[1:])
