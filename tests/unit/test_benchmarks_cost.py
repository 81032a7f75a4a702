"""benchmarks.cost: each billed item, recomputed by hand from the declared prices."""

from __future__ import annotations

import pytest

from benchmarks import cost

TIB, GIB = 2**40, 2**30


def figure(path: str = "storage_write", size: int = 100, message_bytes: float = 15_000.0, cpu_ms: float = 10.0,
           rows: dict[str, float] | None = None, row_bytes: dict[str, float] | None = None) -> dict:
    rows = rows if rows is not None else {"pro_event": 1.0, "ingestion_audit": 1 / size}
    row_bytes = row_bytes if row_bytes is not None else {"pro_event": 1_200.0, "ingestion_audit": 600.0 / size}
    return {"path": path, "size": size, "encoding": "gzip", "message_bytes": message_bytes,
            "cpu_ms_per_request": cpu_ms, "rows_per_event": rows, "row_bytes_per_event": row_bytes}


def test_pubsub_bills_publish_and_push_of_each_message_with_its_overhead():
    c = cost.per_million(figure(size=100, message_bytes=15_000))
    per_message = 15_000 + 20 + 16
    assert c.pubsub == pytest.approx(2 * 10_000 * per_message / TIB * 40)


def test_pubsub_bills_at_least_1000_bytes_per_request():
    small = cost.per_million(figure(size=1, message_bytes=300))
    assert small.pubsub == pytest.approx(2 * 1e6 * 1_000 / TIB * 40)


def test_function_bills_cpu_memory_and_invocations_per_message():
    c = cost.per_million(figure(size=10, cpu_ms=4.0))
    cpu_s = 100_000 * 0.004
    assert c.function_cpu == pytest.approx(cpu_s * 0.000024)
    assert c.function_memory == pytest.approx(cpu_s * 0.5 * 0.0000025)
    assert c.invocations == pytest.approx(0.1 * 0.40)


def test_insert_all_bills_each_row_at_least_1_kb():
    c = cost.per_million(figure(path="insert_all", size=1, rows={"pro_event": 1.0, "ingestion_audit": 1.0},
                                row_bytes={"pro_event": 1_900.0, "ingestion_audit": 500.0}))
    assert c.bigquery == pytest.approx(1e6 * (1_900 + 1_024) / GIB * 0.05)


def test_storage_write_bills_the_bytes_sent_without_a_minimum():
    c = cost.per_million(figure(path="storage_write", size=1, rows={"pro_event": 1.0, "ingestion_audit": 1.0},
                                row_bytes={"pro_event": 1_200.0, "ingestion_audit": 500.0}))
    assert c.bigquery == pytest.approx(1e6 * 1_700 / GIB * 0.025)


def test_the_total_is_every_item():
    c = cost.per_million(figure(path="insert_all", size=1, message_bytes=1_741, cpu_ms=2.0))
    expected = (2 * 1e6 * (1_741 + 36) / TIB * 40 + 1e6 * 0.002 * (0.000024 + 0.5 * 0.0000025) + 0.40
                + 1e6 * (1_200 + 1_024) / GIB * 0.05)
    assert c.total == pytest.approx(expected)


def test_the_no_code_subscription_pays_publish_and_its_write_throughput():
    assert cost.subscription_per_million(1_741) == pytest.approx(1e6 * (1_741 + 36) / TIB * (40 + 50))


def test_at_rest_keeps_three_months_active_and_the_rest_long_term():
    gib, first, steady = cost.at_rest_per_month(1_000)
    assert gib == pytest.approx(300e6 * 1_000 / GIB)
    assert first == pytest.approx(gib * 0.02)
    assert steady == pytest.approx(gib * (3 * 0.02 + 9 * 0.01))


def test_prices_are_declared_once_with_a_source():
    assert all(p.source.startswith("https://") and p.value > 0 for p in cost.PRICES.values())
