"""Google Cloud clients, built once per process on first use (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, pubsub_v1, storage

from ingest import contracts
from ingest.config import Settings, settings
from ingest.enrich.reference import ReferenceData
from ingest.gcs import READ_CHUNK_BYTES, GcsFiles
from ingest.pipeline import Pipeline
from ingest.runtime import settle_heap
from ingest.sinks.bigquery import BigQueryWriter
from ingest.sinks.storage_write import GrpcAppendStream, RowCodec, StorageWriter, append_rows_call


def bigquery_client(config: Settings) -> bigquery.Client:
    if config.bigquery_emulator_host:
        return bigquery.Client(project=config.project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=config.bigquery_emulator_host))
    return bigquery.Client(project=config.project)


@lru_cache(maxsize=1)
def storage_client() -> storage.Client:
    """Honours STORAGE_EMULATOR_HOST by itself (the library reads it)."""
    return storage.Client()


@lru_cache(maxsize=1)
def file_store() -> GcsFiles:
    """Partner objects, the state bucket and the continuation topic, for ingest_file."""
    config = settings()
    publisher = pubsub_v1.PublisherClient()
    return GcsFiles(storage_client(), config.state_bucket, publisher,
                    publisher.topic_path(config.project, config.file_tasks_topic), config.bigquery_timeout_s)


def read_lines(uri: str) -> Iterator[bytes]:
    """Lines of a gs:// object or a local file, streamed."""
    if uri.startswith("gs://"):
        bucket, _, name = uri[len("gs://"):].partition("/")
        with storage_client().bucket(bucket).blob(name).open("rb", chunk_size=READ_CHUNK_BYTES) as stream:
            yield from stream
    else:
        with open(uri, "rb") as stream:
            yield from stream


def storage_writer(config: Settings) -> StorageWriter:
    """One gRPC channel per process (the GAPIC transport's: credentials, unlimited message sizes);
    AppendRows streams open lazily, one per table."""
    if config.bigquery_grpc_emulator_host:
        import grpc

        channel = grpc.insecure_channel(config.bigquery_grpc_emulator_host)
    else:
        from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport

        channel = BigQueryWriteGrpcTransport().grpc_channel
    call = append_rows_call(channel)
    codecs = {}
    for name in table_names(config):
        table = contracts.table_schema(config.schemas_dir, name).table_id
        codecs[table] = RowCodec.for_table(name, config.schemas_dir)
    age, timeout = config.bigquery_stream_max_age_s, config.bigquery_timeout_s
    return StorageWriter(lambda stream: GrpcAppendStream(call, stream, timeout, lifetime_s=age + timeout),
                         config.project, config.dataset, codecs, max_stream_age_s=age)


def table_names(config: Settings) -> list[str]:
    """Every table with a schema: each gets its codec at cold start."""
    return sorted(p.parent.name for p in config.schemas_dir.glob("*/bigquery.json"))


def build_pipeline(config: Settings) -> Pipeline:
    writer: BigQueryWriter | StorageWriter
    if config.bigquery_write_path == "storage_write":
        writer = storage_writer(config)
    else:
        writer = BigQueryWriter(bigquery_client(config), config.dataset, config.insert_batch_rows,
                                config.insert_batch_bytes, config.bigquery_timeout_s)
    reference = None
    if config.reference_data_uri:
        uri = config.reference_data_uri
        reference = ReferenceData(lambda: read_lines(uri), config.reference_ttl_s, uri)
    return Pipeline(config, writer, reference)


@lru_cache(maxsize=1)
def pipeline() -> Pipeline:
    built = build_pipeline(settings())
    settle_heap()
    return built
