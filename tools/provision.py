"""Creates what the functions expect on a local stack: topics, dead-letter topics, push
subscriptions, the partner bucket, and the BigQuery dataset with every table **from
``schemas/``** (the same files Terraform reads in production)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from ingest import contracts

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
    spec = contracts.table_schema(schemas_dir, name)
    table = bigquery.Table(f"{project}.{dataset}.{spec.table_id}",
                           schema=[bigquery.SchemaField.from_api_repr(f) for f in spec.raw_fields])
    table.description = spec.options.get("description")
    partitioning = spec.options.get("time_partitioning")
    if partitioning:
        days = spec.options.get("partition_expiration_days")  # the dead letter's retention, as in production
        table.time_partitioning = bigquery.TimePartitioning(type_=partitioning.get("type", "DAY"),
                                                            field=partitioning["field"],
                                                            expiration_ms=days * 86_400_000 if days else None)
    table.clustering_fields = spec.options.get("clustering") or None
    table.require_partition_filter = spec.options.get("require_partition_filter", False)
    return table


def create_dataset(client: bigquery.Client, dataset: str, schemas_dir: Path) -> list[str]:
    client.create_dataset(dataset, exists_ok=True)
    names = contracts.all_tables(schemas_dir)
    for name in names:
        client.create_table(table_from_schema(client.project, dataset, schemas_dir, name), exists_ok=True)
    return names


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
