"""The ledger of partner files: exactly once per object generation, whatever the platform does.

One JSON document per object generation, in the state bucket (``STATE_BUCKET``), says whether
the file is being read (by whom, until when), how far it got (line, byte offset and the counts so
far) and how it ended. Every write is a compare-and-set on the document's generation
(``ifGenerationMatch``), so of two invocations racing for one file exactly one holds it:

- a duplicate notification, or the same one redelivered an hour later (long after BigQuery's
  insertId window), finds the file ``done`` and writes nothing;
- a second invocation while the first is alive finds a live lease and is retried later;
- an invocation that dies (killed, timed out) stops renewing its lease; the next one takes the
  file over and resumes from the last checkpoint instead of line 1;
- a file that outlives one invocation's time budget is checkpointed and continued by another.

Why a document in Cloud Storage rather than a table or object metadata: BigQuery DML cannot
update rows still in the streaming buffer and is rate-limited per table; metadata on the partner's
object can be changed by the partner and notifies on every change; a state bucket gives atomic
conditional writes, costs a few cents per million files, needs no new service, and has a faithful
emulator here (fake-gcs-server honours ``ifGenerationMatch``).

An identical re-upload is recognised by its content (MD5, else CRC32C and size): an index
document per content, registered when a file is done, points at the generation that was
ingested, and the new generation is skipped (and recorded) unless asked otherwise.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, Callable, Protocol

from ingest.sinks.audit import Counts


class LedgerConflict(Exception):
    """The document changed since it was read: another invocation wrote it."""


class DocumentStore(Protocol):
    """Small JSON documents with compare-and-set writes (``ingest.clients.GcsDocuments``)."""

    def load(self, key: str) -> tuple[dict[str, Any] | None, int]:
        """(document, generation), or (None, 0) when there is none."""
        ...

    def save(self, key: str, document: dict[str, Any], generation: int) -> int:
        """Write if the stored generation is still ``generation`` (0: only if absent); the new
        generation. Raises ``LedgerConflict`` otherwise."""
        ...


class Status(StrEnum):
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    """An identical content was already ingested from another generation."""


@dataclass
class Progress:
    """How far a file got; what a taking-over invocation resumes from."""

    line: int = 0
    """Last physical line handled (rows written, errors dead-lettered)."""
    offset: int = 0
    """Bytes of the (inflated) stream consumed, up to the end of that line."""
    counts: Counts = field(default_factory=Counts)
    started_at: str = ""
    """When the first invocation started on the file (ISO 8601, UTC)."""
    invocations: int = 0
    gzip: bool = False
    """Whether the object is gzip: resuming one means inflating again from its start."""
    errors: list[dict[str, Any]] = field(default_factory=list)
    """The first failures over every invocation, for the partner's report."""
    header: list[str] | None = None
    """A CSV file's column names, read once from its first record."""
    json_array: bool | None = None
    """Whether a ``.json`` file is one JSON array (else NDJSON), told by its first character."""


@dataclass
class Entry:
    status: Status
    owner: str
    lease_until: float
    progress: Progress
    content_key: str | None = None
    duplicate_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Entry:
        progress = dict(document["progress"])
        progress["counts"] = Counts(**progress["counts"])
        return cls(**{**document, "status": Status(document["status"]), "progress": Progress(**progress)})


@dataclass
class Busy:
    """Another invocation holds the file (its lease is alive): try again later."""

    owner: str
    lease_until: float


@dataclass
class Finished:
    """The file was already done or skipped: nothing to do."""

    entry: Entry


def ledger_key(bucket: str, name: str, generation: int) -> str:
    return f"ledger/{bucket}/{name}#{generation}.json"


def content_key(bucket: str, contract: str, md5: str | None, crc32c: str | None, size: int) -> str | None:
    """Same bucket, contract and content → same key (None when the object has no checksum)."""
    if md5:
        return f"contents/{bucket}/{contract}/md5-{md5}"
    if crc32c:
        return f"contents/{bucket}/{contract}/crc32c-{crc32c}-{size}"
    return None


