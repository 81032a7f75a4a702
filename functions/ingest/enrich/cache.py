"""Caches of the enrichment rules, bounded in memory and not only in entries.

An LRU cache bounded by entry count is bounded in bytes only if its keys are: 20 000 distinct
8 kB URLs in caches of 16 384 entries held ~600 MB. Here a key longer than ``max_key_chars`` is
computed without being cached — such values are one-offs (long click ids, generated URLs) that a
cache would not serve again anyway — so one cache holds at most ``maxsize`` keys of at most
``max_key_chars`` characters (values are derived from their key and no longer than it), and
``benchmarks/memory_bench.py`` measures the worst case of all of them together.
"""

from __future__ import annotations

from functools import lru_cache, wraps
from typing import Any, Callable, TypeVar

R = TypeVar("R")

MAX_KEY_CHARS = 512
"""Longest key cached: most page URLs, referrers and user agents are far shorter."""


def tuple_chars(key: tuple[str | None, ...]) -> int:
    """Characters of the strings in a tuple of strings and Nones (an ``Origin``), counted in C."""
    return sum(map(len, filter(None, key)))


def bounded_cache(maxsize: int, max_key_chars: int = MAX_KEY_CHARS,
                  size: Callable[[Any], int] = len) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``functools.lru_cache(maxsize)`` on the first argument (and the others), except when the
    first argument's ``size`` is above ``max_key_chars``: then the call is not cached."""
    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        cached = lru_cache(maxsize=maxsize)(function)

        @wraps(function)
        def call(key: Any, *rest: Any) -> R:
            if key is not None and size(key) > max_key_chars:
                return function(key, *rest)
            return cached(key, *rest)

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call
    return decorate
