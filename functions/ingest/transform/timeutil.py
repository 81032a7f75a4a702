"""Timestamps as the contracts send them, and dates in the analysts' time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from ingest.errors import Reason, RecordError

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_timestamp(value: int | float | str | datetime) -> datetime:
    """Integer microseconds since the epoch (GA4 export) or RFC 3339; always UTC-aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)
    if isinstance(value, float) and value.is_integer():  # JSON Schema counts 1.0 as an integer
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH + timedelta(microseconds=value)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def local_date(moment: datetime, zone_name: str) -> date:
    return moment.astimezone(zone(zone_name)).date()


def bq_timestamp(moment: datetime) -> str:
    """The format insertAll accepts for TIMESTAMP, microsecond precision kept (UTC input)."""
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_CLOCK_SKEW = timedelta(days=1)


def event_time(value: int | float | str, path: str, received_at: datetime) -> datetime:
    """The instant a record says it happened, refused with a reason when it cannot be true:
    before 2000 or more than a day after it reached us (a broken client clock or unit)."""
    try:
        moment = parse_timestamp(value)
    except (ValueError, OverflowError, TypeError, AttributeError):
        raise RecordError("invalid_value", [Reason(path, f"{value!r} is not a representable timestamp")]) from None
    if not EARLIEST <= moment <= received_at + MAX_CLOCK_SKEW:
        raise RecordError("invalid_value", [Reason(
            path, f"{bq_timestamp(moment)} is outside the plausible range "
                  f"[{EARLIEST.date()}, reception + {MAX_CLOCK_SKEW.days} day]")])
    return moment
