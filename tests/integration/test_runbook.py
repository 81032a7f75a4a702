"""docs/runbook.md, run as written against the real emulators: a message that fails on every
delivery ends in its dead-letter hold subscription (wired by tools/provision.py as `make run` wires
it), the runbook's commands find it and its one-line crash logs, and replay it once the cause is
gone; a file is re-run; every SQL block runs and finds what it is meant to find."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from tests.integration.conftest import CFG, FAULTY_TOPIC, eventually
from tools import provision
from tools.local_run import function_env

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "docs" / "runbook.md"
MARKED = re.compile(r"<!-- (run|sql|production only)(?:: ([\w-]+))? -->\n```(\w+)\n(.*?)```", re.S)
FAULTY_STATE = CFG.state_dir / "faulty"  # where conftest's faulty ingest_events keeps its log
ALERT_SECTIONS = ("function-errors", "backlog-age", "dead-lettered-messages", "unbalanced-audit", "no-traffic",
                  "records-dead-lettered")
"""The anchors infra/monitoring.tf links to (tests/infra checks that every alert links to one)."""


def _blocks() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {"run": {}, "sql": {}, "production only": {}}
    for i, (kind, name, _, code) in enumerate(MARKED.findall(RUNBOOK.read_text())):
        found[kind][name or str(i)] = code
    return found


def _run(name: str, state_dir: Path = CFG.state_dir, **variables: str) -> list[str]:
    """The ``environment`` block, then block ``name``, in bash as an operator would; stdout lines."""
    blocks = _blocks()["run"]
    env = {**os.environ, "PUBSUB_PORT": str(CFG.pubsub_port), "GCS_PORT": str(CFG.gcs_port),
           "BIGQUERY_PORT": str(CFG.bigquery_port), "BIGQUERY_GRPC_PORT": str(CFG.bigquery_grpc_port),
           "LOCAL_STACK_DIR": str(state_dir), **variables}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", blocks["environment"] + blocks[name]], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"runbook block {name!r} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout.splitlines()


def _sql(bq, names, name: str) -> list[dict]:
    sql = _blocks()["sql"][name].replace("analytics.", f"`{CFG.project}.{names.dataset}`.")
    return [dict(row) for row in bq.query(sql).result()]


def _event(marker: str) -> dict:
    example = orjson.loads((REPO / "schemas/pro_event/examples/ga4_export.pass.json").read_bytes())
    return {**example, "user_pseudo_id": marker}


def test_every_block_is_run_here_or_marked_production_only():
    text = RUNBOOK.read_text()
    blocks = _blocks()
    assert text.count("```") == 2 * sum(len(v) for v in blocks.values()), "a block without a marker"
    assert {"environment", "show-held", "replay", "rerun-file", "discard", "records-replay"} <= set(blocks["run"])
    for code in blocks["production only"].values():
        commands = [c for c in re.split(r"\n(?!\s)", code.strip()) if c]
        assert all(c.startswith("gcloud logging read") for c in commands), (
            f"only Cloud Logging has no local twin; run everything else here:\n{code}")
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
    assert set(ALERT_SECTIONS) <= headings, f"alert sections missing: {set(ALERT_SECTIONS) - headings}"


def test_a_message_that_always_fails_is_held_found_by_the_runbook_and_replayed(faulty_events_topic, grpc_fault_proxy,
                                                                                publisher, query):
    """Several at once: the emulator with a retry policy lost them after 2-3 attempts."""
    marker = f"dl-{uuid.uuid4().hex[:8]}"
    hold = {"HOLD": provision.hold_subscription(FAULTY_TOPIC), "TOPIC": FAULTY_TOPIC}
    # The Storage Write API is unreachable (every connection refused): every delivery fails within
    # seconds, as with the poison records that lost messages on the emulator.
    grpc_fault_proxy.refuse()
    try:
        published = [publisher.publish(faulty_events_topic, orjson.dumps(_event(f"{marker}-{i}"))).result()
                     for i in range(3)]

        def held() -> list[dict]:
            lines = [orjson.loads(line) for line in _run("show-held", FAULTY_STATE, **hold)]
            return [line for line in lines if marker in line["data"]]

        found = eventually(lambda: len(h := held()) == 3 and h, timeout=150, interval=1)
    finally:
        grpc_fault_proxy.disarm()
    assert {line["delivery_attempts"] for line in found} == {str(provision.MAX_DELIVERY_ATTEMPTS)}
    assert {line["source_subscription"] for line in found} == {f"{FAULTY_TOPIC}-push"}

    log = (FAULTY_STATE / "logs" / "fn-ingest_events.log").read_text().splitlines()
    assert all(line.startswith("{") and orjson.loads(line) for line in log), "every log line is one JSON object"
    for message_id in published:
        lines = [orjson.loads(line) for line in _run("message-lines", FAULTY_STATE, MESSAGE_ID=message_id)]
        crashes = [line for line in lines if line["event"] == "invocation_failed"]
        assert len(crashes) == provision.MAX_DELIVERY_ATTEMPTS, "one line per failed delivery"
        assert all(c["severity"] == "ERROR" and c["transient"] and "Traceback" in c["stack_trace"] for c in crashes)
        assert {c["logging.googleapis.com/labels"]["message_id"] for c in crashes} == {message_id}
    lines = [orjson.loads(line) for line in _run("held-crash-lines", FAULTY_STATE, PUBLISHED_AT=found[0]["published_at"])]
    assert len(lines) == provision.MAX_DELIVERY_ATTEMPTS and lines[0]["logging.googleapis.com/labels"][
        "message_id"] in published, "the held copy leads back to its crash lines"
    assert _run("crash-lines", FAULTY_STATE), "the recent crashes are listed"

    replayed = [orjson.loads(line) for line in _run("replay", FAULTY_STATE, **hold)]
    assert len([r for r in replayed if r["topic"] == FAULTY_TOPIC]) >= 3
    # A message held twice is replayed twice, and each copy lands (at-least-once): counted in the view.
    rows = eventually(lambda: len(r := query("SELECT user_pseudo_id FROM pro_event_deduplicated WHERE "
                                             "event_date >= '2000-01-01' AND STARTS_WITH(user_pseudo_id, @m)",
                                             m=marker)) == 3 and r)
    assert sorted(r["user_pseudo_id"] for r in rows) == [f"{marker}-{i}" for i in range(3)]
    assert not held(), "replayed messages leave the hold subscription"


def test_a_file_is_rerun_and_held_notifications_discarded(stack, names, functions, bucket, publisher, query):
    marker = f"rr-{uuid.uuid4().hex[:8]}"
    name = f"userpilot/{marker}/export.ndjson"
    example = orjson.loads((REPO / "schemas/userpilot_event/examples/interaction.pass.json").read_bytes())
    bucket.blob(name).upload_from_string(orjson.dumps({**example, "user_id": marker}) + b"\n")
    source = f"gs://{CFG.bucket}/{name}"

    def landed() -> list[dict]:
        return query("SELECT * FROM userpilot_event WHERE inserted_at >= TIMESTAMP('2000-01-01') AND user_id = @u",
                     u=marker)

    eventually(landed)
    out = _run("rerun-file", **function_env(stack.env(), names, CFG), OBJECT=source)
    assert out[-1].startswith(f"{source}: ") and orjson.loads(out[-1].split(": ", 1)[1])["rows_sent"] == 1, out
    view = query("SELECT * FROM userpilot_event_deduplicated WHERE inserted_at >= TIMESTAMP('2000-01-01') "
                 "AND user_id = @u", u=marker)
    assert len(view) == 1 and {r["ingestion_source"] for r in landed()} == {view[0]["ingestion_source"]}, (
        "read again at the same positions: the raw table may hold the copy, the view holds it once")

    hold = provision.hold_subscription(provision.PARTNER_DROPS)
    dead = publisher.topic_path(CFG.project, provision.dead_letter_topic(provision.PARTNER_DROPS))
    publisher.publish(dead, b"{}", objectId=name, bucketId=CFG.bucket).result()
    discarded = [orjson.loads(line) for line in _run("discard", HOLD=hold)]
    assert [d["attributes"]["objectId"] for d in discarded] == [name]
    assert _run("show-held", HOLD=hold) == []


def test_dead_lettered_records_are_listed_then_replayed(stack, names, functions, publisher, query):
    since = datetime.now(timezone.utc).isoformat()
    message_id = publisher.publish(publisher.topic_path(CFG.project, "tracking-events"), b"{not json").result()
    eventually(lambda: query("SELECT * FROM ingestion_errors WHERE source.message_id = @m", m=message_id))
    env = {**function_env(stack.env(), names, CFG), "SINCE": since}
    listed = _run("records-dry-run", **env)
    assert any("invalid_json" in line for line in listed), listed
    _run("records-replay", **env)  # the record is still not JSON: replayed, still failing, exit 1 allowed
    replays = query("SELECT * FROM ingestion_replays WHERE replayed_at >= TIMESTAMP(@s)", s=since)
    assert replays, "the replay is recorded"


@pytest.mark.parametrize("name", ["recent-invocations", "last-ingested", "dead-letter-by-type"])
def test_every_sql_block_runs(functions, bq, names, publisher, query, name):
    message_id = publisher.publish(publisher.topic_path(CFG.project, "tracking-events"), b"not json").result()
    eventually(lambda: query("SELECT * FROM ingestion_audit WHERE source = @s", s=f"pubsub://tracking-events/{message_id}"))
    assert _sql(bq, names, name), f"{name} found nothing after an invocation with a dead-lettered record"
    if name == "dead-letter-by-type":
        assert "invalid_json" in {r["error_type"] for r in _sql(bq, names, name)}
    assert _run("last-ingested-lines")


def test_the_unbalanced_query_finds_an_unbalanced_row(bq, names):
    source = f"pubsub://tracking-events/unbalanced-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc).isoformat()
    row = {"audit_id": source, "function": "ingest_events", "contract": "pro_event", "source_kind": "pubsub",
           "source": source, "received": 3, "rows_sent": 1, "dead_lettered": 0, "consent_dropped": 0, "skipped": 0,
           "duplicates_in_batch": 0, "pseudonymised": 0, "started_at": now, "finished_at": now, "code_version": "test"}
    assert not bq.insert_rows_json(f"{CFG.project}.{names.dataset}.ingestion_audit", [row])
    assert source in [r["source"] for r in _sql(bq, names, "unbalanced")]
    assert all(r["received"] != r["rows_sent"] + r["dead_lettered"] + r["consent_dropped"] + r["skipped"]
               + r["duplicates_in_batch"] for r in _sql(bq, names, "unbalanced")), "only unbalanced rows"


def test_the_local_dead_letter_expires_like_production(bq, names):
    """The option is set as in production; the emulator keeps it but does not delete old partitions."""
    table = bq.get_table(f"{CFG.project}.{names.dataset}.ingestion_errors")
    options = orjson.loads((REPO / "schemas/ingestion_errors/table.json").read_bytes())
    assert table.time_partitioning.expiration_ms == options["partition_expiration_days"] * 86_400_000
    others = bq.get_table(f"{CFG.project}.{names.dataset}.pro_event")
    assert others.time_partitioning.expiration_ms is None
