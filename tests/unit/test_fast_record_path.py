"""The specialised record path gives exactly what it gave when its shortcuts landed.

``tests/support/recorded_outcomes.py`` names the cases (samples, the benchmark corpus, the contract
examples, every record of the hostile corpus, seeded random events and message bodies built to hit
the shortcuts' edges) and ``tests/fixtures/record_path_outcomes.json`` holds a digest of each
outcome, recorded from the code before the shortcuts (351f1a4): the same row, or the same failure
with the same reasons in the same order, for ``pro_event.to_row`` (KEEP and PSEUDONYMISE),
``split_message`` and ``aggregate_path``, each run twice (the second time the shortcut is taken).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import envelopes
from ingest.errors import RecordError
from ingest.sinks.audit import Counts
from tests.support import recorded_outcomes

OUTCOMES = recorded_outcomes.outcomes()
RECORDED = recorded_outcomes.recorded()


def test_every_recorded_case_is_still_a_case() -> None:
    assert OUTCOMES.keys() == RECORDED.keys()
    assert len(RECORDED) > 14_000


@pytest.mark.parametrize("step", ["to_row/KEEP", "to_row/PSEUDONYMISE", "split_message", "aggregate_path"])
def test_each_step_gives_its_recorded_outcomes(step: str) -> None:
    changed = sorted(case for case, outcome in OUTCOMES.items()
                     if case.startswith(step + "/") and outcome != RECORDED.get(case))
    assert not changed, (f"{len(changed)} outcome(s) changed, e.g. {changed[:5]}; if intended, record again: "
                         "python -m tests.support.recorded_outcomes --record")


def test_the_cases_reach_rows_failures_and_shortcut_edges() -> None:
    """The generated events are not all refused: the fixture pins rows and reasons, not only crashes."""
    kinds: dict[str, int] = {}
    for case, event in recorded_outcomes.transform_events():
        if case.startswith("generated-"):
            outcome = recorded_outcomes._transform_outcome(recorded_outcomes.pro_event.to_row, event,
                                                           recorded_outcomes.Action.KEEP)
            kinds[outcome[0]] = kinds.get(outcome[0], 0) + 1
    assert kinds["row"] > 400 and kinds["error"] > 300


@pytest.mark.parametrize("number", [0, -7, 585278, 2**63 - 1, -2**63, 2**63, 2**64 - 1, -2**63 - 1, 10**4400, True],
                         ids=["0", "-7", "id", "int64-max", "int64-min", "above", "uint64-max", "below", "4401-digits",
                              "bool"])
def test_an_integer_parameter_of_a_string_column_is_what_the_general_conversion_makes_of_it(number: int) -> None:
    """``_map_params`` converts GA4 int_value ids itself; anything it would not convert the same
    way (beyond int64, too many digits for ``str``) goes through ``RowBuilder.set``, and then
    fails where it always did: JSON cannot hold the parameters (an internal error, not a crash
    of ``str`` before the reasons are collected)."""
    from datetime import datetime, timezone

    from ingest import contracts
    from ingest.config import Settings
    from ingest.transform import pro_event
    from ingest.transform.coerce import RowBuilder
    from ingest.transform.context import TransformContext

    settings_ = Settings()
    table = contracts.table_schema(settings_.schemas_dir, "pro_event")
    ctx = TransformContext(settings=settings_, table=table, received_at=datetime.now(timezone.utc))
    expected = RowBuilder(table)
    expected.set("offer_id", number, "$.event_params.offerId")
    event = {"event_name": "e", "event_timestamp": 1_764_000_000_000_000, "user_pseudo_id": "u",
             "event_params": [{"key": "offerId", "value": {"int_value": number}}]}
    try:
        got: Any = pro_event.to_row(event, ctx).get("offer_id")
    except RecordError as error:
        got = error.reasons
    except TypeError as error:  # orjson: "Integer exceeds 64-bit range"
        assert not -2**63 <= number < 2**64 and "64-bit" in str(error)
        return
    assert got == (expected.reasons or expected.row.get("offer_id"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


ENCODED = st.one_of(
    st.text(max_size=12), st.text(alphabet="ABCDab01+/=", max_size=12).map(lambda t: t * 3), st.binary(max_size=40).map(_b64),
    st.tuples(st.binary(min_size=1, max_size=40), st.integers(0, 3), st.sampled_from(["", "=", "==", "\n", " ", "A", "*"]))
    .map(lambda t: _b64(t[0])[:len(_b64(t[0])) - t[1]] + t[2]))  # cut short, then something appended


@settings(max_examples=3000, deadline=None)
@given(ENCODED)
def test_message_data_is_decoded_as_strict_base64_decoding_would(encoded: str) -> None:
    envelope = {"message": {"messageId": "m", "data": encoded}}
    try:
        expected: Any = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        expected = f"not base64: {error}"
    try:
        got: Any = envelopes.pubsub_message(None, envelope, "t").data
    except RecordError as error:
        got = error.reasons[0].message
    assert got == (expected or b"") if encoded else got == b""


@given(st.lists(st.integers(0, 9), min_size=9, max_size=9), st.one_of(st.none(), st.sampled_from(["2026-12-01"])))
def test_audit_counts_are_every_field_in_declaration_order(values: list[int], day: str | None) -> None:
    from dataclasses import fields

    counts = Counts(*values, earliest_partition=day)
    counts.add(Counts(received=1, earliest_partition="2026-11-30"))
    assert list(counts.as_row().items()) == [(spec.name, getattr(counts, spec.name)) for spec in fields(counts)]
