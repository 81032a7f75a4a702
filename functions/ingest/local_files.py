"""Files on this machine behind ``files.FileStore``, for ``ingest validate`` and ``ingest replay``.

A local file has no bucket or generation; it is given bucket ``local``, its absolute path as
object name and, as generation, a number taken from its content's SHA-256 — so replaying the
same content again gives the same record positions (and ids), and the dead letter still says
exactly which file and line a record came from. The ledger lives as long as the command.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from ingest.files import ObjectInfo, ObjectMissing
from ingest.ledger import InMemoryDocuments

LOCAL_BUCKET = "local"


def local_generation(path: Path) -> int:
    """The first 60 bits of the file's SHA-256: the same content, the same "generation"."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return int(digest.hexdigest()[:15], 16)


class LocalFiles:
    def __init__(self) -> None:
        self.documents = InMemoryDocuments()

    def stat(self, bucket: str, name: str, generation: int) -> ObjectInfo:
        path = Path(name)
        if not path.is_file():
            raise ObjectMissing(f"{name} does not exist")
        return ObjectInfo(size=path.stat().st_size, md5=None, crc32c=None, metadata={})

    @contextmanager
    def open(self, bucket: str, name: str, generation: int, start: int = 0) -> Iterator[BinaryIO]:
        with Path(name).open("rb") as stream:
            stream.seek(start)
            yield stream

    def mark(self, bucket: str, name: str, generation: int, metadata: dict[str, str]) -> None:
        """A local file is not marked: the command prints how it went."""

    def put(self, bucket: str, name: str, body: bytes, content_type: str) -> None:
        """No report object either: the command prints the errors."""

    def continue_later(self, bucket: str, name: str, generation: int) -> None:
        raise RuntimeError("a local replay has no time budget to run out of")
