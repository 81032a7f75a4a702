"""`make activities`: run the user_activity build (schemas/user_activity/build.sql) against the
local stack, as the production scheduled query does, and print the activities with most events.

    python -m tools.activities [--run-time 2026-11-23T12:00:00Z] [--show 5]

Settings come from the environment (tools/catalog.py: BQ_DATASET, TIME_ZONE,
ACTIVITY_INACTIVITY_MINUTES, ACTIVITY_LOOKBACK_DAYS) and the stack's ports from the same
variables as `make up` (tools/emulators.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone

from google.cloud import bigquery

from tools import emulators, provision
from tools.catalog import Catalog, SettingsError, SqlSettings


def build(client: bigquery.Client, settings: SqlSettings, run_time: datetime, catalog: Catalog | None = None) -> int:
    """Run the build for run_time (the scheduled query's @run_time); returns the rows it changed."""
    sql = (catalog or Catalog()).activity_build_sql(settings)
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("run_time", "TIMESTAMP", run_time)])
    job = client.query(sql, job_config=config)
    job.result()
    return job.num_dml_affected_rows or 0


def busiest(client: bigquery.Client, settings: SqlSettings, count: int) -> list[dict]:
    query = (f"SELECT activity_date, type, channel_id, user_pseudo_id, user_id, start_timestamp, session_duration, "
             f"event_count, session_status, origin.channel AS origin_channel, origin.source AS origin_source, "
             f"unique_key FROM `{settings.project}.{settings.dataset}.user_activity` "
             f"ORDER BY event_count DESC, start_timestamp DESC, unique_key LIMIT {int(count)}")
    return [dict(row) for row in client.query(query).result()]


def report(client: bigquery.Client, settings: SqlSettings, run_time: datetime, show: int) -> None:
    started = time.monotonic()
    changed = build(client, settings, run_time)
    print(f"user_activity built for run time {run_time.isoformat()} in {time.monotonic() - started:.1f}s "
          f"({changed} rows deleted or inserted; window: {settings.lookback_days} days before the run date "
          f"in {settings.time_zone})")
    for row in busiest(client, settings, show):
        origin = f"{row['origin_channel']}/{row['origin_source']}" if row["origin_channel"] else "(no origin)"
        print(f"  {row['start_timestamp']:%Y-%m-%d %H:%M:%S}Z {row['type']:<10} {row['channel_id']:<8} "
              f"user {row['user_pseudo_id']:<22} {row['event_count']:>3} events {row['session_duration']:>5}s "
              f"{row['session_status']:<14} {origin:<24} {row['unique_key']}")


def _run_time(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(timezone.utc)
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.activities", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-time", help="the build's @run_time, ISO 8601 (default: now)")
    parser.add_argument("--show", type=int, default=5, help="activities to print (most events first)")
    args = parser.parse_args(argv)
    try:
        settings = SqlSettings.from_env()
        cfg = emulators.StackConfig.from_env()
    except (SettingsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    client = provision.bigquery_client(cfg.project, cfg.bigquery_url)
    report(client, settings, _run_time(args.run_time), args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
