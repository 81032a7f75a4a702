"""Per-contract mapping of a validated record to its table row (enrichment included)."""
