"""The permanent hostile corpus: messages and files built to break the record path, each with the
exact outcome of every record in it.

A case lists, per record position (index in a batched message, line of a file, or None for a
message that is one record), what must become of it: ``ROW`` (in its table), a ``FailureKind``
(in ``ingestion_errors``), or one of the counted outcomes that land nowhere (consent dropped,
skipped, a duplicate within the batch). ``tests/unit/test_hostile_corpus.py`` drives every case
through the real handlers and checks each position lands exactly once where it should, that
the audit row says exactly that, and that no ``internal_error`` appears.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ingest.errors import FailureKind as K

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

ROW = "row"
DROPPED = "consent_dropped"
SKIPPED = "skipped"
DUPLICATE = "duplicate"
Outcome = str


def _example(contract: str, name: str) -> dict[str, Any]:
    return orjson.loads((SCHEMAS / contract / "examples" / name).read_bytes())


EVENT = _example("pro_event", "ga4_export.pass.json")
FLAT = {**_example("pro_event", "flat_params_rfc3339.pass.json"), "privacy_info": {"analytics_storage": "Yes"}}
LOG = _example("pro_log", "logentry_stock.pass.json")
BARE_LOG = _example("pro_log", "bare_cookies_consent.pass.json")
USERPILOT = _example("userpilot_event", "interaction.pass.json")
FLAT_NO_URL = {k: v for k, v in FLAT.items() if k != "page_location"}
DENIED = {"privacy_info": {"analytics_storage": "No"}}


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    """ingest_events, ingest_logs or ingest_file."""
    body: bytes
    """The message data (before base64), or the file's content."""
    outcomes: tuple[tuple[int | None, Outcome], ...]
    object_name: str = ""
    """For ingest_file: the dropped object's name (its prefix picks the contract)."""
    envelope: dict[str, Any] | None = None
    """A Pub/Sub push body to send instead of the well-formed one (malformed envelopes)."""
    raw: dict[int | None, bytes] = field(default_factory=dict)
    """Exact payloads the dead letter must hold, by position."""


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def ndjson(*values: Any) -> bytes:
    return b"\n".join(v if isinstance(v, bytes) else dumps(v) for v in values)


def event(i: int = 0, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "user_pseudo_id": f"corpus-{i}", **changes}


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def raw_event(extra: bytes, i: int = 0) -> bytes:
    """An event with a field whose JSON text is ``extra``, as sent."""
    return b'{"poison":' + extra + b"," + dumps(event(i))[1:]


def seq(*outcomes: Outcome) -> tuple[tuple[int | None, Outcome], ...]:
    return tuple(enumerate(outcomes))


def lines(*outcomes: Outcome) -> tuple[tuple[int | None, Outcome], ...]:
    return tuple((number, outcome) for number, outcome in enumerate(outcomes, 1) if outcome)


def whole(outcome: Outcome) -> tuple[tuple[int | None, Outcome], ...]:
    return ((None, outcome),)


def _params(i: int, **params: Any) -> dict[str, Any]:
    return event(i, event_params=[{"key": k, "value": v} for k, v in params.items()])


def poison_in_100(name: str, poison: bytes, kind: K, target: str = "ingest_events") -> Case:
    """99 valid records and one poison at position 57: 99 rows and one error, never 500."""
    valid = [dumps(event(i)) if target == "ingest_events" else dumps({**LOG, "insertId": f"i{i}"}) for i in range(100)]
    valid[57] = poison
    return Case(f"99 valid + 1 poison: {name}", target, ndjson(*valid),
                tuple((i, kind if i == 57 else ROW) for i in range(100)), raw={57: poison})


def _log(**extra: Any) -> dict[str, Any]:
    return {**LOG, "jsonPayload": {**LOG["jsonPayload"], "extra": {**LOG["jsonPayload"]["extra"], **extra}}}


def _pubsub(data: bytes, **message: Any) -> dict[str, Any]:
    return {"message": {"data": base64.b64encode(data).decode(), "messageId": "env", **message}}


