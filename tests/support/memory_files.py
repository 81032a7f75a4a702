"""In-memory ``FileStore`` for unit tests (integration tests use fake-gcs-server and the Pub/Sub
emulator). Like Cloud Storage it refuses a conditional write whose generation is stale, and it
can fail the way a download does: a connection that drops after some bytes, an object deleted
while it is read."""

from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import orjson

from ingest.files import ObjectInfo, ObjectMissing
from ingest.ledger import LedgerConflict


class MemoryDocuments:
    def __init__(self) -> None:
        self.documents: dict[str, tuple[bytes, int]] = {}
        self.writes = 0
        self._next = 1

    def load(self, key: str) -> tuple[dict[str, Any] | None, int]:
        stored = self.documents.get(key)
        return (None, 0) if stored is None else (orjson.loads(stored[0]), stored[1])

    def save(self, key: str, document: dict[str, Any], generation: int) -> int:
        current = self.documents.get(key, (b"", 0))[1]
        if current != generation:
            raise LedgerConflict(f"{key}: generation {current}, not {generation}")
        self._next += 1
        self.documents[key] = (orjson.dumps(document), self._next)
        self.writes += 1
        return self._next


class _FailingRead:
    def __init__(self, stream: BinaryIO, budget: int, error: Exception) -> None:
        self._stream = stream
        self._budget = budget
        self._error = error

    def read(self, size: int = -1) -> bytes:
        if self._budget <= 0:
            raise self._error
        chunk = self._stream.read(min(size, self._budget) if size > 0 else self._budget)
        self._budget -= len(chunk)
        return chunk


class MemoryFiles:
    def __init__(self) -> None:
        self.documents = MemoryDocuments()
        self.objects: dict[tuple[str, str, int], tuple[bytes, dict[str, str]]] = {}
        self.puts: dict[tuple[str, str], bytes] = {}
        self.continuations: list[tuple[str, str, int]] = []
        self.fail_reads: tuple[int, Exception] | None = None
        """(bytes, error): the next download fails with ``error`` after that many bytes."""
        self.opened: list[int] = []
        """Start offset of every download."""

    def drop(self, bucket: str, name: str, body: bytes, generation: int = 1,
             metadata: dict[str, str] | None = None) -> int:
        self.objects[(bucket, name, generation)] = (body, dict(metadata or {}))
        return generation

    def stat(self, bucket: str, name: str, generation: int) -> ObjectInfo:
        body, metadata = self._get(bucket, name, generation)
        return ObjectInfo(size=len(body), md5=hashlib.md5(body).hexdigest(), crc32c=None, metadata=dict(metadata))

    @contextmanager
    def open(self, bucket: str, name: str, generation: int, start: int = 0) -> Iterator[BinaryIO]:
        body, _ = self._get(bucket, name, generation)
        self.opened.append(start)
        stream: Any = io.BytesIO(body[start:])
        if self.fail_reads is not None:
            budget, error = self.fail_reads
            self.fail_reads = None
            stream = _FailingRead(stream, budget, error)
        yield stream

    def mark(self, bucket: str, name: str, generation: int, metadata: dict[str, str]) -> None:
        body, current = self._get(bucket, name, generation)
        self.objects[(bucket, name, generation)] = (body, {**current, **metadata})

    def metadata(self, bucket: str, name: str, generation: int = 1) -> dict[str, str]:
        return self._get(bucket, name, generation)[1]

    def put(self, bucket: str, name: str, body: bytes, content_type: str) -> None:
        self.puts[(bucket, name)] = body

    def continue_later(self, bucket: str, name: str, generation: int) -> None:
        self.continuations.append((bucket, name, generation))

    def _get(self, bucket: str, name: str, generation: int) -> tuple[bytes, dict[str, str]]:
        try:
            return self.objects[(bucket, name, generation)]
        except KeyError:
            raise ObjectMissing(f"gs://{bucket}/{name}#{generation} no longer exists") from None


def vanishing(files: MemoryFiles, after: int) -> None:
    """The next download loses its object after ``after`` bytes."""
    files.fail_reads = (after, ObjectMissing("deleted while it was read"))


def ingest(pipe: Any, name: str, body: bytes | None = None, *, bucket: str = "b", generation: int = 1,
           files: MemoryFiles | None = None, invocation: str = "invocation-1",
           metadata: dict[str, str] | None = None) -> Any:
    """Drop ``body`` (unless already there) and run ingest_file on it, as one invocation would."""
    files = files if files is not None else MemoryFiles()
    if body is not None:
        files.drop(bucket, name, body, generation, metadata)
    return pipe.ingest_object(function="ingest_file", bucket=bucket, name=name, generation=generation,
                              metadata={"name": name}, files=files, invocation=invocation)
