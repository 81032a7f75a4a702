"""pro_event: a GA4/Firebase-style raw web event → one row of seed 000's columns."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson

from ingest.consent import Action, pseudonym
from ingest.contracts import PIPELINE_COLUMNS, UNMAPPED_COLUMN, TableSchema
from ingest.enrich.cache import bounded_cache, tuple_chars
from ingest.enrich.origin import Origin, compute_origin, traffic_fields
from ingest.enrich.reference import KEYS as REFERENCE_KEYS
from ingest.enrich.urls import URL_CACHE_SIZE, aggregate_path, path_of, url_base
from ingest.enrich.useragent import UA_CACHE_SIZE, parse_user_agent
from ingest.errors import Reason
from ingest.transform.coerce import INT64_MAX, INT64_MIN, RowBuilder, native_types, text
from ingest.transform.context import TransformContext
from ingest.transform.timeutil import event_micros, with_seconds

_GA4_VALUE_KEYS = ("string_value", "int_value", "double_value", "float_value")
"""In the order that wins when a producer fills more than one."""
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_dumps, _SORT_KEYS = orjson.dumps, orjson.OPT_SORT_KEYS
_MAX_PARAM_KEY_CHARS = 128
"""Longest parameter key whose column is cached or learnt (column names are far shorter)."""


@bounded_cache(4096, max_key_chars=_MAX_PARAM_KEY_CHARS)
def column_for_param(key: str) -> str:
    """offerId → offer_id: event parameters map to the seed's snake_case columns."""
    return _CAMEL_BOUNDARY.sub("_", key).lower()


DERIVED_COLUMNS = frozenset({
    "event_name", "user_pseudo_id", "user_id", "event_timestamp", "event_date", "session_id",
    "unique_session_id", "session_number", "page_name", "platform", "page_location", "page_referrer",
    "user_device_category", "user_device_operating_system", "user_device_operating_system_version",
    "user_web_browser", "user_web_browser_version", "url_path_extract", "url_path_agg",
    "traffic_campaign", "traffic_medium", "traffic_source", "traffic_origin", "event_params",
    "consent_status", "is_late", UNMAPPED_COLUMN}) | PIPELINE_COLUMNS
"""Columns ``to_row`` (or the pipeline) computes itself: an event parameter never fills them."""

_MAX_PARAM_KEYS = 4096

ParamTarget = tuple[str, str, "type | None"]
"""(column, JSON path for reasons, the Python type a value already has when it fits the column)."""


class _ParamTargets(dict[str, "ParamTarget | None"]):
    """Event parameter key → its ``ParamTarget``, or None when no column takes it. One per table;
    keys are learnt as they are first seen, up to a bound (keys come from input).

    ``mapped`` and ``shared`` let ``_map_params`` visit only the few parameters a column takes
    (set operations in C) instead of every parameter of every event."""

    def __init__(self, table: TableSchema) -> None:
        super().__init__()
        self._columns = frozenset(table.columns) - DERIVED_COLUMNS - table.reference_columns
        self._native = native_types(table)
        self.mapped: set[str] = set()
        """Learnt keys that a column takes."""
        self.shared: set[str] = set()
        """Learnt keys whose column another learnt key takes too (offerId and offer_id)."""
        self._taken: dict[str, str] = {}

    def __missing__(self, key: str) -> ParamTarget | None:
        column = column_for_param(key)
        target = (column, f"$.event_params.{key}", self._native.get(column)) if column in self._columns else None
        if len(self) < _MAX_PARAM_KEYS and len(key) <= _MAX_PARAM_KEY_CHARS:
            self[key] = target
            if target is not None:
                self.mapped.add(key)
                first = self._taken.setdefault(column, key)
                if first != key:
                    self.shared.update((first, key))
        return target


@lru_cache(maxsize=8)
def _param_targets(table: TableSchema) -> _ParamTargets:
    return _ParamTargets(table)


def flatten_params(params: Any) -> dict[str, Any]:
    """GA4 export array [{key, value: {string_value|int_value|...}}] or a flat object."""
    if isinstance(params, dict):
        return params
    try:  # GA4 fills one typed field per parameter: one comprehension, in C as far as it goes
        return {param["key"]: value for param in params for (value,) in (param["value"].values(),)}
    except Exception:  # any other shape: the general rule below decides (or fails the same way)
        return _flatten_any(params)


def _flatten_any(params: Any) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for param in params or ():
        value = param.get("value")
        if value and len(value) == 1:  # GA4 fills one typed field, and the input schema allows no others
            (flat[param["key"]],) = value.values()
        else:  # none, or an export that spells out the empty fields as nulls
            flat[param["key"]] = None if not value else next(
                (typed for kind in _GA4_VALUE_KEYS if (typed := value.get(kind)) is not None), None)
    return flat