BIG = 2**64 - 1
GZ_EVENTS = [dumps(event(i)) for i in range(3)]

CASES: list[Case] = [
    # --- one poison record must cost that record only --------------------------------------
    poison_in_100("an unknown field nested 300 levels", raw_event(nested(300), 57), K.INVALID_VALUE),
    poison_in_100("ga_session_number above 2^63-1 as digits",
                  dumps(event(57, ga_session_number="99999999999999999999")), K.INVALID_VALUE),
    poison_in_100("ga_session_number 2^64-1", dumps(event(57, ga_session_number=BIG)), K.INVALID_VALUE),
    poison_in_100("page_number parameter 2^64-1", dumps(_params(57, pageNumber={"int_value": BIG})), K.INVALID_VALUE),
    poison_in_100("user_id of 30 digits (a float once parsed)", raw_event(b"1", 57).replace(
        b'"user_id":"4242"', b'"user_id":123456789012345678901234567890'), K.INVALID_VALUE),
    poison_in_100("pro_log stock_old_quantity above 2^63-1",
                  dumps(_log(old_quantity="99999999999999999999")), K.INVALID_VALUE, "ingest_logs"),
    poison_in_100("pro_log extra nested 300 levels",
                  dumps(LOG).replace(b'"extra":{', b'"extra":{"deep":' + nested(300) + b","), K.INVALID_VALUE,
                  "ingest_logs"),
    poison_in_100("not JSON", b"{\"event_name\": ", K.INVALID_JSON),
    poison_in_100("a JSON array instead of an object", b"[1,2,3]", K.SCHEMA_VIOLATION),
    poison_in_100("nested 1100 levels (beyond the JSON parser)", b"[" * 1100 + b"]" * 1100, K.INVALID_JSON),

    # --- wrong values are invalid_value with a reason, never internal_error ------------------
    *[Case(f"pro_log choice_datetime {label}", "ingest_logs", dumps(_log(choice_datetime=value)),
           whole(K.INVALID_VALUE)) for label, value in
      [("as a float", 1.5), ("as a boolean", True), ("as a list", [1]), ("as an object", {}),
       ("out of range", "2026-13-45T00:00:00Z"), ("as 10^19 µs", 10**19)]],
    *[Case(f"pro_log stock_old_price {label}", "ingest_logs", dumps(_log(old_price=value)),
           whole(K.INVALID_VALUE)) for label, value in
      [("NaN", "NaN"), ("Infinity", "Infinity"), ("1e40", "1e40"), ("with 10 decimals", "12.1234567891"),
       ("a boolean", True), ("an object", {"v": 1})]],
    *[Case(f"flat page_location {label}", "ingest_events", dumps({**FLAT_NO_URL, "event_params": {
        **FLAT["event_params"], "page_location": value}} if label != "at the top level" else {**FLAT, "page_location": 5}),
        whole(kind)) for label, value, kind in
      [("as a number", 12345, K.INVALID_VALUE), ("as a boolean", True, K.INVALID_VALUE),
       ("as an object", {"u": 1}, K.SCHEMA_VIOLATION), ("at the top level", None, K.SCHEMA_VIOLATION)]],
    Case("flat page_title as a number is text", "ingest_events",
         dumps({**FLAT, "event_params": {**FLAT["event_params"], "page_title": 404}}), whole(ROW)),
    Case("is_edition perhaps", "ingest_events", dumps(_params(1, isEdition={"string_value": "perhaps"})),
         whole(K.INVALID_VALUE)),
    Case("download_files_cnt 2.5", "ingest_events", dumps(_params(1, downloadFilesCnt={"double_value": 2.5})),
         whole(K.INVALID_VALUE)),
    Case("download_files_cnt 1e300", "ingest_events", dumps(_params(1, downloadFilesCnt={"double_value": 1e300})),
         whole(K.INVALID_VALUE)),
    Case("session id as an object", "ingest_events", dumps(event(1, ga_session_id={"a": 1})),
         whole(K.SCHEMA_VIOLATION)),
    Case("event_timestamp 1e400 (infinite)", "ingest_events", dumps(event(1)).replace(
        b"1763900000123456", b"1e400"), whole(K.INVALID_JSON)),
    Case("event_timestamp 2^63 µs (year 294 247)", "ingest_events", dumps(event(1, event_timestamp=2**63)),
         whole(K.INVALID_VALUE)),
    Case("event_timestamp in seconds (1970)", "ingest_events", dumps(event(1, event_timestamp=1763900000)),
         whole(K.INVALID_VALUE)),
    Case("event_timestamp as a float of µs", "ingest_events", dumps(event(1, event_timestamp=1763900000123456.0)),
         whole(ROW)),
    Case("event_timestamp 2^64-1", "ingest_events", dumps(event(1, event_timestamp=BIG)), whole(K.INVALID_VALUE)),
    Case("literal NaN", "ingest_events", dumps(event(1)).replace(b"1763900000123456", b"NaN"),
         whole(K.INVALID_JSON)),
    Case("userpilot metadata nested 300 levels", "ingest_file", dumps(USERPILOT).replace(
        b'"metadata":{', b'"metadata":{"deep":' + nested(300) + b","), lines(K.INVALID_VALUE),
         object_name="userpilot/deep.ndjson"),
    Case("userpilot screen_width 2^64-1", "ingest_file", dumps({**USERPILOT, "screen_width": BIG}),
         lines(K.INVALID_VALUE), object_name="userpilot/big.ndjson"),
    Case("unknown field nested 250 levels is kept", "ingest_events", raw_event(nested(250)), whole(ROW)),

    # --- encodings ----------------------------------------------------------------------------
    Case("UTF-8 byte order mark", "ingest_events", b"\xef\xbb\xbf" + dumps(event(1)), whole(ROW)),
    Case("UTF-16 text", "ingest_events", dumps(event(1)).decode().encode("utf-16"), whole(K.INVALID_JSON)),
    Case("Latin-1 byte in a string", "ingest_events", dumps(event(1, page_title="caf_")).replace(b"caf_", b"caf\xe9"),
         whole(K.INVALID_JSON)),
    Case("a lone surrogate escape", "ingest_events", dumps(event(1, page_title="X")).replace(
        b'"page_title":"X"', b'"page_title":"\\ud800"'), whole(K.INVALID_JSON)),
    Case("an unescaped control character", "ingest_events", dumps(event(1, page_title="X")).replace(b"X", b"\x01"),
         whole(K.INVALID_JSON)),
    Case("escaped NUL and emoji in strings", "ingest_events", dumps(event(1, page_title="a\u0000b \U0001F600")),
         whole(ROW)),
    Case("empty message", "ingest_events", b"", whole(K.INVALID_JSON)),
    Case("whitespace only", "ingest_events", b" \n\t ", whole(K.INVALID_JSON)),
    Case("a bare string", "ingest_events", b'"hello"', whole(K.SCHEMA_VIOLATION)),
    Case("null", "ingest_events", b"null", whole(K.SCHEMA_VIOLATION)),
    Case("empty array", "ingest_events", b"[]", ()),
    Case("binary garbage (0x0a splits it in two lines)", "ingest_events", bytes(range(256)),
         seq(K.INVALID_JSON, K.INVALID_JSON)),

    # --- duplicate keys, exact bytes -------------------------------------------------------------
    Case("duplicate keys: the last wins", "ingest_events",
         dumps(event(1))[:-1] + b',"event_name":"second"}', whole(ROW)),
    Case("array elements are dead-lettered as sent", "ingest_events",
         b'[' + dumps(event(1)) + b', {"a":1,"a":2,"b":1E2} ]', seq(ROW, K.SCHEMA_VIOLATION),
         raw={1: b'{"a":1,"a":2,"b":1E2}'}),
    Case("pretty-printed event", "ingest_events", orjson.dumps(event(1), option=orjson.OPT_INDENT_2), whole(ROW)),
    Case("pretty-printed array", "ingest_events", orjson.dumps([event(1), event(2)], option=orjson.OPT_INDENT_2),
         seq(ROW, ROW)),
    Case("truncated array", "ingest_events", b"[" + dumps(event(1)) + b",", whole(K.INVALID_JSON)),
    Case("array with trailing comma", "ingest_events", b"[" + dumps(event(1)) + b",]", whole(K.INVALID_JSON)),
    Case("CRLF NDJSON with blank lines", "ingest_events",
         dumps(event(1)) + b"\r\n\r\n" + dumps(event(2)) + b"\r\n", seq(ROW, ROW)),

    # --- gzip -----------------------------------------------------------------------------------
    Case("multi-member gzip message", "ingest_events",
         gzip.compress(ndjson(*GZ_EVENTS[:2]) + b"\n") + gzip.compress(GZ_EVENTS[2]), seq(ROW, ROW, ROW)),
    Case("gzip with zero padding", "ingest_events", gzip.compress(ndjson(*GZ_EVENTS)) + b"\0" * 64,
         seq(ROW, ROW, ROW)),
    Case("gzip with trailing garbage", "ingest_events", gzip.compress(ndjson(*GZ_EVENTS)) + b"garbage",
         whole(K.UNDECODABLE_MESSAGE)),
    Case("truncated gzip message", "ingest_events", gzip.compress(ndjson(*GZ_EVENTS))[:-30],
         whole(K.UNDECODABLE_MESSAGE)),
    Case("gzip magic then garbage", "ingest_events", b"\x1f\x8bthis is not deflate", whole(K.UNDECODABLE_MESSAGE)),
    Case("a 47-byte gzip bomb of 3000 records", "ingest_events", gzip.compress(b"{}\n" * 3000, 9),
         whole(K.OVERSIZED_MESSAGE)),
    Case("gzip expanding past MAX_MESSAGE_BYTES", "ingest_events",
         gzip.compress(b"\n".join(dumps(event(i, page_title="x" * 900)) for i in range(800))),
         whole(K.OVERSIZED_MESSAGE)),
    Case("gzip of one event", "ingest_events", gzip.compress(dumps(event(1))), whole(ROW)),

    # --- bounds ----------------------------------------------------------------------------------
    Case("more records than MAX_MESSAGE_RECORDS (NDJSON)", "ingest_events", b"{}\n" * 1001,
         whole(K.OVERSIZED_MESSAGE)),
    Case("more records than MAX_MESSAGE_RECORDS (array)", "ingest_events", b"[" + b",".join([b"{}"] * 1001) + b"]",
         whole(K.OVERSIZED_MESSAGE)),
    Case("a record above MAX_RECORD_BYTES", "ingest_events",
         ndjson(event(1), event(2, page_title="x" * 70_000)), seq(ROW, K.OVERSIZED)),
    Case("a message above MAX_MESSAGE_BYTES", "ingest_events",
         ndjson(*(event(i, page_title="y" * 60_000) for i in range(20))), whole(K.OVERSIZED_MESSAGE)),

    # --- identity and duplicates -------------------------------------------------------------------
    Case("the same event twice", "ingest_events", ndjson(event(1), event(1)), seq(ROW, DUPLICATE)),
    Case("the same event respelled (float time, other key order)", "ingest_events",
         ndjson(event(1), dict(reversed(list(event(1, event_timestamp=1763900000123456.0).items())))),
         seq(ROW, DUPLICATE)),
    Case("user_id as a number and as text", "ingest_events", ndjson(event(1, user_id=4242), event(1)),
         seq(ROW, DUPLICATE)),
    Case("flat params in another order", "ingest_events",
         ndjson(FLAT, {**FLAT, "event_params": dict(reversed(list(FLAT["event_params"].items())))}),
         seq(ROW, DUPLICATE)),
    Case("two identical bare logs without a timestamp are two logs", "ingest_logs",
         ndjson({"message": "Offer has been updated", "extra": {"offer_id": 1}},
                {"message": "Offer has been updated", "extra": {"offer_id": 1}}), seq(ROW, ROW)),
    Case("one LogEntry delivered twice in a batch", "ingest_logs", ndjson(LOG, LOG), seq(ROW, DUPLICATE)),
    Case("two LogEntries identical but for insertId", "ingest_logs", ndjson(LOG, {**LOG, "insertId": "other"}),
         seq(ROW, ROW)),

    # --- consent --------------------------------------------------------------------------------------
    Case("denied consent", "ingest_events", dumps(event(1, **DENIED)), whole(DROPPED)),
    Case("denied consent and invalid: never kept raw", "ingest_events",
         dumps({"event_timestamp": "soon", **DENIED}), whole(DROPPED)),
    Case("denied through a consent object", "ingest_events",
         dumps({**FLAT, "consent": {"accepted": [], "refused": ["analytics"]}, "privacy_info": None}), whole(DROPPED)),
    Case("missing consent", "ingest_events", dumps({k: v for k, v in event(1).items() if k != "privacy_info"}),
         whole(DROPPED)),
    Case("missing consent and invalid", "ingest_events", dumps({"event_name": "x"}), whole(K.SCHEMA_VIOLATION)),
    Case("privacy_info as a string", "ingest_events", dumps(event(1, privacy_info="Yes")), whole(K.SCHEMA_VIOLATION)),
    Case("consent lists of numbers", "ingest_events",
         dumps({**FLAT, "consent": {"accepted": [1, 2]}, "privacy_info": None}), whole(K.SCHEMA_VIOLATION)),
    Case("a mixed batch", "ingest_events",
         ndjson(event(1), b"{broken", event(2, **DENIED), {"event_name": "x"}, event(1), event(3)),
         seq(ROW, K.INVALID_JSON, DROPPED, K.SCHEMA_VIOLATION, DUPLICATE, ROW)),

    # --- logs -----------------------------------------------------------------------------------------
    Case("an unsupported log kind", "ingest_logs", dumps({**BARE_LOG, "message": "Something else"}), whole(SKIPPED)),
    Case("a LogEntry without its timestamp", "ingest_logs", dumps({k: v for k, v in LOG.items() if k != "timestamp"}),
         whole(K.SCHEMA_VIOLATION)),
    Case("a LogEntry dated 1999", "ingest_logs", dumps({**LOG, "timestamp": "1999-12-31T23:59:59Z"}),
         whole(K.INVALID_VALUE)),
    Case("bare log with unknown fields is kept", "ingest_logs", dumps({**BARE_LOG, "severity": "INFO", "x": [1]}),
         whole(ROW)),
    Case("jsonPayload that is a string", "ingest_logs", dumps({**LOG, "jsonPayload": "text"}),
         whole(K.SCHEMA_VIOLATION)),

    # --- envelopes ----------------------------------------------------------------------------------
    Case("publishTime that is not a time", "ingest_events", b"", whole(K.UNDECODABLE_MESSAGE),
         envelope=_pubsub(dumps(event(1)), publishTime="yesterday")),
    Case("publishTime as a number", "ingest_events", b"", whole(K.UNDECODABLE_MESSAGE),
         envelope=_pubsub(dumps(event(1)), publishTime=1763900000)),
    Case("attributes as a list", "ingest_events", b"", whole(K.UNDECODABLE_MESSAGE),
         envelope=_pubsub(dumps(event(1)), attributes=["a"])),
    Case("attribute values that are not text", "ingest_events", b"", whole(K.UNDECODABLE_MESSAGE),
         envelope=_pubsub(dumps(event(1)), attributes={"a": {"b": 1}})),
    Case("data that is not base64", "ingest_logs", b"", whole(K.UNDECODABLE_MESSAGE),
         envelope={"message": {"data": "***", "messageId": "env"}}),
    Case("no message at all", "ingest_logs", b"", whole(K.UNDECODABLE_MESSAGE), envelope={"subscription": "s"}),
    Case("message as a string", "ingest_events", b"", whole(K.UNDECODABLE_MESSAGE), envelope={"message": "hi"}),
    Case("no data: an empty message", "ingest_events", b"", whole(K.INVALID_JSON),
         envelope={"message": {"messageId": "env"}}),

    # --- files ----------------------------------------------------------------------------------------
    Case("gzip NDJSON file, two members, bad line in the middle", "ingest_file",
         gzip.compress(ndjson(USERPILOT, {**USERPILOT, "user_id": "u-2"}) + b"\n{nope}\n")
         + gzip.compress(ndjson({**USERPILOT, "user_id": "u-3"}, {"event_type": "click"})),
         lines(ROW, ROW, K.INVALID_JSON, ROW, K.SCHEMA_VIOLATION), object_name="userpilot/export.ndjson.gz"),
    Case("file with a byte order mark, CRLF and blank lines", "ingest_file",
         b"\xef\xbb\xbf" + dumps(USERPILOT) + b"\r\n\r\n" + dumps({**USERPILOT, "user_id": "u-9"}) + b"\r\n",
         ((1, ROW), (3, ROW)), object_name="userpilot/bom.jsonl"),
    Case("an empty file", "ingest_file", b"", (), object_name="userpilot/empty.ndjson"),
    Case("a file of garbage", "ingest_file", b"\x00\x01\x02\n\xff\xfe", lines(K.INVALID_JSON, K.INVALID_JSON),
         object_name="events/garbage.ndjson"),
    Case("an oversized line between good ones", "ingest_file",
         ndjson(event(1), b'{"x":"' + b"z" * 70_000 + b'"}', event(2)), lines(ROW, K.OVERSIZED, ROW),
         object_name="events/long.ndjson"),
    Case("unknown prefix", "ingest_file", dumps(event(1)), whole(K.UNKNOWN_CONTRACT), object_name="misc/a.ndjson"),
    Case("unsupported format", "ingest_file", b"PK\x03\x04", whole(K.UNSUPPORTED_FORMAT),
         object_name="events/a.xlsx"),
    Case("file events: a denied, a duplicate, a poison", "ingest_file",
         ndjson(event(1), event(2, **DENIED), event(1), raw_event(nested(300), 3), event(4)),
         lines(ROW, DROPPED, DUPLICATE, K.INVALID_VALUE, ROW), object_name="events/mixed.ndjson"),
    # --- CSV files -----------------------------------------------------------------------------------
    Case("CSV: quoting, embedded newlines, JSON cells, empty cells, bad rows", "ingest_file",
         b"event_type,inserted_at,user_id,screen_width,metadata,pathname\r\n"
         b'track,2026-11-20T08:30:00Z,u-1,1920,"{""a"": [1, 2]}",/offres\r\n'
         b'page_view,2026-11-20T08:31:00Z,u-2,,,"/a, b\r\n(two lines)"\r\n'
         b"click,2026-11-20T08:32:00Z,u-3,1,,/x\r\n"
         b"track,2026-11-20T08:33:00Z,u-4,1,,/x,one cell too many\r\n"
         b"track,2026-11-20T08:34:00Z,u-5,wide,,/x\r\n"
         b"track,2026-11-20T08:35:00Z,caf\xe9,1,,/x\r\n"
         b"\r\n"
         b"identify_user,2026-11-20T08:36:00Z,u-6,,,/last\r\n",
         ((2, ROW), (3, ROW), (5, K.SCHEMA_VIOLATION), (6, K.INVALID_CSV), (7, K.SCHEMA_VIOLATION),
          (8, K.INVALID_CSV), (10, ROW)), object_name="userpilot/export.csv",
         raw={6: b"track,2026-11-20T08:33:00Z,u-4,1,,/x,one cell too many"}),
    Case("CSV: an unbalanced quote runs to the end of the file", "ingest_file",
         b"event_type,inserted_at\ntrack,2026-11-20T08:30:00Z\ntrack,\"2026-11-20\npage_view,x\n",
         ((2, ROW), (3, K.INVALID_CSV)), object_name="userpilot/quote.csv"),
    Case("CSV: a header naming a column twice is one error for the file", "ingest_file",
         b"event_type,event_type\ntrack,track\n", ((1, K.UNDECODABLE_FILE),), object_name="userpilot/dup.csv"),
    Case("CSV: gzip in two members, events with typed cells", "ingest_file",
         gzip.compress(b"event_name,event_timestamp,user_pseudo_id,privacy_info,ga_session_number\n"
                       b'page_view,1763900000123456,csv-1,"{""analytics_storage"": ""Yes""}",3\n')
         + gzip.compress(b'page_view,2026-11-23T10:00:00Z,csv-2,"{""analytics_storage"": ""Yes""}",00\n'
                         b'page_view,2026-11-23T10:00:00Z,csv-3,"{""analytics_storage"": ""No""}",1\n'),
         ((2, ROW), (3, ROW), (4, DROPPED)), object_name="events/typed.csv.gz"),
    Case("CSV: only a header", "ingest_file", b"event_type,inserted_at\n", (), object_name="userpilot/empty.csv"),

    # --- JSON-array files --------------------------------------------------------------------------------
    Case("JSON array, pretty-printed, an invalid element kept as sent", "ingest_file",
         b'[\n  {"event_type": "track", "inserted_at": "2026-11-20T08:30:00Z", "user_id": "j-1"},\n'
         b'  {"event_type": "nope", "a": 1, "a": 2},\n'
         b'  {\n    "event_type": "page_view",\n    "inserted_at": "2026-11-20T08:31:00Z"\n  }\n]\n',
         ((2, ROW), (3, K.SCHEMA_VIOLATION), (4, ROW)), object_name="userpilot/export.json",
         raw={3: b'{"event_type": "nope", "a": 1, "a": 2}'}),
    Case("JSON array broken in the middle: what came before lands, the break once", "ingest_file",
         b'[{"event_type": "track", "inserted_at": "2026-11-20T08:30:00Z"},\n'
         b'{"event_type": "track", "inserted_at": "2026-11-20T08:31:00Z"},\n'
         b'{"event_type": "track", "inserted_at": \n]', ((1, ROW), (2, ROW), (3, K.UNDECODABLE_FILE)),
         object_name="userpilot/broken.json"),
    Case("JSON array followed by garbage", "ingest_file",
         b'[{"event_type": "track", "inserted_at": "2026-11-20T08:30:00Z"}]\n{"more": 1}\n',
         ((1, ROW), (2, K.UNDECODABLE_FILE)), object_name="userpilot/garbage.json"),
    Case("JSON array, gzip, of events with NaN inside an element", "ingest_file",
         gzip.compress(b"[" + dumps(event(1)) + b",\n" + dumps(event(2)).replace(b"1763900000123456", b"NaN")
                       + b",\n" + dumps(event(3)) + b"]"), ((1, ROW), (2, K.INVALID_JSON), (3, ROW)),
         object_name="events/nan.json.gz"),
    Case("a .json file of NDJSON", "ingest_file", ndjson(event(1), event(2)), lines(ROW, ROW),
         object_name="events/lines.json"),
    Case("an empty JSON array", "ingest_file", b"  [ ]  ", (), object_name="events/none.json"),

    Case("file logs: the same bare log on two lines is two logs", "ingest_file",
         ndjson(BARE_LOG, BARE_LOG, {"message": "Other kind"}), lines(ROW, ROW, SKIPPED),
         object_name="logs/app.ndjson"),
]
"""Truncated and corrupt gzip files, and bombs, are built in the test: their outcomes depend on
where the stream breaks."""
