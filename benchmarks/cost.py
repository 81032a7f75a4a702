"""Cost per million events from the envelope bench's measurements and list prices.

    PYTHONPATH=functions:. python -m benchmarks.cost --from envelope.json   # figures of a run
    PYTHONPATH=functions:. python -m benchmarks.cost [envelope_bench options] # runs it first

Inputs, all measured by ``benchmarks.envelope_bench`` in the same run: function CPU per request,
bytes per message (plain NDJSON or gzip, as ``ingest.publish`` frames them) and the rows and
encoded row bytes each write path sent per event (the audit rows included). Prices are declared
once, in ``PRICES``, with their source and the date they were read; docs/cost.md shows the
arithmetic. Assumed, and printed: the function's size (``FUNCTION``), billed only while busy
(concurrency > 1 keeps the instance's billed time close to its CPU time), one message per
Pub/Sub publish request and per push request (each pays the 1 000-byte minimum on its own).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

TIB, GIB = 2**40, 2**30


@dataclass(frozen=True)
class Price:
    value: float
    unit: str
    source: str


PRICES_READ = "2026-09-20"
"""When the list prices below were transcribed (Tier 1 regions, USD); docs/cost.md cites each page."""
PRICES: dict[str, Price] = {
    "pubsub_throughput": Price(40.0, "$/TiB published or delivered, >= 1 000 B per request",
                               "https://cloud.google.com/pubsub/pricing"),
    "pubsub_bigquery_subscription": Price(50.0, "$/TiB written by a BigQuery subscription (plus publish)",
                                          "https://cloud.google.com/pubsub/pricing"),
    "run_vcpu_second": Price(0.000024, "$/vCPU-s, request-based billing",
                             "https://cloud.google.com/run/pricing (Cloud Run functions)"),
    "run_gib_second": Price(0.0000025, "$/GiB-s, request-based billing",
                            "https://cloud.google.com/run/pricing (Cloud Run functions)"),
    "run_invocations": Price(0.40, "$/million requests", "https://cloud.google.com/run/pricing (Cloud Run functions)"),
    "insert_all": Price(0.05, "$/GiB streamed ($0.01 per 200 MB), each row >= 1 KB",
                        "https://cloud.google.com/bigquery/pricing"),
    "storage_write": Price(0.025, "$/GiB ingested, first 2 TiB/month free", "https://cloud.google.com/bigquery/pricing"),
    "storage_active": Price(0.02, "$/GiB-month, active logical storage", "https://cloud.google.com/bigquery/pricing"),
    "storage_long_term": Price(0.01, "$/GiB-month, logical storage unmodified for 90 days",
                               "https://cloud.google.com/bigquery/pricing"),
}
PUBSUB_MIN_REQUEST_BYTES = 1_000
PUBSUB_MESSAGE_OVERHEAD_BYTES = 20 + 16
"""Billed on top of the data: 20 B for the timestamp and the message_id string (~16 B); no attributes."""
INSERT_ALL_MIN_ROW_BYTES = 1_024
STORAGE_WRITE_FREE_BYTES = 2 * TIB
FUNCTION = {"memory_gib": 0.5, "vcpu": 1.0}
"""512 MiB, 1 vCPU: GiB-s billed = 0.5 x vCPU-s."""
MONTH_EVENTS_PER_DAY = 10_000_000
MONTH_DAYS = 30
RETENTION_MONTHS = 12
"""For the steady state at rest: the last 3 months active, the 9 before them long-term."""


@dataclass(frozen=True)
class Cost:
    """Dollars per million events, by item."""

    pubsub: float
    function_cpu: float
    function_memory: float
    invocations: float
    bigquery: float

    @property
    def total(self) -> float:
        return self.pubsub + self.function_cpu + self.function_memory + self.invocations + self.bigquery


def pubsub_bytes_per_request(message_bytes: float) -> float:
    """Billed bytes of one publish (or one push) of one message."""
    return max(PUBSUB_MIN_REQUEST_BYTES, message_bytes + PUBSUB_MESSAGE_OVERHEAD_BYTES)


def bigquery_per_million(path: str, rows_per_event: dict[str, float], row_bytes_per_event: dict[str, float]) -> float:
    """Ingestion dollars per million events for one write path, from rows and bytes per event per table."""
    if path == "insert_all":
        billed = sum(rows * max(INSERT_ALL_MIN_ROW_BYTES, row_bytes_per_event[table] / rows)
                     for table, rows in rows_per_event.items() if rows)
        return billed * 1e6 / GIB * PRICES["insert_all"].value
    return sum(row_bytes_per_event.values()) * 1e6 / GIB * PRICES["storage_write"].value


def per_million(figure: dict[str, Any]) -> Cost:
    messages = 1e6 / figure["size"]
    pubsub = 2 * messages * pubsub_bytes_per_request(figure["message_bytes"])  # publish + push delivery
    cpu_s = messages * figure["cpu_ms_per_request"] / 1000
    return Cost(
        pubsub=pubsub / TIB * PRICES["pubsub_throughput"].value,
        function_cpu=cpu_s * FUNCTION["vcpu"] * PRICES["run_vcpu_second"].value,
        function_memory=cpu_s * FUNCTION["memory_gib"] * PRICES["run_gib_second"].value,
        invocations=messages / 1e6 * PRICES["run_invocations"].value,
        bigquery=bigquery_per_million(figure["path"], figure["rows_per_event"], figure["row_bytes_per_event"]))


def subscription_per_million(event_bytes: float) -> float:
    """The no-code Pub/Sub -> BigQuery subscription: one event per message, written as it came."""
    billed = 1e6 * pubsub_bytes_per_request(event_bytes)
    return billed / TIB * (PRICES["pubsub_throughput"].value + PRICES["pubsub_bigquery_subscription"].value)


def at_rest_per_month(bytes_per_event: float) -> tuple[float, float, float]:
    """(GiB one month of events holds, $/month for it while active, $/month in the retention's steady state)."""
    gib = MONTH_EVENTS_PER_DAY * MONTH_DAYS * bytes_per_event / GIB
    active, long_term = min(3, RETENTION_MONTHS), max(0, RETENTION_MONTHS - 3)
    steady = gib * (active * PRICES["storage_active"].value + long_term * PRICES["storage_long_term"].value)
    return gib, gib * PRICES["storage_active"].value, steady


def print_costs(report: dict[str, Any]) -> None:
    figures = report["figures"]
    print(f"\ncost per million events, list prices read {PRICES_READ} (Tier 1, USD; sources in docs/cost.md), from "
          f"the measurements above ({report['started']})")
    print(f"  assumed: function {FUNCTION['memory_gib'] * 1024:.0f} MiB / {FUNCTION['vcpu']:g} vCPU billed for its "
          f"CPU time (concurrency > 1), one message per publish and per push request (>= "
          f"{PUBSUB_MIN_REQUEST_BYTES} B each), no free tiers")
    print(f"  {'write path':13s} {'events/msg':>10s} {'encoding':>8s} {'Pub/Sub':>8s} {'CPU':>8s} {'memory':>8s} "
          f"{'invoc.':>8s} {'BigQuery':>8s} {'total $/M':>9s}")
    for f in figures:
        c = per_million(f)
        print(f"  {f['path']:13s} {f['size']:10d} {f['encoding']:>8s} {c.pubsub:8.4f} {c.function_cpu:8.4f} "
              f"{c.function_memory:8.4f} {c.invocations:8.4f} {c.bigquery:8.4f} {c.total:9.4f}")
    single = next((f for f in figures if f["size"] == 1 and f["encoding"] == "plain"), figures[0])
    event_bytes = single["message_bytes"] / single["size"]
    print(f"  no-code Pub/Sub -> BigQuery subscription ({event_bytes:,.0f} B events, one per message; no validation, "
          f"consent, enrichment or dead letters): {subscription_per_million(event_bytes):.4f} $/M")
    print("  Storage Write API bytes are free up to 2 TiB/month; the table prices them as if beyond it.")
    month_lines(figures, event_bytes)
    target = [f for f in figures if f["size"] == 100 and f["encoding"] == "gzip"]
    for f in target:
        print(f"  {f['path']} at 100 events/message, gzip: {per_million(f).total:.4f} $/M (target ≤ 0.05)")


def month_lines(figures: list[dict[str, Any]], event_bytes: float) -> None:
    events = MONTH_EVENTS_PER_DAY * MONTH_DAYS
    print(f"  a month at {MONTH_EVENTS_PER_DAY / 1e6:g} M events/day ({events / 1e6:g} M events), "
          f"100 events/message gzip; at rest: rows kept {RETENTION_MONTHS} months, "
          f"logical size taken as the Storage Write API row bytes")
    rest_bytes = next((sum(f["row_bytes_per_event"].values()) for f in figures
                       if f["path"] == "storage_write" and f["size"] == 100), None)
    for f in (f for f in figures if f["size"] == 100 and f["encoding"] == "gzip"):
        c = per_million(f)
        ingest = c.total * events / 1e6
        free = ""
        if f["path"] == "storage_write":
            written = sum(f["row_bytes_per_event"].values()) * events
            billed = max(0.0, written - STORAGE_WRITE_FREE_BYTES) / GIB * PRICES["storage_write"].value
            ingest_free = ingest - c.bigquery * events / 1e6 + billed
            free = f" (${ingest_free:,.2f} with the 2 TiB free tier: {written / TIB:.2f} TiB written)"
        gib, first, steady = at_rest_per_month(rest_bytes or sum(f["row_bytes_per_event"].values()))
        print(f"    {f['path']:13s} ingestion ${ingest:,.2f}{free}; at rest {gib:,.0f} GiB/month of events: "
              f"${first:,.2f}/month while active, ${steady:,.2f}/month once {RETENTION_MONTHS} months are kept")
    sub_gib, sub_first, sub_steady = at_rest_per_month(event_bytes)
    print(f"    {'subscription':13s} ingestion ${subscription_per_million(event_bytes) * events / 1e6:,.2f}; at rest "
          f"{sub_gib:,.0f} GiB/month (the raw JSON): ${sub_first:,.2f}/month while active, "
          f"${sub_steady:,.2f}/month once {RETENTION_MONTHS} months are kept")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, help="figures written by envelope_bench --json")
    args, rest = parser.parse_known_args(argv)
    if args.source:
        report = orjson.loads(args.source.read_bytes())
    else:
        from benchmarks import envelope_bench

        report = orjson.loads(envelope_bench.main(rest).to_json())
    print_costs(report)


if __name__ == "__main__":
    main(sys.argv[1:])
