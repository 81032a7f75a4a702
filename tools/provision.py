"""Creates what the functions expect on a local stack: topics, dead-letter topics, push
subscriptions, the partner bucket, and the BigQuery dataset with every table and view **from
``schemas/``** (the same files Terraform reads in production, tools/catalog.py).

Run again on an existing dataset it applies additive schema changes in place (new columns at the
end, relaxed modes, descriptions, clustering), as Terraform does, and refuses a breaking one
rather than recreating a table (tools/schema_changes.py says which changes are which)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from tools import schema_changes
from tools.catalog import BotList, Catalog, DatasetObject, SqlSettings, read_table

MAX_DELIVERY_ATTEMPTS = 5
"""Deliveries before a message goes to its dead-letter topic (production: var.max_delivery_attempts)."""
HOLD_RETENTION = timedelta(days=7)
"""How long a hold subscription keeps a dead-lettered message, as infra/pubsub.tf does."""


PARTNER_DROPS = "partner-drops"
"""The source name of the bucket's dead letters (``source_name`` of ingest_file in infra/functions.tf)."""


def dead_letter_topic(source: str) -> str:
    """``<source>-dead-letter``: the same name infra/pubsub.tf gives the function's dead-letter topic."""
    return f"{source}-dead-letter"


def hold_subscription(source: str) -> str:
    """``<source>-dead-letter-hold``: where operators find dead-lettered messages, locally and in production."""
    return f"{dead_letter_topic(source)}-hold"


@dataclass(frozen=True)
class Route:
    """A topic whose messages are pushed to one function. ``source`` names its dead letters as in
    production (the topic's name, or ``partner-drops`` for the bucket's notifications)."""

    topic: str
    push_endpoint: str
    source: str = ""

    @property
    def subscription(self) -> str:
        return f"{self.topic}-push"

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic(self.source or self.topic)

    @property
    def hold_subscription(self) -> str:
        return hold_subscription(self.source or self.topic)


def bigquery_client(project: str, endpoint: str) -> bigquery.Client:
    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=endpoint))


def table_from_schema(project: str, dataset: str, schemas_dir: Path, name: str) -> bigquery.Table:
    spec = read_table(schemas_dir, name)
    table = bigquery.Table(f"{project}.{dataset}.{spec.name}",
                           schema=[bigquery.SchemaField.from_api_repr(f) for f in spec.fields])
    table.description = spec.description
    partitioning = spec.options.get("time_partitioning")
    if partitioning:
        days = spec.options.get("partition_expiration_days")  # the dead letter's retention, as in production
        table.time_partitioning = bigquery.TimePartitioning(type_=partitioning.get("type", "DAY"),
                                                            field=partitioning["field"],
                                                            expiration_ms=days * 86_400_000 if days else None)
    table.clustering_fields = spec.options.get("clustering") or None
    table.require_partition_filter = spec.options.get("require_partition_filter", False)
    return table


class SchemaChangeError(RuntimeError):
    """An existing table differs from schemas/ in a way BigQuery cannot apply in place."""


def create_dataset(client: bigquery.Client, dataset: str, schemas_dir: Path, bots: BotList | None = None) -> list[str]:
    """The dataset with every table and view of schemas/, created or brought up to date."""
    client.create_dataset(dataset, exists_ok=True)
    catalog = Catalog(schemas_dir)
    settings = SqlSettings(project=client.project, dataset=dataset, bots=bots or BotList.load(schemas_dir))
    outcomes = {table.name: apply_table(client, table_from_schema(client.project, dataset, schemas_dir, table.name))
                for table in catalog.tables()}
    tables_changed = any(outcome != "unchanged" for outcome in outcomes.values())
    for view in catalog.views():
        apply_view(client, dataset, view, view.sql(settings), catalog, replace=tables_changed)
    return list(catalog.objects)


def apply_table(client: bigquery.Client, desired: bigquery.Table) -> str:
    """Create the table, or apply an additive change to it in place: "created", "updated" or "unchanged"."""
    try:
        existing = client.get_table(desired.reference)
    except gexc.NotFound:
        client.create_table(desired)
        return "created"
    name = desired.table_id
    changes = schema_changes.compare_fields(name, [f.to_api_repr() for f in existing.schema],
                                            [f.to_api_repr() for f in desired.schema])
    changes += schema_changes.compare_options(name, {"time_partitioning": _partitioning(existing)},
                                              {"time_partitioning": _partitioning(desired)})
    breaking = [str(change) for change in changes if change.breaking]
    if breaking:
        raise SchemaChangeError(f"{desired.full_table_id or name}: cannot apply in place: " + "; ".join(breaking)
                                + " (docs/schema-changes.md; a local stack starts afresh after `make down` "
                                "and removing its state directory, LOCAL_STACK_DIR, default .local/stack)")
    fields = []
    if changes:
        existing.schema = desired.schema
        fields.append("schema")
    for attribute in ("description", "clustering_fields"):
        if getattr(existing, attribute) != getattr(desired, attribute):
            setattr(existing, attribute, getattr(desired, attribute))
            fields.append(attribute)
    if not fields:
        return "unchanged"
    client.update_table(existing, fields)
    return "updated"