class Claim:
    """One invocation's hold on one file generation; every write renews or ends it."""

    def __init__(self, store: DocumentStore, key: str, entry: Entry, generation: int, lease_s: float,
                 clock: Callable[[], float]) -> None:
        self._store = store
        self._key = key
        self.entry = entry
        self._generation = generation
        self._lease_s = lease_s
        self._clock = clock

    @property
    def progress(self) -> Progress:
        return self.entry.progress

    def checkpoint(self, progress: Progress) -> None:
        """Record progress and renew the lease; ``LedgerConflict`` when the file was taken over."""
        self._write(Status.RUNNING, progress, self._clock() + self._lease_s)

    def hand_over(self, progress: Progress) -> None:
        """Record progress and let go at once, so the continuation can take the file right away."""
        self._write(Status.RUNNING, progress, 0.0)

    def finish(self, progress: Progress, status: Status = Status.DONE, duplicate_of: str | None = None) -> None:
        self.entry.duplicate_of = duplicate_of
        self._write(status, progress, 0.0)

    def _write(self, status: Status, progress: Progress, lease_until: float) -> None:
        entry = Entry(status, self.entry.owner, lease_until, progress, self.entry.content_key,
                      self.entry.duplicate_of)
        self._generation = self._store.save(self._key, entry.to_json(), self._generation)
        self.entry = entry


def claim(store: DocumentStore, key: str, owner: str, lease_s: float, content: str | None,
          clock: Callable[[], float], started_at: datetime) -> Claim | Busy | Finished:
    """Take the file for ``owner``: a new file starts from line 1, an abandoned one (lease
    expired) resumes where it was, a live one is ``Busy``, a finished one ``Finished``."""
    document, generation = store.load(key)
    now = clock()
    if document is None:
        progress = Progress(started_at=started_at.astimezone(timezone.utc).isoformat())
        entry = Entry(Status.RUNNING, owner, now + lease_s, progress, content)
    else:
        previous = Entry.from_json(document)
        if previous.status is not Status.RUNNING:
            return Finished(previous)
        if previous.lease_until > now and previous.owner != owner:
            return Busy(previous.owner, previous.lease_until)
        entry = Entry(Status.RUNNING, owner, now + lease_s, previous.progress, previous.content_key)
    entry.progress.invocations += 1
    try:
        generation = store.save(key, entry.to_json(), generation)
    except LedgerConflict:
        document, _ = store.load(key)
        if document is not None and Entry.from_json(document).status is not Status.RUNNING:
            return Finished(Entry.from_json(document))
        return Busy("another invocation", now + lease_s)
    return Claim(store, key, entry, generation, lease_s, clock)


def already_ingested(store: DocumentStore, content: str | None, source: str) -> str | None:
    """The other generation this content was ingested from, if any."""
    if content is None:
        return None
    document, _ = store.load(content)
    if document is None or document.get("source") == source:
        return None
    return str(document["source"])


def register_content(store: DocumentStore, content: str | None, source: str) -> None:
    """Remember that ``source`` holds this content (the first generation to finish wins)."""
    if content is None:
        return
    try:
        store.save(content, {"source": source}, 0)
    except LedgerConflict:
        pass


def reopen(store: DocumentStore, key: str) -> None:
    """Forget how a file ended, so it is read again from line 1 (``ingest replay --force``)."""
    document, generation = store.load(key)
    if document is None:
        return
    entry = Entry.from_json(document)
    if entry.status is Status.RUNNING and entry.lease_until > time.time():
        raise LedgerConflict(f"{key} is being ingested right now; replay it once that is done")
    fresh = Entry(Status.RUNNING, "", 0.0, Progress(started_at=entry.progress.started_at,
                                                    invocations=entry.progress.invocations), entry.content_key)
    store.save(key, fresh.to_json(), generation)


class InMemoryDocuments:
    """A ``DocumentStore`` that lives as long as the process: the ledger of a one-off local run."""

    def __init__(self) -> None:
        self._documents: dict[str, tuple[dict[str, Any], int]] = {}

    def load(self, key: str) -> tuple[dict[str, Any] | None, int]:
        document, generation = self._documents.get(key, (None, 0))
        return (dict(document) if document is not None else None), generation

    def save(self, key: str, document: dict[str, Any], generation: int) -> int:
        if self._documents.get(key, (None, 0))[1] != generation:
            raise LedgerConflict(f"{key} changed since generation {generation}")
        self._documents[key] = (document, generation + 1)
        return generation + 1