def _map_params(params: dict[str, Any], row: RowBuilder, targets: _ParamTargets) -> None:
    """Each parameter a column takes, into that column, exactly as visiting every parameter in
    order would: the unordered shortcut is taken only when order cannot matter (no two present
    parameters fill one column, and at most one reason is found), else the ordered walk redoes it
    on the still empty row."""
    if targets.keys() >= params.keys():
        present = params.keys() & targets.mapped  # iterates the smaller of the two, in C
        if len(present) < 2 or targets.shared.isdisjoint(present):
            values, reasons = row.row, row.reasons
            for key in present:
                column, path, native = targets[key]  # type: ignore[misc]
                value = params[key]
                if type(value) is native and value != "":
                    values[column] = value
                elif native is str and type(value) is int and INT64_MIN <= value <= INT64_MAX:
                    values[column] = str(value)  # an id sent as GA4's int_value: what row.set makes of it
                else:
                    row.set(column, value, path)
            if len(reasons) < 2:
                return
            values.clear()
            reasons.clear()
    for key, value in params.items():
        target = targets[key]
        if target is not None:
            row.set(target[0], value, target[1])


def to_row(event: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    params = flatten_params(event.get("event_params"))
    row = RowBuilder(ctx.table)
    _map_params(params, row, _param_targets(ctx.table))

    sent = params
    if not _SENT_EITHER_WAY.isdisjoint(event):  # a top-level value, when there is one, wins
        sent = params | {name: value for name in _SENT_EITHER_WAY if (value := event.get(name)) is not None}
    # Text inputs of the rules: a value that is text already (nearly always) is taken as it is.
    screen, page_title = sent.get("firebase_screen"), sent.get("page_title")
    page_location, page_referrer = sent.get("page_location"), sent.get("page_referrer")
    if screen is not None and type(screen) is not str:
        screen = _text(row, sent, event, "firebase_screen")
    if page_title is not None and type(page_title) is not str:
        page_title = _text(row, sent, event, "page_title")
    if page_location is not None and type(page_location) is not str:
        page_location = _text(row, sent, event, "page_location", url=True)
    if page_referrer is not None and type(page_referrer) is not str:
        page_referrer = _text(row, sent, event, "page_referrer", url=True)
    session_id = sent.get("ga_session_id")
    session_number = sent.get("ga_session_number")
    micros = event_micros(event["event_timestamp"], "$.event_timestamp", ctx.received_us)
    minute, rest = divmod(micros, 60_000_000)
    utc_minute, event_date = ctx.minutes(minute)
    event_name = event["event_name"]
    if event_name == "screen_view" and screen:
        event_name = f"{event_name}_{screen}"
    user_pseudo_id = str(event["user_pseudo_id"])
    user_id = event.get("user_id")
    event_params: dict[str, Any] | None = params or None
    origin = compute_origin(page_location, page_referrer, ctx.settings.site_hosts)
    pseudonymise = ctx.consent_action is Action.PSEUDONYMISE

    unmapped = None if ctx.input_fields.issuperset(event) else {
        name: value for name, value in event.items() if name not in ctx.input_fields}
    if pseudonymise:
        # Attribution survives (computed above), identifiers and free text do not.
        origin = origin and origin._replace(gclid=None, referral_path=None)
        user_pseudo_id = pseudonym(ctx.settings.pseudonymisation_key, user_pseudo_id, event_date)
        user_id, event_params, unmapped = None, None, None
        page_location, page_referrer = _without_query(page_location), _origin_only(page_referrer)

    # Values the schema validation or this function already typed go in as they are; the
    # others are converted to their column's type, with a reason when they do not fit.
    values = row.row
    values["event_name"] = event_name
    values["user_pseudo_id"] = user_pseudo_id
    values["event_timestamp"] = with_seconds(utc_minute, rest)
    values["event_date"] = event_date
    values["consent_status"] = "pseudonymised" if pseudonymise else "granted"
    values["is_late"] = ctx.received_us - micros > ctx.late_after_us
    if session_id is not None:
        if type(session_id) is int:  # GA4's int_value: what row.set would make of it
            values["session_id"] = str(session_id)
        else:
            row.set("session_id", session_id, "$.ga_session_id")
        values["unique_session_id"] = f"{user_pseudo_id}-{values.get('session_id')}"
    if event_params:
        values["event_params"] = _dumps(event_params, option=_SORT_KEYS).decode()
    if unmapped:
        row.set(UNMAPPED_COLUMN, unmapped)
    # Derived columns, so still empty: text (or None) goes in as row.set would put it, without the call.
    page_name = page_title or screen
    if page_name:
        values["page_name"] = page_name
    if page_location:
        values["page_location"] = page_location
    if page_referrer:
        values["page_referrer"] = page_referrer
    # In row.set's order (user_id, session_number, platform): reasons are listed in it.
    if type(user_id) is str:
        if user_id:
            values["user_id"] = user_id
    elif user_id is not None:
        row.set("user_id", user_id, "$.user_id")
    if type(session_number) is int and INT64_MIN <= session_number <= INT64_MAX:
        values["session_number"] = session_number
    elif session_number is not None:
        row.set("session_number", session_number, "$.ga_session_number")
    platform = event.get("platform")
    if type(platform) is str:
        if platform:
            values["platform"] = platform
    elif platform is not None:
        row.set("platform", platform, "$.platform")

    if event.get("device"):
        _set_device(row, event)
    else:  # what _set_device does without a device object, without the call
        values.update(_agent_columns(event.get("user_agent")))
    # Derived string columns, cached on their inputs (pages and origins repeat far more than
    # events do) and added as they are: they are built from our own rules, never from raw input.
    values.update(_path_columns(page_location and (url_base(page_location) or page_location)))
    values.update(_origin_columns(origin))
    if ctx.reference is not None:
        _join_reference(row, ctx)
    return row.build()


_SENT_EITHER_WAY = frozenset({"firebase_screen", "ga_session_id", "ga_session_number", "page_title",
                               "page_location", "page_referrer"})
"""Fields sent at the top level (as in our input) or as GA4 event parameters."""


def _text(row: RowBuilder, sent: dict[str, Any], event: dict[str, Any], name: str, url: bool = False) -> str | None:
    """A text input of the enrichment rules. Parameters are untyped: a title sent as a number is
    read as the STRING column would store it, but a URL must be text, and an object or an array
    is never text: those are invalid values."""
    value = sent.get(name)
    if value is None or type(value) is str:
        return value
    path = f"$.{name}" if event.get(name) is not None else f"$.event_params.{name}"
    try:
        if url:
            raise ValueError(f"expected a URL as text, got {value!r}")
        return text(value)
    except ValueError as error:
        row.reasons.append(Reason(path, f"{name}: {error}"))
        return None


def _join_reference(row: RowBuilder, ctx: TransformContext) -> None:
    """Offerer / venue / partner attributes from the snapshot; unknown ids are counted."""
    assert ctx.reference is not None
    for kind, key in REFERENCE_KEYS.items():
        identifier = row.row.get(key)
        if identifier is None:
            continue
        attributes = ctx.reference.lookup(kind, identifier)
        if attributes is None:
            ctx.tally["reference_misses"] += 1
            continue
        for column, value in attributes.items():
            if column in ctx.table.reference_columns and not row.try_set(column, value):
                ctx.tally["reference_bad_values"] += 1


@bounded_cache(URL_CACHE_SIZE)
def _path_columns(page_location: str | None) -> dict[str, str]:
    path = path_of(page_location)  # this cache is the only one: the URL's own would miss with it
    return _present(url_path_extract=path, url_path_agg=aggregate_path(path))


@bounded_cache(4096, size=tuple_chars)
def _origin_columns(origin: Origin | None) -> dict[str, Any]:
    campaign, medium, source = traffic_fields(origin)
    record = None if origin is None else {
        name: value for name, value in zip(Origin._fields, origin, strict=True) if value is not None}
    return _present(traffic_campaign=campaign, traffic_medium=medium, traffic_source=source,
                    traffic_origin=record or None)


@bounded_cache(UA_CACHE_SIZE)
def _agent_columns(user_agent: str | None) -> dict[str, str]:
    parsed = parse_user_agent(user_agent)
    return _present(user_device_category=parsed.category,
                    user_device_operating_system=parsed.operating_system,
                    user_device_operating_system_version=parsed.operating_system_version,
                    user_web_browser=parsed.browser, user_web_browser_version=parsed.browser_version)


def _present(**columns: Any) -> dict[str, Any]:
    return {name: value for name, value in columns.items() if value is not None}


def _set_device(row: RowBuilder, event: dict[str, Any]) -> None:
    """A GA4 device object, when present, wins field by field over what the user agent says."""
    agent = _agent_columns(event.get("user_agent"))
    device = event.get("device")
    if not device:
        row.row.update(agent)
        return
    web = device.get("web_info") or {}
    for column, value, path in (
        ("user_device_category", device.get("category"), "$.device.category"),
        ("user_device_operating_system", device.get("operating_system"), "$.device.operating_system"),
        ("user_device_operating_system_version", device.get("operating_system_version"),
         "$.device.operating_system_version"),
        ("user_web_browser", web.get("browser"), "$.device.web_info.browser"),
        ("user_web_browser_version", web.get("browser_version"), "$.device.web_info.browser_version"),
    ):
        row.set(column, value or agent.get(column), path)


def _without_query(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else parts.path


def _origin_only(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/" if parts.netloc else None
