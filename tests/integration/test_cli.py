"""The ``ingest`` command as partners and operators run it (the installed console script, in a
subprocess), against the emulators."""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from ingest.rowid import stable_id
from tests.integration.conftest import CFG, REPO, eventually
from tests.integration.test_accounting import _run_check as _doc_check
from tests.support.hostile_corpus import event
from tools.local_run import function_env

INGEST = REPO / ".venv" / "bin" / "ingest"


def _run(stack, names, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **function_env(stack.env(), names, CFG)}
    return subprocess.run([str(INGEST), *args], env=env, capture_output=True, text=True, timeout=180, check=False)


def _events(marker: str, count: int) -> bytes:
    return b"\n".join(orjson.dumps(event(i, user_pseudo_id=f"{marker}-{i}")) for i in range(count)) + b"\n{bad\n"


def _rows(query, marker: str) -> list[dict]:
    return query("SELECT user_pseudo_id, ingestion_source FROM pro_event WHERE event_date >= '2000-01-01' "
                 "AND STARTS_WITH(user_pseudo_id, @m)", m=marker)


def test_validate_is_a_dry_run_that_names_each_bad_line(stack, names, tmp_path: Path, query):
    marker = f"val-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "drop.ndjson"
    path.write_bytes(_events(marker, 4))
    result = _run(stack, names, "validate", str(path), "--contract", "pro_event", "--rows")
    assert result.returncode == 1, result.stderr
    assert "line 5: invalid_json" in result.stderr and "5 record(s): 4 would be written" in result.stderr
    assert len(result.stdout.splitlines()) == 4 and orjson.loads(result.stdout.splitlines()[0])["row_id"]
    assert _rows(query, marker) == []  # nothing written
    assert _run(stack, names, "validate", "--help").returncode == 0


def test_replay_loads_a_local_file_and_a_gs_object_once_unless_forced(stack, names, bucket, tmp_path: Path, query,
                                                                      functions):
    marker = f"rep-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "backfill.ndjson"
    path.write_bytes(_events(marker, 3))
    result = _run(stack, names, "replay", str(path), "--contract", "pro_event")
    assert result.returncode == 1 and '"rows_sent":3' in result.stdout, result.stdout + result.stderr
    rows = _rows(query, marker)
    assert len(rows) == 3 and rows[0]["ingestion_source"].startswith(f"gs://local/{path.resolve()}#")

    name = f"events/{marker}/drop.ndjson"
    blob = bucket.blob(name)
    blob.upload_from_string(_events(marker + "g", 2))
    eventually(lambda: len(_rows(query, marker + "g")) == 2)  # the bucket notification, through the function
    eventually(lambda: query("SELECT 1 FROM ingestion_audit WHERE source = @s",
                             s=f"gs://{CFG.bucket}/{name}#{blob.generation}"))
    again = _run(stack, names, "replay", f"gs://{CFG.bucket}/{name}")
    assert again.returncode == 0 and '"received":0' in again.stdout, again.stdout + again.stderr
    forced = _run(stack, names, "replay", f"gs://{CFG.bucket}/{name}#{blob.generation}", "--force")
    assert '"rows_sent":2' in forced.stdout, forced.stdout + forced.stderr
    positions = {r["ingestion_source"] for r in _rows(query, marker + "g")}
    assert len(positions) == 2  # read again at the same positions: nothing new for the views


def test_dead_letter_replay_lands_what_now_passes_once_and_marks_every_record(stack, names, bq, publisher, query,
                                                                               functions):
    marker = f"dlr-{uuid.uuid4().hex[:8]}"
    topic = publisher.topic_path(CFG.project, "tracking-events")
    still_bad = publisher.publish(topic, b'{"event_name": "x", "event_timestamp": "soon"}').result()
    eventually(lambda: query("SELECT 1 FROM ingestion_errors WHERE source.message_id = @m", m=still_bad))
    # A message of three records whose third a since-fixed bug dead-lettered as internal_error (written
    # here as the bug would have: the function has no such bug to reproduce); its bytes pass now.
    today = int(datetime.now(timezone.utc).timestamp() * 1_000_000)  # inside the check's partition window
    batch = [event(i, user_pseudo_id=f"{marker}-{i}", event_timestamp=today) for i in range(2)]
    message_id = publisher.publish(topic, orjson.dumps(batch)).result()
    eventually(lambda: query("SELECT 1 FROM ingestion_audit WHERE source = @s", s=f"pubsub://tracking-events/{message_id}"))
    fixed_raw = orjson.dumps(event(2, user_pseudo_id=f"{marker}-fixed", event_timestamp=today))
    error_id = stable_id(marker)
    first = datetime.now(timezone.utc)
    error = {
        "error_id": error_id, "contract": "pro_event", "error_type": "internal_error",
        "reasons": [{"path": "$", "message": "KeyError: a bug"}], "source_kind": "pubsub",
        "source": {"topic": "tracking-events", "message_id": message_id, "record_index": 2},
        "raw_payload": fixed_raw.decode(), "raw_payload_encoding": "utf-8", "raw_payload_bytes": len(fixed_raw),
        "raw_payload_truncated": False}
    # Written twice, as a redelivery of the message would (same error_id, another received_at; both in
    # the past, so that the default --until, now, covers them).
    assert not bq.insert_rows_json(f"{CFG.project}.{names.dataset}.ingestion_errors", [
        {**error, "received_at": (first - timedelta(seconds=i)).isoformat()} for i in range(2)])
    since = (datetime.now(timezone.utc) - timedelta(minutes=10)).isoformat()
    dry = _run(stack, names, "dead-letter", "replay", "--since", since, "--contract", "pro_event", "--dry-run")
    assert dry.stdout.count(error_id) == 1, dry.stdout + dry.stderr  # listed once
    result = _run(stack, names, "dead-letter", "replay", "--since", since, "--contract", "pro_event")
    assert result.returncode == 1 and "still_failing" in result.stderr, result.stdout + result.stderr
    [row] = _rows(query, f"{marker}-fixed")
    assert row["ingestion_source"] == f"pubsub://tracking-events/{message_id}#2"  # its original position
    # The documented reconciliation counts the replayed row with its source: nothing amiss.
    checked = {r["source"] for r in _doc_check(bq, names, "rows")}
    assert f"pubsub://tracking-events/{message_id}" not in checked
    replays = query("SELECT * FROM ingestion_replays WHERE error_id = @e", e=error_id)
    assert len(replays) == 1, "replayed once, though dead-lettered twice"
    assert replays[0]["outcome"] == "row" and replays[0]["row_id"]
    again = _run(stack, names, "dead-letter", "replay", "--since", since, "--contract", "pro_event", "--dry-run")
    assert error_id not in again.stdout  # marked: not replayed twice by accident
    forced = _run(stack, names, "dead-letter", "replay", "--since", since, "--contract", "pro_event", "--dry-run",
                  "--again")
    assert error_id in forced.stdout
