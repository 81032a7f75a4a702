"""Timestamps as the contracts send them, and dates in the analysts' time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_timestamp(value: int | str | datetime) -> datetime:
    """Integer microseconds since the epoch (GA4 export) or RFC 3339; always UTC-aware."""
    if isinstance(value, datetime):
        return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)
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
