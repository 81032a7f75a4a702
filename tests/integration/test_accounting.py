"""Every record accounted for, on the real stack: a poison record costs that record only, and the
reconciliation queries of docs/consent-and-audit.md — run exactly as written there — find nothing
amiss after hostile traffic, and do find a deliberately wrong audit row."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from tests.integration.conftest import CFG, eventually
from tests.support.hostile_corpus import event, nested, raw_event

DOC = Path(__file__).resolve().parents[2] / "docs" / "consent-and-audit.md"


def _doc_checks() -> dict[str, str]:
    """``<!-- check: name -->`` followed by a ```sql block: the queries analysts are told to run."""
    text = DOC.read_text()
    return {name: sql for name, sql in re.findall(r"<!-- check: ([\w-]+) -->\n```sql\n(.*?)```", text, re.S)}


def _run_check(bq, names, name: str) -> list[dict]:
    sql = _doc_checks()[name].replace("analytics.", f"`{CFG.project}.{names.dataset}`.")
    return [dict(row) for row in bq.query(sql).result()]


TODAY = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
"""Events of today: inside the partition window of the documented checks, so they are checked."""


def _marked(marker: str, i: int, **changes) -> dict:
    return event(i, user_pseudo_id=f"{marker}-{i}", **{"event_timestamp": TODAY - i, **changes})


def test_99_valid_events_and_one_poison_give_99_rows_and_one_error(functions, publisher, query):
    marker = f"it-{uuid.uuid4().hex[:8]}"
    lines = [orjson.dumps(_marked(marker, i)) for i in range(100)]
    lines[42] = raw_event(nested(300), 42).replace(b'"corpus-42"', f'"{marker}-42"'.encode())
    message_id = publisher.publish(publisher.topic_path(CFG.project, "tracking-events"), b"\n".join(lines)).result()
    [audit] = eventually(lambda: query("SELECT * FROM ingestion_audit WHERE source = @s",
                                       s=f"pubsub://tracking-events/{message_id}"))
    assert (audit["received"], audit["rows_sent"], audit["dead_lettered"]) == (100, 99, 1)
    rows = query("SELECT user_pseudo_id FROM pro_event WHERE event_date >= '2000-01-01' AND "
                 "STARTS_WITH(user_pseudo_id, @m)", m=marker)
    assert sorted(r["user_pseudo_id"] for r in rows) == sorted(f"{marker}-{i}" for i in range(100) if i != 42)
    [error] = query("SELECT * FROM ingestion_errors WHERE source.message_id = @m", m=message_id)
    assert error["error_type"] == "invalid_value" and error["source"]["record_index"] == 42
    assert error["raw_payload"].encode() == lines[42]


def test_the_documented_reconciliation_finds_nothing_amiss_and_finds_a_wrong_audit(functions, publisher, bucket,
                                                                                bq, names, query):
    marker = f"rc-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(CFG.project, "tracking-events")
    late = int((datetime.now(timezone.utc) - timedelta(days=5)).timestamp() * 1_000_000)
    batch = [_marked(marker, 0), _marked(marker, 1), _marked(marker, 0), {"event_name": "x"},
             _marked(marker, 2, privacy_info={"analytics_storage": "No"}), _marked(marker, 3, event_timestamp=late)]
    ids = [publisher.publish(topic, orjson.dumps(batch)).result(),
           publisher.publish(topic, orjson.dumps(_marked(marker, 1))).result(),  # re-published elsewhere
           publisher.publish(topic, b"\x1f\x8b not gzip").result()]
    # A file whose first and 600th lines are the same event, in different batches of lines.
    name = f"events/{marker}/backfill.ndjson"
    lines = [orjson.dumps(_marked(marker, 100 + i)) for i in range(600)]
    lines[599] = lines[0]
    bucket.blob(name).upload_from_string(b"\n".join(lines) + b"\n{oops\n")
    a, b, c = (f"pubsub://tracking-events/{i}" for i in ids)
    eventually(lambda: len(query("SELECT * FROM ingestion_audit WHERE source IN (@a, @b, @c) OR source LIKE @f",
                                 a=a, b=b, c=c, f=f"gs://{CFG.bucket}/{name}#%")) == 4, timeout=90)
    [file_audit] = query("SELECT * FROM ingestion_audit WHERE source LIKE @f", f=f"gs://{CFG.bucket}/{name}#%")
    assert (file_audit["received"], file_audit["rows_sent"], file_audit["dead_lettered"]) == (601, 600, 1)

    for check in ("balance", "rows", "dead-letter"):
        assert _run_check(bq, names, check) == [], check

    # A wrong audit row must be found by the check that covers it.
    bogus = f"pubsub://tracking-events/bogus-{marker}"
    now = datetime.now(timezone.utc).isoformat()
    errors = bq.insert_rows_json(f"{CFG.project}.{names.dataset}.ingestion_audit", [{
        "audit_id": marker, "contract": "pro_event", "function": "ingest_events", "source_kind": "pubsub",
        "source": bogus, "received": 3, "rows_sent": 2, "dead_lettered": 1, "consent_dropped": 1, "skipped": 0,
        "pseudonymised": 0, "duplicates_in_batch": 0, "started_at": now, "finished_at": now}])
    assert not errors, errors
    assert [r["source"] for r in _run_check(bq, names, "balance")] == [bogus]
    assert [(r["source"], r["rows_sent"], r["rows_landed"]) for r in _run_check(bq, names, "rows")] == [(bogus, 2, 0)]
    assert [(r["source"], r["dead_letter_rows"]) for r in _run_check(bq, names, "dead-letter")] == [(bogus, 0)]
