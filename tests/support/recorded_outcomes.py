"""Recorded outcomes of the record path's specialised steps, for approval tests.

The hot steps (``pro_event.to_row``, ``split_message``, ``aggregate_path``) take shortcuts that
the straightforward code did not. ``tests/fixtures/record_path_outcomes.json`` holds a digest of
what each step gave, per case, when the shortcuts landed (recorded from the code before them,
commit 351f1a4): the same row, or the same failure with the same reasons in the same order. The
cases are deterministic: the project's samples, the benchmark corpus, the contract examples,
every record of the hostile corpus, and seeded random events built to hit the shortcuts' edges
(duplicate keys, two keys for one column, values that do not fit, shapes the fast flattening
refuses).

A digest that changes is a behaviour change. If it is intended, record again and commit the
fixture with the change that explains it:

    PYTHONPATH=functions:. .venv/bin/python -m tests.support.recorded_outcomes --record
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from benchmarks import corpus
from ingest import contracts
from ingest.config import Settings
from ingest.consent import Action
from ingest.decode import split_message
from ingest.enrich.urls import aggregate_path
from ingest.errors import RecordError
from ingest.records import SourceRef
from ingest.transform import pro_event
from ingest.transform.context import SkipRecord, TransformContext
from tests.support import hostile_corpus
from tools import samples

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "record_path_outcomes.json"
SETTINGS = Settings(pseudonymisation_key="test-key-0123456789")
RECEIVED = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "pro_event" / "examples"
GENERATED = 1500
"""Seeded random cases per generated family."""


@dataclass(frozen=True)
class Steps:
    """The functions whose outcomes are recorded (the recorder can be pointed at other code)."""

    to_row: Callable[[dict[str, Any], TransformContext], dict[str, Any]] = pro_event.to_row
    split_message: Callable[[bytes, SourceRef, Settings], list[Any]] = split_message
    aggregate_path: Callable[[str | None], str | None] = aggregate_path


def _plain(value: Any) -> Any:
    """JSON-able, exact form of an outcome: dict order ignored, types kept (1, 1.0 and True differ)."""
    if isinstance(value, dict):
        return {"d": sorted([_plain(k), _plain(v)] for k, v in value.items())}
    if isinstance(value, Enum):
        return {"e": str(value.value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {"n": type(value).__name__, "v": _plain(value._asdict())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return {"b": value.hex()}
    if isinstance(value, float):
        return {"f": repr(value)}
    if isinstance(value, (bool, int)):
        return {type(value).__name__: str(value)}
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {"n": type(value).__name__, "v": _plain({k: getattr(value, k) for k in value.__dataclass_fields__})}
    raise TypeError(f"no plain form for {type(value).__name__}")


def digest(outcome: Any) -> str:
    return hashlib.sha256(orjson.dumps(_plain(outcome))).hexdigest()[:12]


# ---- pro_event.to_row ----

def _transform_outcome(to_row: Callable[..., Any], event: Any, action: Action) -> Any:
    ctx = TransformContext(settings=SETTINGS, table=contracts.table_schema(SETTINGS.schemas_dir, "pro_event"),
                           received_at=RECEIVED, consent_action=action)
    try:
        return "row", to_row(orjson.loads(orjson.dumps(event)), ctx)
    except RecordError as error:
        return "error", error.kind, [(r.path, r.message) for r in error.reasons]
    except SkipRecord as skip:
        return "skip", str(skip)
    except Exception as error:  # a bug must look the same too: same type, same words
        return "crash", type(error).__name__, str(error)


_KEYS = ["offerId", "offer_id", "offer", "venueId", "venue_id", "isEdition", "is_edition", "offerType",
         "page_location", "page_referrer", "page_title", "firebase_screen", "ga_session_id", "ga_session_number",
         "pageNumber", "downloadFilesCnt", "unknownKey", "event_name", "row_id", "offererName", "", "x" * 130]
_TOP_KEYS = ["page_location", "page_referrer", "page_title", "ga_session_id", "user_id", "platform",
             "firebase_screen", "unexpected"]
_TEXTS = ["true", "no", "12", " 7 ", "1.5", "https://passculture.pro/a?gclid=x"]
_CHARS = "ab7 .-_é\u00a0\x00\n"


def _scalar(rng: random.Random) -> Any:
    pick = rng.randrange(9)
    if pick == 0:
        return None
    if pick == 1:
        return ""
    if pick == 2:
        return rng.random() < 0.5
    if pick == 3:
        return rng.choice([0, 1, -1, 7, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -2**63, rng.randint(-2**63, 2**64 - 1)])
    if pick == 4:
        return rng.choice([0.0, -0.0, 1.0, 1.5, 2.0**53, -2.0**60, 1e300, rng.uniform(-1e6, 1e6)])
    if pick == 5:
        return "".join(rng.choice(_CHARS) for _ in range(rng.randrange(7)))
    return rng.choice(_TEXTS)


def _value_object(rng: random.Random) -> Any:
    """Mostly value objects; now and then a shape validation would refuse (the step must not care)."""
    pick = rng.randrange(30)
    if pick >= 3:
        keys = rng.sample(["string_value", "int_value", "double_value", "float_value"], rng.randrange(4))
        return {k: _scalar(rng) for k in keys}
    return [None, [], "v"][pick]


def _param(rng: random.Random) -> Any:
    pick = rng.randrange(40)
    if pick >= 3:
        return {"key": rng.choice(_KEYS), "value": _value_object(rng)}
    return [{"key": rng.choice(_KEYS)}, "not an object", {"value": {"int_value": 1}}][pick]


def _params(rng: random.Random) -> Any:
    pick = rng.randrange(20)
    if pick >= 3:
        return [_param(rng) for _ in range(rng.randrange(9))]
    if pick == 0:
        return {rng.choice(_KEYS): _scalar(rng) for _ in range(rng.randrange(7))}
    return [None, "x"][pick - 1]


def _generated_event(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    event = samples.event(random.Random(seed), RECEIVED, seed)
    event["event_params"] = _params(rng)
    event.update({rng.choice(_TOP_KEYS): _scalar(rng) for _ in range(rng.randrange(4))})
    return event


def _hostile_values() -> list[Any]:
    source = SourceRef(kind="pubsub", topic="t", message_id="m")
    found = []
    for case in hostile_corpus.CASES:
        if case.target == "ingest_events":
            found += [r.value for r in split_message(case.body, source, SETTINGS) if isinstance(r.value, dict)]
    return found


def _reason_order_events() -> Iterator[tuple[str, dict[str, Any]]]:
    """Two or three bad parameters whose keys share no column, in every order: reasons keep parameter order."""
    bad = [{"key": "pageNumber", "value": {"string_value": "one"}},
           {"key": "downloadFilesCnt", "value": {"string_value": "two"}},
           {"key": "hasSavedQuery", "value": {"string_value": "maybe"}}]
    for order in itertools.chain(itertools.permutations(range(3)), itertools.permutations(range(3), 2)):
        event = samples.event(random.Random(1), RECEIVED, 1)
        event["event_params"] = [bad[i] for i in order]
        yield "order-" + "".join(map(str, order)), event
    event = samples.event(random.Random(0), RECEIVED, 0)
    event["event_params"] = {"ga_session_number": False}
    event.update({"platform": 2.0**53, "user_id": -2.0**60})  # three reasons, in order
    yield "three-reasons", event


def transform_events() -> Iterator[tuple[str, Any]]:
    rng = random.Random(7)  # samples.events, at a fixed moment (it starts 30 minutes before now)
    yield from ((f"sample-{i}", samples.event(rng, RECEIVED, i)) for i in range(300))
    yield from ((f"corpus-{i}", e) for i, e in enumerate(corpus.events(300)))
    yield from ((f"hostile-{i}", e) for i, e in enumerate(_hostile_values()))
    yield from ((f"example-{p.stem}", orjson.loads(p.read_bytes())) for p in sorted(EXAMPLES.glob("*.json")))
    yield from _reason_order_events()
    yield from ((f"generated-{seed}", _generated_event(seed)) for seed in range(GENERATED))


# ---- split_message ----

_LINES = [b'{"a":1}', b'{"a":1,"a":2}', b"[1]", b"7", b'"x"', b"{bad", b"", b"   ", b"\t", b"\r",
          b'{"b":"' + b"y" * 1100 + b'"}', b"\xef\xbb\xbf{}", b"null", b'{"c":[1,{"d":null}]}', b"}"]
_SOURCES = [SourceRef(kind="pubsub", topic="t", message_id="m"),
            SourceRef(kind="gcs", bucket="b", object="o", generation=3, line_number=9)]
SPLIT_LIMITS = Settings(max_record_bytes=1024, max_message_bytes=65_536)


def split_bodies() -> Iterator[tuple[str, bytes, SourceRef]]:
    for seed in range(GENERATED):
        rng = random.Random(seed)
        lines = [rng.choice(_LINES) for _ in range(rng.randrange(9))]
        newline = rng.choice([b"\n", b"\r\n"])
        body = newline.join(lines) + (newline if rng.random() < 0.5 else b"")
        yield f"split-{seed}", body, rng.choice(_SOURCES)


def _split_outcome(split: Callable[..., list[Any]], body: bytes, source: SourceRef) -> Any:
    return [(r.raw, r.source, r.value, r.size, r.error and (r.error.kind, r.error.reasons))
            for r in split(body, source, SPLIT_LIMITS)]


# ---- aggregate_path ----

_PIECES = ["https://", "http://", "//", ":", " ", "\t", "\n", "passculture.pro", "[::1]", "[", "]", ":8080", "/",
           "/offre/", "A9KSA", "123", "?", "#", "%", "%3F", "é", "\u00a0", ";", "..", "offre", "individuelle",
           "T-A9KSA", "T-", "0123", "\u0661\u0662", "\u00b2", "12ab", "a1b2c3d4-aaaa-bbbb-cccc-0123456789ab",
           "ABCDEFGHJKL"]


def paths() -> Iterator[tuple[str, str | None]]:
    yield "none", None
    for seed in range(2 * GENERATED):
        rng = random.Random(seed)
        parts = [rng.choice(_PIECES) for _ in range(rng.randrange(11))]
        yield f"path-{seed}", ("https://passculture.pro/" if seed % 2 else "") + "/".join(parts)


# ---- the fixture ----

def outcomes(steps: Steps = Steps()) -> dict[str, str]:
    """case -> digest of what ``steps`` give. Each step runs twice per case: the second time every
    key is learnt, so the shortcut is taken, and both times must give the one recorded outcome."""
    found: dict[str, str] = {}

    def note(case: str, run: Callable[..., Any], *args: Any) -> None:
        first, second = digest(run(*args)), digest(run(*args))
        found[case] = first if first == second else f"{first}!={second}"

    for case, event in transform_events():
        for action in (Action.KEEP, Action.PSEUDONYMISE):
            note(f"to_row/{action.name}/{case}", _transform_outcome, steps.to_row, event, action)
    for case, body, source in split_bodies():
        note(f"split_message/{case}", _split_outcome, steps.split_message, body, source)
    for case, path in paths():
        note(f"aggregate_path/{case}", steps.aggregate_path, path)
    return found


def recorded() -> dict[str, str]:
    return orjson.loads(FIXTURE.read_bytes())


def record(steps: Steps = Steps()) -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_bytes(orjson.dumps(outcomes(steps), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help=f"rewrite {FIXTURE.name} from the current code")
    args = parser.parse_args()
    if args.record:
        record()
        print(f"recorded {len(recorded())} outcomes in {FIXTURE}")
    else:
        changed = sorted(k for k, v in outcomes().items() if recorded().get(k) != v)
        print(f"{len(changed)} outcome(s) differ from {FIXTURE.name}" + "".join(f"\n  {k}" for k in changed[:20]))


if __name__ == "__main__":
    main()
