"""Caches of the enrichment rules, bounded in memory and not only in entries.

An LRU cache bounded by entry count is bounded in bytes only if its keys are: 20 000 distinct
8 kB URLs in caches of 16 384 entries held ~600 MB. Here a key longer than ``max_key_chars`` is
computed without being cached — such values are one-offs (long click ids, generated URLs) that a
cache would not serve again anyway — so one cache holds at most ``maxsize`` keys of at most
``max_key_chars`` characters (values are derived from their key and no longer than it), and
``benchmarks/memory_bench.py`` measures the worst case of all of them together.

A cache is a dict whose ``__missing__`` computes the value: a hit is one dict lookup in C, where
``functools.lru_cache`` behind a Python wrapper (the length check on every call) cost ~6× more, on
inputs — page URLs with click ids — where every event makes several lookups. The price: when full,
it is emptied rather than its least recently used key evicted; the few hot keys are then computed
once more, which on such inputs costs less than what an LRU's bookkeeping did on every call.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, TypeVar

R = TypeVar("R")

MAX_KEY_CHARS = 512
"""Longest key cached: most page URLs, referrers and user agents are far shorter."""


def tuple_chars(key: tuple[str | None, ...]) -> int:
    """Characters of the strings in a tuple of strings and Nones (an ``Origin``), counted in C."""
    return sum(map(len, filter(None, key)))


class CacheInfo(NamedTuple):
    misses: int
    maxsize: int
    currsize: int


class BoundedCache(dict[Any, Any]):
    """``function(key)``, computed on the first call with ``key`` and kept unless ``size(key)`` is
    above ``max_key_chars``; called like the function (``cache(key)``)."""

    __slots__ = ("__wrapped__", "_maxsize", "_max_key_chars", "_size", "misses")

    def __init__(self, function: Callable[[Any], Any], maxsize: int, max_key_chars: int,
                 size: Callable[[Any], int]) -> None:
        super().__init__()
        self.__wrapped__ = function
        self._maxsize, self._max_key_chars, self._size = maxsize, max_key_chars, size
        self.misses = 0

    def __missing__(self, key: Any) -> Any:
        value = self.__wrapped__(key)
        self.misses += 1
        if key is None or self._size(key) <= self._max_key_chars:
            if len(self) >= self._maxsize:
                self.clear()
            self[key] = value
        return value

    __call__ = dict.__getitem__
    """A hit never runs Python code: the lookup is the dict's own."""

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.misses, self._maxsize, len(self))

    def cache_clear(self) -> None:
        self.clear()

    def __repr__(self) -> str:  # not the whole content, as dict's would
        return f"<BoundedCache of {self.__wrapped__!r}: {len(self)}/{self._maxsize}>"


def bounded_cache(maxsize: int, max_key_chars: int = MAX_KEY_CHARS,
                  size: Callable[[Any], int] = len) -> Callable[[Callable[[Any], R]], Callable[[Any], R]]:
    """A ``BoundedCache`` of a one-argument function (a decorator)."""
    def decorate(function: Callable[[Any], R]) -> Callable[[Any], R]:
        return BoundedCache(function, maxsize, max_key_chars, size)
    return decorate
