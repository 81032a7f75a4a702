"""The specialised record path gives exactly what the straightforward one gave (``tests.support.before``):
the same row, or the same failure with the same reasons in the same order, on the project's samples,
the benchmark corpus, the contract examples, every record of the hostile corpus, and generated
events built to hit the shortcuts' edges (duplicate keys, two keys for one column, values that do
not fit, shapes the fast flattening refuses)."""

from __future__ import annotations

import base64
import binascii
import itertools
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from ingest import contracts, envelopes
from ingest.config import Settings
from ingest.consent import Action
from ingest.decode import split_message
from ingest.errors import RecordError
from ingest.records import SourceRef
from ingest.sinks.audit import Counts
from ingest.transform import pro_event
from ingest.transform.context import SkipRecord, TransformContext
from tests.support import hostile_corpus
from tests.support.before import pro_event as pro_event_before
from tools import samples

SETTINGS = Settings(pseudonymisation_key="test-key-0123456789")
TABLE = contracts.table_schema(SETTINGS.schemas_dir, "pro_event")
RECEIVED = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "pro_event" / "examples"


def _outcome(transform: Any, event: Any, action: Action) -> Any:
    ctx = TransformContext(settings=SETTINGS, table=TABLE, received_at=RECEIVED, consent_action=action)
    try:
        return "row", transform(orjson.loads(orjson.dumps(event)), ctx)
    except RecordError as error:
        return "error", error.kind, [(r.path, r.message) for r in error.reasons]
    except SkipRecord as skip:
        return "skip", str(skip)
    except Exception as error:  # a bug must look the same too: same type, same words
        return "crash", type(error).__name__, str(error)


def _same(event: Any) -> None:
    for action in (Action.KEEP, Action.PSEUDONYMISE):
        assert _outcome(pro_event.to_row, event, action) == _outcome(pro_event_before.to_row, event, action)


def _hostile_values() -> list[Any]:
    source = SourceRef(kind="pubsub", topic="t", message_id="m")
    found = []
    for case in hostile_corpus.CASES:
        if case.target == "ingest_events":
            found += [r.value for r in split_message(case.body, source, SETTINGS) if isinstance(r.value, dict)]
    return found


FIXED = ([*samples.events(300), *corpus.events(300), *_hostile_values()]
         + [orjson.loads(p.read_bytes()) for p in sorted(EXAMPLES.glob("*.json"))])


@pytest.mark.parametrize("index", range(0, len(FIXED), 25))
def test_samples_corpus_examples_and_hostile_records_give_the_same_outcome(index: int) -> None:
    for event in FIXED[index:index + 25]:
        _same(event)
    _same(event)  # the second time, every key is learnt: the shortcut is taken


KEYS = st.sampled_from(["offerId", "offer_id", "offer", "venueId", "venue_id", "isEdition", "is_edition", "offerType",
                        "page_location", "page_referrer", "page_title", "firebase_screen", "ga_session_id",
                        "ga_session_number", "pageNumber", "downloadFilesCnt", "unknownKey", "event_name", "row_id",
                        "offererName", "", "x" * 130])
SCALARS = st.one_of(st.none(), st.just(""), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=6), st.sampled_from(["true", "no", "12", " 7 ", "1.5", "https://passculture.pro/a?gclid=x"]))
VALUE_OBJECTS = st.one_of(
    st.dictionaries(st.sampled_from(["string_value", "int_value", "double_value", "float_value"]), SCALARS, max_size=3),
    st.none(), st.just([]), st.just("v"))
PARAM = st.one_of(st.fixed_dictionaries({"key": KEYS, "value": VALUE_OBJECTS}),
                  st.fixed_dictionaries({"key": KEYS}), st.just("not an object"), st.just({"value": {"int_value": 1}}))
PARAMS = st.one_of(st.lists(PARAM, max_size=8), st.dictionaries(KEYS, SCALARS, max_size=6), st.none(), st.just("x"))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), PARAMS, st.dictionaries(st.sampled_from(
    ["page_location", "page_referrer", "page_title", "ga_session_id", "user_id", "platform", "firebase_screen",
     "unexpected"]), SCALARS, max_size=3))
@example(0, {"ga_session_number": False}, {"platform": 2.0**53, "user_id": -2.0**60})  # three reasons, in order
def test_generated_events_give_the_same_outcome(seed: int, params: Any, top: dict[str, Any]) -> None:
    event = samples.event(random.Random(seed), RECEIVED, seed)
    event["event_params"] = params
    event.update(top)
    _same(event)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_several_bad_parameters_keep_their_reasons_in_parameter_order(order: tuple[int, ...]) -> None:
    """Keys no other key of these tests shares a column with: the unordered shortcut is tried."""
    bad = [{"key": "pageNumber", "value": {"string_value": "one"}},
           {"key": "downloadFilesCnt", "value": {"string_value": "two"}},
           {"key": "hasSavedQuery", "value": {"string_value": "maybe"}}]
    event = samples.event(random.Random(1), RECEIVED, 1)
    event["event_params"] = [bad[i] for i in order]
    _same(event)
    _same(event)  # the second time, every key is learnt: the shortcut is taken


LINES = st.sampled_from([b'{"a":1}', b'{"a":1,"a":2}', b"[1]", b"7", b'"x"', b"{bad", b"", b"   ", b"\t", b"\r",
                         b'{"b":"' + b"y" * 1100 + b'"}', b"\xef\xbb\xbf{}", b"null", b'{"c":[1,{"d":null}]}', b"}"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(LINES, max_size=8), st.sampled_from([b"\n", b"\r\n"]), st.booleans(),
       st.sampled_from([SourceRef(kind="pubsub", topic="t", message_id="m"),
                        SourceRef(kind="gcs", bucket="b", object="o", generation=3, line_number=9)]))
def test_split_message_gives_the_records_it_gave(lines: list[bytes], newline: bytes, trailing: bool,
                                                 source: SourceRef) -> None:
    from tests.support.before import decode as decode_before

    body = newline.join(lines) + (newline if trailing else b"")
    limits = Settings(max_record_bytes=1024, max_message_bytes=65_536)
    assert _records(split_message(body, source, limits)) == _records(decode_before.split_message(body, source, limits))


def _records(records: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.raw, r.source, r.value, r.size, r.error and (r.error.kind, r.error.reasons)) for r in records]


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
