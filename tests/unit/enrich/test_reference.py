from pathlib import Path

import orjson

from ingest.config import Settings
from ingest.enrich.reference import ReferenceData, ReferenceSnapshot
from ingest.pipeline import Pipeline
from tests.support.fake_writer import FakeWriter
from tests.support.memory_files import ingest

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
EVENT = orjson.loads((SCHEMAS / "pro_event/examples/ga4_export.pass.json").read_bytes())  # venue BF9Q, offerer AEWQ
LINES = [
    b'{"kind": "venue", "venue_id": "BF9Q", "venue_name": "Librairie du Port", "venue_type_label": "Librairie",'
    b' "venue_is_permanent": true, "partner_id": "P-1", "partner_type": "Librairie", "not_a_column": 1}',
    b'{"kind": "offerer", "offerer_id": "AEWQ", "offerer_name": "SARL Lire", "is_local_authority": "false",'
    b' "offerer_first_individual_offer_creation_date": "2021-03-04", "total_permanent_managed_venues": "many"}',
    b"",
    b'{"kind": "unknown", "x": 1}',
]


def test_snapshot_indexes_by_kind_and_id():
    snapshot = ReferenceSnapshot.from_lines(LINES)
    assert snapshot.lookup("venue", "BF9Q")["venue_name"] == "Librairie du Port"
    assert snapshot.lookup("offerer", "AEWQ")["offerer_name"] == "SARL Lire"
    assert snapshot.lookup("venue", "nope") is None


def test_snapshot_is_loaded_lazily_refreshed_after_ttl_and_kept_on_failure(monkeypatch):
    calls = []
    clock = [1000.0]
    monkeypatch.setattr("ingest.enrich.reference.time.monotonic", lambda: clock[0])

    def load():
        calls.append(clock[0])
        if len(calls) == 2:
            raise OSError("bucket unavailable")
        return LINES

    data = ReferenceData(load, ttl_s=60, source="gs://ref/snapshot.ndjson")
    assert calls == []
    first = data.snapshot()
    assert first is not None and len(calls) == 1
    clock[0] += 30
    assert data.snapshot() is first and len(calls) == 1
    clock[0] += 31
    assert data.snapshot() is first and len(calls) == 2  # refresh failed: previous snapshot kept
    clock[0] += 10
    assert data.snapshot() is first and len(calls) == 2  # retried only after half a TTL
    clock[0] += 21
    assert data.snapshot() is not first and len(calls) == 3


def _pipe(lines):
    writer = FakeWriter()
    return Pipeline(Settings(schemas_dir=SCHEMAS), writer, ReferenceData(lambda: lines, 600, "test")), writer


def test_rows_are_joined_and_unknown_ids_counted():
    pipe, writer = _pipe(LINES)
    other = {**EVENT, "event_name": "other", "event_params": [{"key": "venueId", "value": {"string_value": "ZZZZ"}}]}
    counts = ingest(pipe, "events/x.ndjson", orjson.dumps(EVENT) + b"\n" + orjson.dumps(other))
    assert counts.rows_sent == 2 and counts.reference_misses == 1
    rows = {row["event_name"]: row for row in writer.rows("pro_event")}
    joined = rows["hasClickedOffer"]
    assert joined["venue_name"] == "Librairie du Port" and joined["venue_is_permanent"] is True
    assert joined["partner_id"] == "P-1" and joined["offerer_name"] == "SARL Lire"
    assert joined["is_local_authority"] is False
    assert joined["offerer_first_individual_offer_creation_date"] == "2021-03-04"
    assert "total_permanent_managed_venues" not in joined  # "many" does not fit INT64: left out, row kept
    assert "not_a_column" not in joined
    assert "venue_name" not in rows["other"]
    assert writer.rows("ingestion_audit")[0]["reference_misses"] == 1


def test_without_a_snapshot_columns_stay_null_and_nothing_fails():
    writer = FakeWriter()
    pipe = Pipeline(Settings(schemas_dir=SCHEMAS), writer)
    ingest(pipe, "events/x.ndjson", orjson.dumps(EVENT))
    [row] = writer.rows("pro_event")
    assert "venue_name" not in row and row["venue_id"] == "BF9Q"
