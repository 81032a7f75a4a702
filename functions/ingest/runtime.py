"""Process-wide tuning of a function instance, applied once its long-lived objects exist."""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 10_000
"""Allocations between young-generation collections (CPython's default: 700). An instance handles
one message at a time and its records are freed by reference counting when the message is done,
so cycles are rare; at the default, collections cost ~1.5 µs per event of the record path
(gc.callbacks, ``pipeline_bench``'s events), about 4% of it."""


def settle_heap() -> None:
    """Freeze what lives as long as the process (modules, clients, policies), so collections never
    scan it again, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
