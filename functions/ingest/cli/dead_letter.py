"""``ingest dead-letter replay``: records of ingestion_errors through the record path again."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import click

from ingest.cli.files import settings_or_exit
from ingest.contracts import CONTRACTS
from ingest.errors import FailureKind


def _when(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@click.group("dead-letter")
def dead_letter() -> None:
    """Work with ingestion_errors (the dead letter), one record per error_id."""


@dead_letter.command("replay")
@click.option("--since", help="Errors received from this time on (ISO 8601; default: 24 hours ago).")
@click.option("--until", help="Errors received up to this time (ISO 8601; default: now).")
@click.option("--contract", type=click.Choice(CONTRACTS), help="Only this contract's errors.")
@click.option("--error-type", type=click.Choice([k.value for k in FailureKind]), help="Only this kind of error.")
@click.option("--limit", type=click.IntRange(1), default=10_000, show_default=True, help="At most this many.")
@click.option("--again", is_flag=True, help="Also records already replayed once.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; write nothing.")
def replay_errors(since: str | None, until: str | None, contract: str | None, error_type: str | None, limit: int,
                  again: bool, dry_run: bool) -> None:
    """Replay dead-lettered records after a fix: those that now pass land in their table (at their
    original position); every replayed record gets an ingestion_replays row saying when and how it
    went, so it is not replayed twice by accident. Exits 1 when a record still fails."""
    from ingest import clients
    from ingest.dead_letter_replay import Selection, replay, select_errors

    settings = settings_or_exit()
    selection = Selection(since=_when(since, datetime.now(timezone.utc) - timedelta(days=1)),
                          until=_when(until, datetime.now(timezone.utc)), contract=contract, error_type=error_type,
                          limit=limit, again=again)
    client = clients.bigquery_client(settings)
    errors = list(select_errors(client, settings.dataset, selection))
    if dry_run:
        for error in errors:
            click.echo(f"{error['error_id']} {error['contract']} {error['error_type']} received {error['received_at']}")
        click.echo(f"{len(errors)} record(s) would be replayed", err=True)
        return
    with click.progressbar(errors, label="replaying", file=sys.stderr) as bar:
        outcomes = replay(clients.build_pipeline(settings), bar)
    tally: dict[str, int] = {}
    for outcome in outcomes:
        tally[outcome["outcome"]] = tally.get(outcome["outcome"], 0) + 1
        if outcome["outcome"] != "row":
            click.echo(f"{outcome['error_id']}: {outcome['outcome']}: {outcome.get('reason') or ''}", err=True)
    click.echo(f"{len(outcomes)} record(s) replayed: {tally}", err=True)
    sys.exit(1 if tally.get("still_failing") else 0)
