"""Event ingestion core: decode → validate → consent → enrich → write → dead-letter.

The Cloud Functions entry points in ``main.py`` are thin wrappers over :mod:`ingest.pipeline`.
"""
