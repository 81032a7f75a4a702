"""Cloud Storage (and the continuation topic) behind ``files.FileStore`` and ``ledger.DocumentStore``.

The ledger's compare-and-set is Cloud Storage's own: every write carries ``ifGenerationMatch``
(0 for "only if absent"), and a 412 is a ``LedgerConflict``. Objects are read as stored
(``raw_download``), so gzip is inflated by our reader, once, every member of it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import orjson
from google.api_core.exceptions import NotFound, PreconditionFailed
from google.cloud import pubsub_v1, storage

from ingest.files import ObjectInfo, ObjectMissing
from ingest.ledger import LedgerConflict

READ_CHUNK_BYTES = 8 * 1024 * 1024
_LOAD_ATTEMPTS = 3


class GcsDocuments:
    """JSON documents in one bucket, written only if unchanged since read."""

    def __init__(self, bucket: storage.Bucket) -> None:
        self._bucket = bucket

    def load(self, key: str) -> tuple[dict[str, Any] | None, int]:
        for _ in range(_LOAD_ATTEMPTS):  # rewritten between its metadata and its bytes: read again
            blob = self._bucket.get_blob(key)
            if blob is None:
                return None, 0
            try:
                return orjson.loads(blob.download_as_bytes(if_generation_match=blob.generation)), int(blob.generation)
            except (PreconditionFailed, NotFound):
                continue
        raise LedgerConflict(f"gs://{self._bucket.name}/{key} keeps changing while it is read")

    def save(self, key: str, document: dict[str, Any], generation: int) -> int:
        blob = self._bucket.blob(key)
        try:
            blob.upload_from_string(orjson.dumps(document), content_type="application/json",
                                    if_generation_match=generation)
        except PreconditionFailed as error:
            raise LedgerConflict(f"gs://{self._bucket.name}/{key} changed since generation {generation}") from error
        return int(blob.generation)


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


class GcsFiles:
    """Partner objects, the state bucket, and the topic continuations are published to."""

    def __init__(self, client: storage.Client, state_bucket: str, publisher: pubsub_v1.PublisherClient,
                 tasks_topic: str, publish_timeout_s: float) -> None:
        self._client = client
        self.documents = GcsDocuments(client.bucket(state_bucket))
        self._publisher = publisher
        self._tasks_topic = tasks_topic
        self._publish_timeout_s = publish_timeout_s

    def _generation(self, bucket: str, name: str, generation: int) -> storage.Blob:
        try:
            blob = self._client.bucket(bucket).get_blob(name, generation=generation)
        except NotFound:
            blob = None
        if blob is None:
            raise ObjectMissing(f"gs://{bucket}/{name}#{generation} no longer exists")
        return blob

    def stat(self, bucket: str, name: str, generation: int) -> ObjectInfo:
        blob = self._generation(bucket, name, generation)
        return ObjectInfo(size=int(blob.size or 0), md5=blob.md5_hash, crc32c=blob.crc32c,
                          metadata=dict(blob.metadata or {}))

    @contextmanager
    def open(self, bucket: str, name: str, generation: int, start: int = 0) -> Iterator[BinaryIO]:
        blob = self._generation(bucket, name, generation)
        uri = f"gs://{bucket}/{name}#{generation}"
        with blob.open("rb", chunk_size=READ_CHUNK_BYTES, raw_download=True) as stream:
            if start:
                stream.seek(start)
            yield _Download(stream, uri)  # type: ignore[misc]

    def mark(self, bucket: str, name: str, generation: int, metadata: dict[str, str]) -> None:
        blob = self._client.bucket(bucket).blob(name, generation=generation)
        blob.metadata = metadata
        blob.patch(if_generation_match=generation)

    def put(self, bucket: str, name: str, body: bytes, content_type: str) -> None:
        self._client.bucket(bucket).blob(name).upload_from_string(body, content_type=content_type)

    def continue_later(self, bucket: str, name: str, generation: int) -> None:
        """A notification of the same shape as the bucket's own, so ingest_file reads it alike."""
        future = self._publisher.publish(self._tasks_topic, b"", eventType="OBJECT_FINALIZE", bucketId=bucket,
                                         objectId=name, objectGeneration=str(generation), ingestContinuation="true")
        future.result(timeout=self._publish_timeout_s)
