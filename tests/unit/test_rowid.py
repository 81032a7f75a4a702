"""Row ids never change for the same row: the fast ``content_id`` and ``insert_id`` give exactly
the ids of the straightforward definitions (and of the ids already stored)."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.rowid import content_id, insert_id, stable_id

EXCLUDE = frozenset({"is_late", "row_id", "ingested_at", "ingestion_source"})
ORIGIN = {"source": "google", "channel": "cpc", "gclid": "Cj0KCQiA"}
# Ids as the code before the fast path computed them (commit 1cd5a93): stored rows carry these.
GOLDEN = [
    ({"event_name": "page_view", "user_pseudo_id": "258409929.1763900026",
      "event_timestamp": "2026-12-02T12:38:14.746259Z", "is_late": False, "session_number": 27,
      "traffic_origin": ORIGIN, "row_id": "x", "ingested_at": "y", "ingestion_source": "z"}, EXCLUDE,
     "3ed98f62257f26306488c237baf17e2c", "b297c68d1bac6af367087110480587bc"),
    ({"b": "é\u2028", "a": [1, 2.5, None], "c": {"z": {"y": 1, "x": 2}}}, frozenset({"q"}),
     "737c6fead5c9c872071dc73d53496119", "ff2c54d9156a90a8fb697e7d0aaccb4e"),
    ({}, frozenset(), "afcd0b5efee1d78f9d13d7f10a59cb15", "ebf05308a2022c52aa04cd3db75fae6e"),
]


@pytest.mark.parametrize(("row", "exclude", "row_id", "key"), GOLDEN)
def test_ids_of_stored_rows_do_not_change(row, exclude, row_id, key) -> None:
    identity, _, _ = content_id("pro_event", dict(row), exclude)
    assert identity == row_id
    assert insert_id(identity, "pubsub://t/1#0") == key


def _reference(contract: str, row: dict, exclude: frozenset[str]) -> tuple[str, bytes, dict]:
    kept = {name: value for name, value in row.items() if name not in exclude}
    canonical = orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
    return (hashlib.sha256(contract.encode() + b"\0" + canonical).hexdigest()[:32], canonical,
            {name: value for name, value in row.items() if name in exclude})


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False,
                    allow_infinity=False), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                             max_size=3), max_leaves=8)
names = st.sampled_from(sorted(EXCLUDE) + ["event_name", "a", "b", "é", "", "traffic_origin", "A"])


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["pro_event", "pro_log", "userpilot_event"]), st.dictionaries(names | st.text(max_size=8), values,
       max_size=12), st.frozensets(names, max_size=6), st.text(max_size=40))
def test_fast_ids_equal_their_definition(contract: str, row: dict, exclude: frozenset[str], position: str) -> None:
    identity, canonical, left_out = content_id(contract, dict(row), exclude)
    assert (identity, canonical, left_out) == _reference(contract, row, exclude)
    assert insert_id(identity, position) == stable_id(identity, position)
    assert content_id(contract, dict(reversed(row.items())), exclude)[0] == identity  # key order never matters
