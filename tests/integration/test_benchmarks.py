"""make bench's envelope and cost stages at tiny sizes: the real function served by
functions-framework against benchmarks.instant_backend (local processes, no emulators)."""

from __future__ import annotations

import orjson
import pytest

from benchmarks import cost, envelope_bench


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    logs = tmp_path_factory.mktemp("bench")
    measured = envelope_bench.run([1, 100], list(envelope_bench.PATHS), runs=1, scale=0.17, log_dir=logs)
    return orjson.loads(measured.to_json())


def _figure(report: dict, path: str, size: int, encoding: str) -> dict:
    return next(f for f in report["figures"]
                if (f["path"], f["size"], f["encoding"]) == (path, size, encoding))


def test_every_path_size_and_encoding_is_measured(report):
    cases = {(f["path"], f["size"], f["encoding"]) for f in report["figures"]}
    assert cases == {(p, s, e) for p in envelope_bench.PATHS for s in (1, 100) for e in envelope_bench.ENCODINGS}
    for f in report["figures"]:
        assert f["cpu_ms_per_request"] > 0
        assert f["events_per_cpu_s"] == pytest.approx(f["size"] / f["cpu_ms_per_request"] * 1000)
        assert f["reference_events_per_s"] > 0
    assert all(mib > 20 for mib in report["peak_rss_mib"].values())


def test_every_event_reaches_its_table_through_the_chosen_path(report):
    for f in report["figures"]:
        assert f["rows_per_event"]["pro_event"] == pytest.approx(1.0)
        assert f["rows_per_event"]["ingestion_audit"] == pytest.approx(1 / f["size"])
        assert f["row_bytes_per_event"]["pro_event"] > 500
    json_row = _figure(report, "insert_all", 100, "plain")["row_bytes_per_event"]["pro_event"]
    proto_row = _figure(report, "storage_write", 100, "plain")["row_bytes_per_event"]["pro_event"]
    assert proto_row < json_row


def test_gzip_and_batching_shrink_what_pubsub_bills(report):
    for path in envelope_bench.PATHS:
        plain, packed = _figure(report, path, 100, "plain"), _figure(report, path, 100, "gzip")
        assert packed["message_bytes"] < plain["message_bytes"] / 4
        single = cost.per_million(_figure(report, path, 1, "plain"))
        batched, gzipped = cost.per_million(plain), cost.per_million(packed)
        assert single.pubsub > batched.pubsub > gzipped.pubsub > 0
        assert single.invocations == pytest.approx(100 * batched.invocations)
        assert single.total > batched.total > gzipped.total


def test_the_cost_table_lists_every_case_and_the_comparisons(report, capsys):
    cost.print_costs(report)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.strip().startswith(envelope_bench.PATHS)]
    assert len(rows) >= len(report["figures"])
    assert "no-code Pub/Sub -> BigQuery subscription" in out
    assert "a month at 10 M events/day" in out
    assert "512 MiB / 1 vCPU" in out
