"""Google Cloud clients, built once per process on first use (never at import time)."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import BinaryIO, Iterator

from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

from ingest.config import Settings, settings
from ingest.enrich.reference import ReferenceData
from ingest.files import ObjectMissing
from ingest.pipeline import Pipeline
from ingest.runtime import settle_heap
from ingest.sinks.bigquery import BigQueryWriter

READ_CHUNK_BYTES = 8 * 1024 * 1024


def bigquery_client(config: Settings) -> bigquery.Client:
    if config.bigquery_emulator_host:
        return bigquery.Client(project=config.project, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=config.bigquery_emulator_host))
    return bigquery.Client(project=config.project)


@lru_cache(maxsize=1)
def storage_client() -> storage.Client:
    """Honours STORAGE_EMULATOR_HOST by itself (the library reads it)."""
    return storage.Client()


class _Download:
    """An object's byte stream whose generation vanishing mid-read is ``ObjectMissing`` (permanent),
    not one more download error (transient)."""

    def __init__(self, stream: BinaryIO, uri: str) -> None:
        self._stream = stream
        self._uri = uri

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except NotFound as error:
            raise ObjectMissing(f"{self._uri} disappeared while it was read: {error}") from error


@contextmanager
def open_object(bucket: str, name: str, generation: int) -> Iterator[BinaryIO]:
    """That exact generation, read in chunks; raw bytes, so gzip is inflated by us, once."""
    uri = f"gs://{bucket}/{name}#{generation}"
    try:
        blob = storage_client().bucket(bucket).get_blob(name, generation=generation)
    except NotFound:
        blob = None
    if blob is None:
        raise ObjectMissing(f"{uri} no longer exists")
    with blob.open("rb", chunk_size=READ_CHUNK_BYTES, raw_download=True) as stream:
        yield _Download(stream, uri)  # type: ignore[misc]


def read_lines(uri: str) -> Iterator[bytes]:
    """Lines of a gs:// object or a local file, streamed."""
    if uri.startswith("gs://"):
        bucket, _, name = uri[len("gs://"):].partition("/")
        with storage_client().bucket(bucket).blob(name).open("rb", chunk_size=READ_CHUNK_BYTES) as stream:
            yield from stream
    else:
        with open(uri, "rb") as stream:
            yield from stream


def build_pipeline(config: Settings) -> Pipeline:
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
