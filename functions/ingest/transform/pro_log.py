"""pro_log: a backend log line (Cloud Logging LogEntry or bare payload) → one row of seed 001.

Backends name ``extra`` keys inconsistently (offerId, offer_id, offer); keys are compared
without case and underscores, and the few columns whose source key differs from the column
name list their aliases below. Every other column is filled from the ``extra`` key of the
same name, so a column added to ``bigquery.json`` is picked up without code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest.contracts import PIPELINE_COLUMNS, UNMAPPED_COLUMN, contract_file
from ingest.transform.coerce import RowBuilder
from ingest.transform.context import SkipRecord, TransformContext
from ingest.transform.timeutil import event_time, local_date

_ALIASES: dict[str, tuple[str, ...]] = {
    "offer_id": ("offerid", "offer"),
    "venue_id": ("venueid", "venue"),
    "product_id": ("productid", "product"),
    "booking_id": ("bookingid",),
    "stock_id": ("stockid",),
    "stock_old_quantity": ("oldquantity",),
    "stock_new_quantity": ("stockquantity", "newquantity"),
    "stock_old_price": ("oldprice",),
    "stock_new_price": ("stockprice", "newprice"),
    "stock_booking_quantity": ("stockdnbookedquantity", "bookingquantity"),
    "list_of_eans_not_found": ("eans",),
    "beta_test_new_nav_is_convenient": ("isconvenient",),
    "beta_test_new_nav_is_pleasant": ("ispleasant",),
    "beta_test_new_nav_comment": ("comment",),
    "choice_datetime": ("choicedatetime",),
    "suggested_offer_api_id": ("id", "apiid"),
    "suggested_offer_api_subcategory": ("subcategory", "selectedsubcategory", "subcategoryid"),
    "suggested_offer_api_subcategories": ("subcategories", "suggestedsubcategories"),
}
"""Column → extra keys (lower case, no underscores) it may come from, after its own name."""

_FROM_ENVELOPE = frozenset({
    "environement", "user_id", "message", "log_timestamp", "partition_date", "technical_message_id",
    UNMAPPED_COLUMN}) | PIPELINE_COLUMNS
_CONSENT_LISTS = {"cookies_consent_mandatory": "mandatory", "cookies_consent_accepted": "accepted",
                  "cookies_consent_refused": "refused"}


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def _normalise(entry: dict[str, Any], ctx: TransformContext) -> tuple[dict[str, Any], datetime, str | None]:
    """Payload, timestamp and environment, from a LogEntry or a bare payload."""
    if "jsonPayload" in entry:
        labels = (entry.get("resource") or {}).get("labels") or {}
        environment = labels.get("namespace_name") or labels.get("environment")
        return entry["jsonPayload"], event_time(entry["timestamp"], "$.timestamp", ctx.received_at), environment
    stamp = entry.get("timestamp")
    moment = event_time(stamp, "$.timestamp", ctx.received_at) if stamp else (ctx.publish_time or ctx.received_at)
    return entry, moment, entry.get("environment")


def emission_key(entry: dict[str, Any]) -> list[str] | None:
    """What names one emitted log: a LogEntry's insertId (unique per log and timestamp); None for
    a bare payload, whose position in its message or file is then its identity."""
    if "jsonPayload" in entry and entry.get("insertId"):
        return [str(entry.get("logName") or ""), str(entry["insertId"]), str(entry["timestamp"])]
    return None


_LOG_ENTRY_FIELDS = frozenset({"jsonPayload", "timestamp", "insertId", "resource"})
"""LogEntry fields the transform reads; the others (severity, labels, logName...) are unmapped."""
_PAYLOAD_FIELDS = frozenset({"message", "technical_message_id", "user_id", "timestamp", "extra", "environment"})


def to_row(entry: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    payload, moment, environment = _normalise(entry, ctx)
    at = "$.jsonPayload" if payload is not entry else "$"
    message = payload["message"]
    supported = contract_file(ctx.settings.schemas_dir, "pro_log", "supported_messages.json")["messages"]
    if message not in supported:
        raise SkipRecord(message)

    extra = {_key(k): (k, v) for k, v in (payload.get("extra") or {}).items()}
    consent = (payload.get("extra") or {}).get("consent") or {}
    consumed: set[str] = set()
    row = RowBuilder(ctx.table)
    row.set("message", message, f"{at}.message")
    row.set("environement", environment or ctx.settings.environment)
    row.set("user_id", payload.get("user_id"), f"{at}.user_id")
    row.set("technical_message_id", payload.get("technical_message_id"), f"{at}.technical_message_id")
    row.set("log_timestamp", moment)
    row.set("partition_date", local_date(moment, ctx.settings.time_zone).isoformat())

    for column in ctx.table.columns:
        if column in _FROM_ENVELOPE:
            continue
        if column in _CONSENT_LISTS and isinstance(consent, dict):
            row.set(column, consent.get(_CONSENT_LISTS[column]), f"{at}.extra.consent.{_CONSENT_LISTS[column]}")
            continue
        for candidate in (_key(column), *_ALIASES.get(column, ())):
            if candidate in extra:
                original, value = extra[candidate]
                row.set(column, value, f"{at}.extra.{original}")
                consumed.add(candidate)
                break
    unmapped = _unmapped(entry, payload, extra, consumed)
    if unmapped:
        row.set(UNMAPPED_COLUMN, unmapped, at)
    return row.build()


def _unmapped(entry: dict[str, Any], payload: dict[str, Any], extra: dict[str, tuple[str, Any]],
              consumed: set[str]) -> dict[str, Any]:
    """Entry, payload and extra fields nothing above read, each at the level it was sent."""
    unmapped: dict[str, Any] = {}
    if payload is not entry:
        unmapped.update((k, v) for k, v in entry.items() if k not in _LOG_ENTRY_FIELDS)
        nested = {k: v for k, v in payload.items() if k not in _PAYLOAD_FIELDS}
        if nested:
            unmapped["jsonPayload"] = nested
    else:
        unmapped.update((k, v) for k, v in payload.items() if k not in _PAYLOAD_FIELDS)
    left = {original: value for key, (original, value) in extra.items() if key not in consumed and key != "consent"}
    if left:
        unmapped["extra"] = left
    return unmapped