def apply_view(client: bigquery.Client, dataset: str, view: DatasetObject, sql: str, catalog: Catalog,
               replace: bool = False) -> None:
    """Create the view, or recreate it when its SQL (or, with replace, a table it may read) changed."""
    table = bigquery.Table(f"{client.project}.{dataset}.{view.name}")
    try:
        existing = client.get_table(table.reference)
        if existing.view_query == sql and not replace:
            return
        client.delete_table(table.reference)
    except gexc.NotFound:
        pass
    table.view_query = sql
    table.description = view.description
    read_tables = [f"{client.project}.{dataset}.{name}" for name in view.reads if catalog.objects[name].kind == "table"]
    with _partition_filters_lifted(client, read_tables):
        client.create_table(table)


def _partitioning(table: bigquery.Table) -> tuple[str, str | None] | None:
    spec = table.time_partitioning
    return None if spec is None else (spec.type_, spec.field)


@contextlib.contextmanager
def _partition_filters_lifted(client: bigquery.Client, table_ids: list[str]) -> Iterator[None]:
    """local-bigquery 0.4.0 runs a view's query through its partition-filter check when the view is
    created, and refuses a view over a table with require_partition_filter (BigQuery checks the
    filter when the view is queried, which the emulator does not). Lifted for the creation only."""
    lifted = []
    try:
        for table_id in table_ids:
            table = client.get_table(table_id)
            if table.require_partition_filter:
                table.require_partition_filter = False
                client.update_table(table, ["require_partition_filter"])
                lifted.append(table_id)
        yield
    finally:
        for table_id in lifted:
            table = client.get_table(table_id)
            table.require_partition_filter = True
            client.update_table(table, ["require_partition_filter"])


def create_routes(project: str, routes: list[Route]) -> None:
    """Topics, dead-letter topics with their hold subscriptions, and push subscriptions with a
    dead-letter policy; idempotent, and an existing push subscription is updated in place, so
    re-running it never drops messages in flight.

    The push subscriptions have no ``retry_policy``: with one, the Pub/Sub emulator (0.8.20) parks
    each nacked push message in a backoff map and, when two or more are parked at once, never
    delivers them again nor forwards them to the dead-letter topic — a message that failed every
    time vanished after 2–3 attempts (one failing message alone was dead-lettered, which is why an
    always-500 endpoint looked fine). Without one, the emulator redelivers a nacked message at
    once, so a message that always fails is dead-lettered after MAX_DELIVERY_ATTEMPTS attempts, as
    in production (where Eventarc spaces the attempts from 10 s to 600 s).
    tests/integration/test_dead_letters.py fails on the emulator if a retry policy comes back.
    """
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    for route in routes:
        for topic in (route.topic, route.dead_letter_topic):
            try:
                publisher.create_topic(name=publisher.topic_path(project, topic))
            except gexc.AlreadyExists:
                pass
        dead_letter_path = publisher.topic_path(project, route.dead_letter_topic)
        try:
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(project, route.hold_subscription),
                "topic": dead_letter_path,
                "ack_deadline_seconds": 60,
                "message_retention_duration": HOLD_RETENTION,
                "expiration_policy": {},  # never expires
            })
        except gexc.AlreadyExists:
            pass
        push = {
            "name": subscriber.subscription_path(project, route.subscription),
            "topic": publisher.topic_path(project, route.topic),
            "push_config": {"push_endpoint": route.push_endpoint},
            "ack_deadline_seconds": 60,
            "dead_letter_policy": {"dead_letter_topic": dead_letter_path,
                                   "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
        }
        try:
            subscriber.create_subscription(request=push)
        except gexc.AlreadyExists:
            del push["topic"]
            subscriber.update_subscription(request={"subscription": push, "update_mask": {"paths": [
                "push_config", "ack_deadline_seconds", "dead_letter_policy", "retry_policy"]}})


def create_bucket(project: str, bucket: str) -> None:
    client = storage.Client(project=project, credentials=AnonymousCredentials())
    try:
        client.create_bucket(bucket)
    except gexc.Conflict:
        pass
