import random
from datetime import datetime, timedelta, timezone

import pytest

from ingest.errors import RecordError
from ingest.transform.timeutil import (
    EARLIEST,
    bq_timestamp,
    bq_timestamp_us,
    event_micros,
    local_date,
    local_day,
    minute_parts,
    parse_timestamp,
    to_micros,
    with_seconds,
)

ZONES = ("Europe/Paris", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _instants() -> list[int]:
    rng = random.Random(3)
    # Random instants, and one microsecond either side of Paris's 2026 DST changes (01:00 UTC).
    edges = [to_micros(datetime(2026, month, day, 1, tzinfo=timezone.utc)) + delta
             for month, day in ((3, 29), (10, 25)) for delta in (-1, 0, 1)]
    # Whole seconds and minutes, and the last microsecond of a minute, formatted like any other.
    whole = [to_micros(datetime(2026, 11, 23, 10, 59, tzinfo=timezone.utc)) + delta for delta in (-1, 0, 1, 1_000_000)]
    return edges + whole + [rng.randrange(to_micros(EARLIEST), to_micros(NOW)) for _ in range(5000)]


@pytest.mark.parametrize("zone", ZONES)
def test_microsecond_path_formats_exactly_as_the_datetime_path(zone: str) -> None:
    for micros in _instants():
        moment = parse_timestamp(micros)
        assert bq_timestamp_us(micros) == bq_timestamp(moment)
        assert local_day(micros, zone) == local_date(moment, zone).isoformat(), (micros, zone)
        minute, rest = divmod(micros, 60_000_000)
        utc_minute, day = minute_parts(zone)(minute)
        assert (with_seconds(utc_minute, rest), day) == (bq_timestamp(moment), local_date(moment, zone).isoformat())


def test_event_micros_accepts_strings_and_refuses_implausible_instants() -> None:
    received = to_micros(NOW)
    assert event_micros("2026-11-23T10:00:00Z", "$.t", received) == to_micros(NOW - timedelta(hours=2))
    assert event_micros(received, "$.t", received) == received
    for implausible in (to_micros(EARLIEST) - 1, received + 2 * 86_400_000_000):  # before 2000; 2 days ahead
        with pytest.raises(RecordError):
            event_micros(implausible, "$.t", received)
