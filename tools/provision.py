"""Creates what the functions expect on a local stack: topics, dead-letter topics, push
subscriptions, the partner bucket, and the BigQuery dataset with every table **from
``schemas/``** (the same files Terraform reads in production)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from ingest import contracts

MAX_DELIVERY_ATTEMPTS = 5


@dataclass(frozen=True)
class Route:
    """A topic whose messages are pushed to one function."""

    topic: str
    push_endpoint: str

    @property
    def subscription(self) -> str:
        return f"{self.topic}-push"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}-dead-letter"


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
        table.time_partitioning = bigquery.TimePartitioning(type_=partitioning.get("type", "DAY"),
                                                            field=partitioning["field"])
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
            # Operators read dead-lettered messages from here (and replay them).
            subscriber.create_subscription(name=subscriber.subscription_path(project, f"{route.dead_letter_topic}-sub"),
                                           topic=dead_letter_path)
        except gexc.AlreadyExists:
            pass
        path = subscriber.subscription_path(project, route.subscription)
        try:
            subscriber.delete_subscription(subscription=path)
        except gexc.NotFound:
            pass
        subscriber.create_subscription(request={
            "name": path,
            "topic": publisher.topic_path(project, route.topic),
            "push_config": {"push_endpoint": route.push_endpoint},
            "ack_deadline_seconds": 60,
            "dead_letter_policy": {"dead_letter_topic": dead_letter_path,
                                   "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
            "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        })


def create_bucket(project: str, bucket: str) -> None:
    client = storage.Client(project=project, credentials=AnonymousCredentials())
    try:
        client.create_bucket(bucket)
    except gexc.Conflict:
        pass
