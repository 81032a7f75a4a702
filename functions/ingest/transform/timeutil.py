"""Timestamps as the contracts send them, and dates in the analysts' time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache, partial
from typing import Callable
from zoneinfo import ZoneInfo

from ingest.enrich.cache import bounded_cache
from ingest.errors import FailureKind, Reason, RecordError

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
_MICROSECOND = timedelta(microseconds=1)
_EARLIEST_US = (EARLIEST - _EPOCH) // _MICROSECOND
_MAX_CLOCK_SKEW_US = MAX_CLOCK_SKEW // _MICROSECOND


def event_time(value: int | float | str, path: str, received_at: datetime) -> datetime:
    """The instant a record says it happened, refused with a reason when it cannot be true:
    before 2000 or more than a day after it reached us (a broken client clock or unit)."""
    try:
        moment = parse_timestamp(value)
    except (ValueError, OverflowError, TypeError, AttributeError):
        raise RecordError(FailureKind.INVALID_VALUE, [Reason(path, f"{value!r} is not a representable timestamp")]) from None
    if not EARLIEST <= moment <= received_at + MAX_CLOCK_SKEW:
        raise RecordError(FailureKind.INVALID_VALUE, [Reason(
            path, f"{bq_timestamp(moment)} is outside the plausible range "
                  f"[{EARLIEST.date()}, reception + {MAX_CLOCK_SKEW.days} day]")])
    return moment


# Integer microseconds since the epoch: GA4's own unit, and ~5× cheaper per event than datetime
# arithmetic and isoformat on the hot path. The formatted parts are cached per UTC minute, which
# is exact: since 2000 (the earliest plausible event) every zone's offset, and every change of
# it, falls on a whole minute.

def to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def event_micros(value: int | float | str, path: str, received_us: int) -> int:
    """``event_time`` in microseconds; a plausible integer (the common case) passes as it is."""
    if type(value) is int and _EARLIEST_US <= value <= received_us + _MAX_CLOCK_SKEW_US:
        return value
    return to_micros(event_time(value, path, _EPOCH + timedelta(microseconds=received_us)))


def bq_timestamp_us(micros: int) -> str:
    """``bq_timestamp`` of an instant in microseconds since the epoch."""
    minute, rest = divmod(micros, 60_000_000)
    return with_seconds(_utc_minute(minute), rest)


def with_seconds(utc_minute: str, rest: int) -> str:
    """``bq_timestamp`` of the instant ``rest`` microseconds into the UTC minute ``utc_minute``:
    ``rest + 10**8`` is "1", then the seconds' 2 digits, then the microseconds' 6 (one ``str`` in
    C instead of two formatted fields)."""
    digits = str(rest + 100_000_000)
    return f"{utc_minute}:{digits[1:3]}.{digits[3:]}Z"


def local_day(micros: int, zone_name: str) -> str:
    """The ISO date, in ``zone_name``, of an instant in microseconds since the epoch."""
    return _local_day(micros // 60_000_000, zone_name)


@lru_cache(maxsize=8)
def minute_parts(zone_name: str) -> Callable[[int], tuple[str, str]]:
    """Minute since the epoch → (its UTC ``bq_timestamp`` up to the minute, its ISO date in
    ``zone_name``): both of an event's time columns from one lookup (a cache of int keys, so
    bounded by its entry count)."""
    return bounded_cache(4096, size=_no_size)(partial(_minute_parts, zone_name=zone_name))


def _minute_parts(minute: int, zone_name: str) -> tuple[str, str]:
    return _utc_minute(minute), _local_day(minute, zone_name)


def _no_size(_: int) -> int:
    return 0


@lru_cache(maxsize=4096)
def _utc_minute(minute: int) -> str:
    return (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M")


@lru_cache(maxsize=4096)
def _local_day(minute: int, zone_name: str) -> str:
    return (_EPOCH + timedelta(minutes=minute)).astimezone(zone(zone_name)).date().isoformat()
