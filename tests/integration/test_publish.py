"""Events published through ingest.publish (library and ``ingest publish``) land exactly once,
with the audit of their messages balanced."""

from __future__ import annotations

import gzip
import uuid
from datetime import datetime, timezone

import orjson
from click.testing import CliRunner

from ingest.cli import main
from ingest.publish import publish
from tests.integration.conftest import CFG, eventually
from tests.support.hostile_corpus import event

TODAY = int(datetime.now(timezone.utc).timestamp() * 1_000_000)


def _events(marker: str, n: int) -> list[dict]:
    return [event(i, user_pseudo_id=f"{marker}-{i}", event_timestamp=TODAY - i) for i in range(n)]


def _count(query, marker: str) -> dict:
    [row] = query("SELECT COUNT(*) AS n, COUNT(DISTINCT row_id) AS ids FROM pro_event WHERE "
                  "event_date >= '2000-01-01' AND STARTS_WITH(user_pseudo_id, @m)", m=f"{marker}-")
    return row


def _landed(query, marker: str, n: int, message_ids: list[str]) -> None:
    """Every event once (count and distinct row ids), and the audit of its messages balanced."""
    row = eventually(lambda: (lambda r: r if r["n"] >= n else None)(_count(query, marker)), timeout=90)
    assert (row["n"], row["ids"]) == (n, n)
    sources = [f"pubsub://tracking-events/{m}" for m in message_ids]

    def audited() -> list[dict] | None:
        audits = [a for a in query("SELECT * FROM ingestion_audit WHERE STARTS_WITH(source, @p)",
                                   p="pubsub://tracking-events/") if a["source"] in sources]
        return audits if len(audits) == len(sources) else None
    audits = eventually(audited)
    assert sum(a["received"] for a in audits) == sum(a["rows_sent"] for a in audits) == n
    assert sum(a["dead_lettered"] for a in audits) == 0


def test_library_publishes_1000_gzipped_events_exactly_once(functions, publisher, query):
    marker = f"pub-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(CFG.project, "tracking-events")
    summary = publish(_events(marker, 1000), topic, max_records=100)
    assert (summary.events, summary.messages) == (1000, 10) and summary.bytes_out < summary.bytes_in / 3
    _landed(query, marker, 1000, summary.message_ids)


def test_ingest_publish_command_publishes_a_gzip_file_exactly_once(functions, publisher, query, tmp_path):
    marker = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(e) for e in _events(marker, 1000))))
    topic = publisher.topic_path(CFG.project, "tracking-events")
    result = CliRunner().invoke(main, ["publish", str(path), "--topic", topic, "--batch", "250"])
    assert result.exit_code == 0, result.output
    assert "published 1000 events in 4 messages" in result.output
    row = eventually(lambda: (lambda r: r if r["n"] >= 1000 else None)(_count(query, marker)), timeout=90)
    assert (row["n"], row["ids"]) == (1000, 1000)
