"""Every SQL block of docs/queries.md, run on the BigQuery emulator against known rows, with its
result asserted. The rows go into a dataset of their own (provisioned from schemas/ like the
stack's), so the results are exact; user_activity is built by the real build."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from tests.integration.conftest import CFG, REPO
from tools import provision
from tools.activities import build
from tools.catalog import SqlSettings

QUERIES = REPO / "docs" / "queries.md"
RUN_TIME = datetime(2026, 11, 12, 12, 0, tzinfo=timezone.utc)
EMAIL = {"channel": "email", "source": "brevo", "campaign_name": "relance"}
GOOGLE = {"channel": "organic", "source": "google"}
DIRECT = {"channel": "direct", "source": "(direct)"}
LINKEDIN = {"channel": "social", "source": "linkedin", "social_network": "linkedin"}
OFFER = "/offre/individuelle/{id}/recapitulatif"


def documented_queries(path: Path = QUERIES) -> dict[str, str]:
    """-- query: <name> → the SQL block it heads."""
    blocks = re.findall(r"```sql\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    named = {}
    for block in blocks:
        m = re.match(r"-- query: (\w+)\n", block)
        assert m, f"every SQL block of {path.name} starts with '-- query: <name>': {block[:60]!r}"
        named[m[1]] = block
    return named


def _event(n: int, user: str, at: str, page: str, origin: dict | None = None, device: str = "desktop",
           name: str = "page_view", **extra: Any) -> dict[str, Any]:
    return {"event_name": name, "user_pseudo_id": user, "event_timestamp": at, "event_date": at[:10],
            "url_path_agg": page, "traffic_origin": origin, "user_device_category": device, "platform": "WEB",
            "row_id": f"q{n}", "ingested_at": at, "ingestion_source": f"pubsub://tracking-events/q#{n}", **extra}


EVENTS = [
    _event(1, "u1", "2026-11-10T09:00:00Z", "/offres", EMAIL),
    _event(2, "u1", "2026-11-10T09:05:00Z", OFFER, user_id="7"),
    _event(3, "u1", "2026-11-10T09:06:00Z", OFFER, name="hasClickedOffer"),
    _event(4, "u1", "2026-11-10T11:00:00Z", "/offres", GOOGLE),
    _event(5, "u2", "2026-11-10T10:00:00Z", "/accueil", DIRECT, device="mobile"),
    _event(6, "u2", "2026-11-10T10:10:00Z", "/offres", device="mobile"),
    _event(7, "u3", "2026-11-11T08:00:00Z", "/offres", LINKEDIN, device="tablet"),
    _event(8, "u1", "2026-11-11T20:00:00Z", "/reservations", user_id="7"),
    _event(9, "crawler", "2026-11-11T09:00:00Z", "/accueil", device="bot"),
]
DUPLICATE = {**EVENTS[4], "ingested_at": "2026-11-10T12:00:00Z", "ingestion_source": "pubsub://tracking-events/q2#0"}


def _audit(n: int, day: str, received: int, rows_sent: int, pseudonymised: int, dropped: int,
           contract: str = "pro_event") -> dict[str, Any]:
    return {"audit_id": f"a{n}", "contract": contract, "source_kind": "pubsub", "source": f"pubsub://t/{n}",
            "received": received, "rows_sent": rows_sent, "dead_lettered": received - rows_sent - dropped,
            "consent_dropped": dropped, "pseudonymised": pseudonymised, "skipped": 0, "duplicates_in_batch": 0,
            "started_at": f"{day}T10:00:00Z", "finished_at": f"{day}T10:00:01Z"}


AUDIT = [_audit(1, "2026-11-10", 100, 80, 10, 15), _audit(2, "2026-11-10", 50, 50, 0, 0),
         _audit(3, "2026-11-11", 20, 10, 5, 10), _audit(4, "2026-11-11", 30, 30, 0, 0, contract="pro_log")]
REDELIVERED_AUDIT = [{**AUDIT[0], "started_at": "2026-11-10T10:05:00Z", "finished_at": "2026-11-10T10:05:01Z"},
                     {**AUDIT[2], "started_at": "2026-11-11T15:00:00Z", "finished_at": "2026-11-11T15:00:01Z"}]
"""The audit rows of two invocations written again, as a redelivery or a retry writes them (same
audit_id, later started_at): the consent rates count each invocation once."""

EXPECTED: dict[str, list[tuple]] = {
    "daily_events_by_origin": [
        (date(2026, 11, 10), "email", "brevo", 3, 1),
        (date(2026, 11, 10), "direct", "(direct)", 2, 1),  # u2's row was delivered twice: counted once
        (date(2026, 11, 10), "organic", "google", 1, 1),  # u1 again, 1h54 later: a new session
        (date(2026, 11, 11), "(none)", "(none)", 1, 1),  # an internal page after a long pause
        (date(2026, 11, 11), "social", "linkedin", 1, 1),  # the crawler is not there
    ],
    "daily_activities_by_origin": [
        (date(2026, 11, 10), "direct", "(direct)", 1, 600, 2),
        (date(2026, 11, 10), "email", "brevo", 1, 360, 3),
        (date(2026, 11, 10), "organic", "google", 1, 0, 1),
        (date(2026, 11, 11), "(none)", "(none)", 1, 0, 1),
        (date(2026, 11, 11), "social", "linkedin", 1, 0, 1),
    ],
    "activities_per_user": [("u1", "7", 3, 5, 360, 3), ("u2", None, 1, 2, 600, 1), ("u3", None, 1, 1, 0, 1)],
    "consent_outcome_rates": [(date(2026, 11, 10), 150, 0.8, 0.067, 0.1), (date(2026, 11, 11), 20, 0.25, 0.25, 0.5)],
    "top_pages": [("/offres", 4, 3), ("/accueil", 1, 1), (OFFER, 1, 1), ("/reservations", 1, 1)],
    "device_split": [("desktop", 1, 0.333, 5), ("mobile", 1, 0.333, 2), ("tablet", 1, 0.333, 1)],
}


@pytest.fixture(scope="module")
def dataset(bq: bigquery.Client) -> str:
    name = f"it_queries_{uuid.uuid4().hex[:6]}"
    provision.create_dataset(bq, name, REPO / "schemas")
    assert bq.insert_rows_json(f"{CFG.project}.{name}.pro_event", EVENTS + [DUPLICATE]) == []
    assert bq.insert_rows_json(f"{CFG.project}.{name}.ingestion_audit", AUDIT + REDELIVERED_AUDIT) == []
    build(bq, SqlSettings(project=CFG.project, dataset=name), RUN_TIME)
    return name


def test_every_documented_query_has_an_expected_result() -> None:
    assert sorted(documented_queries()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documented_query_gives_the_expected_rows(name: str, bq: bigquery.Client, dataset: str) -> None:
    sql = re.sub(r"\banalytics\.(\w+)", rf"`{CFG.project}.{dataset}.\1`", documented_queries()[name])
    rows = [tuple(float(v) if isinstance(v, Decimal) else v for v in row.values())
            for row in bq.query(sql).result()]
    assert rows == EXPECTED[name]
