"""The one gzip reader, for messages and files alike.

``zlib`` inflates; this module adds what a hostile or broken input needs: every member of a
multi-member stream (``cat a.gz b.gz`` is valid gzip, and one ``decompressobj`` stops at the end
of the first), a bound on what the input may expand to, and a typed ``GzipError`` for a stream
that is truncated, corrupt or followed by garbage — raised only after every byte that could be
inflated has been yielded, so a reader loses nothing that was readable.

Exceptions of the underlying ``read`` (a network error while downloading) pass through
untouched: they are transient, not a property of the data.
"""

from __future__ import annotations

import zlib
from typing import Callable, Iterator

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 31
CHUNK_BYTES = 256 * 1024
"""Compressed bytes read, and inflated bytes yielded, at a time."""
_SALVAGE_STEP = 256
RATIO_SLACK_BYTES = 1024 * 1024
"""A streamed file may run ahead of its ratio bound by this much: its bound is checked as the
compressed bytes arrive, and a file's first lines often repeat more than the whole does."""

Read = Callable[[int], bytes]


class GzipError(Exception):
    """The gzip stream cannot be read further; everything before it was yielded."""


class GzipLimitExceeded(GzipError):
    """The stream expands beyond its bound (a decompression bomb, or a limit set too low)."""


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


def inflate(read: Read, *, max_bytes: int | None = None, max_ratio: float | None = None) -> Iterator[bytes]:
    """Inflated chunks of the gzip stream ``read`` returns, member after member.

    ``max_bytes`` bounds the total output; ``max_ratio`` the output per compressed byte read so
    far (plus ``RATIO_SLACK_BYTES``), for a stream whose size is not known up front. Zero padding
    after the last member is ignored, as gzip(1) does; anything else after a member is garbage.
    """
    consumed = produced = 0
    pending = b""
    while True:
        inflater = zlib.decompressobj(wbits=_GZIP_WBITS)
        data = pending
        started = False
        while not inflater.eof:
            if not data:
                data = read(CHUNK_BYTES)
                consumed += len(data)
                if not data:
                    if started:
                        raise GzipError(f"the stream ends inside a gzip member after {consumed} compressed bytes "
                                        "(truncated)")
                    return
            started = True
            before = inflater.copy()
            try:
                out = inflater.decompress(data, CHUNK_BYTES)
            except zlib.error as error:
                yield from _salvage(before, data)
                raise GzipError(f"corrupt gzip data within the first {consumed} compressed bytes: {error}") from None
            data = inflater.unconsumed_tail
            produced += len(out)
            if max_bytes is not None and produced > max_bytes:
                raise GzipLimitExceeded(f"decompresses to more than {max_bytes} bytes")
            if max_ratio is not None and produced > max_ratio * consumed + RATIO_SLACK_BYTES:
                raise GzipLimitExceeded(f"expands more than {max_ratio:g} times ({produced} bytes out of the first "
                                        f"{consumed} compressed)")
            if out:
                yield out
        pending = inflater.unused_data + data
        while len(pending) < len(GZIP_MAGIC) and (more := read(CHUNK_BYTES)):
            consumed += len(more)
            pending += more
        if not pending:
            return
        if not is_gzip(pending):
            if not pending.strip(b"\0") and not _more_than_zeros(read):
                return
            raise GzipError(f"trailing garbage after a gzip member, at compressed byte {consumed - len(pending)}")


def _salvage(inflater: zlib._Decompress, data: bytes) -> Iterator[bytes]:
    """What a chunk holds before its corruption: fed again in small steps, up to the failing one
    (at most one chunk's worth of output, as for any other step)."""
    left = CHUNK_BYTES
    for start in range(0, len(data), _SALVAGE_STEP):
        try:
            out = inflater.decompress(data[start:start + _SALVAGE_STEP], left)
        except zlib.error:
            return
        left -= len(out)
        if out:
            yield out
        if left <= 0:
            return


def _more_than_zeros(read: Read) -> bool:
    while chunk := read(CHUNK_BYTES):
        if chunk.strip(b"\0"):
            return True
    return False


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """A whole gzip message, every member, at most ``max_bytes`` of output."""
    view = memoryview(data)
    offset = 0

    def read(size: int) -> bytes:
        nonlocal offset
        chunk = view[offset:offset + size].tobytes()
        offset += len(chunk)
        return chunk

    return b"".join(inflate(read, max_bytes=max_bytes))
