"""All runtime configuration, read from environment variables in one place.

Nothing reads ``os.environ`` elsewhere, so a test can build a ``Settings`` by hand and the
defaults below are the documentation of what can be tuned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping

_PACKAGE_DIR = Path(__file__).resolve().parent


def _default_schemas_dir() -> Path:
    """The bundle ships ``schemas/`` beside ``main.py``; a checkout has it one level up."""
    bundled = _PACKAGE_DIR.parent / "schemas"
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent.parent / "schemas"


@dataclass(frozen=True)
class Settings:
    project: str = "local-dev"
    """GCP project that owns the dataset."""
    dataset: str = "analytics"
    """BigQuery dataset holding every contract table, ingestion_errors and ingestion_audit."""
    schemas_dir: Path = field(default_factory=_default_schemas_dir)
    """Where the contracts live (bundled copy in a deployment, ``schemas/`` in a checkout)."""
    events_topic: str = "tracking-events"
    """Topic name recorded as the source of events when the CloudEvent does not carry it."""
    logs_topic: str = "backend-logs"
    notifications_topic: str = "partner-drops-notifications"
    time_zone: str = "Europe/Paris"
    """Zone in which event_date and partition_date are computed."""
    max_record_bytes: int = 1_000_000
    """A record larger than this is dead-lettered as oversized (BigQuery rows must stay small)."""
    max_message_bytes: int = 64 * 1024 * 1024
    """Cap on a decompressed message or line, against gzip bombs."""
    dead_letter_payload_bytes: int = 1_000_000
    """How much of an oversized raw payload the dead letter keeps (the rest is counted)."""
    insert_batch_rows: int = 500
    """Rows per insertAll request (BigQuery recommends ~500)."""
    insert_batch_bytes: int = 8 * 1024 * 1024
    """Bytes per insertAll request, under BigQuery's 10 MB request limit."""
    bigquery_timeout_s: float = 30.0
    """Deadline of the client's own retries before a failure is handed to Pub/Sub / Eventarc."""
    file_batch_lines: int = 500
    """Lines of a dropped file processed and written together."""
    late_after_hours: float = 72.0
    """Events older than this when received are flagged is_late (they still land)."""
    site_hosts: frozenset[str] = frozenset({"passculture.pro", "pro.passculture.app"})
    """Hosts of the tracked site: a referrer on them is internal navigation, not a new origin."""
    environment: str = "local"
    """Fallback for pro_log.environement when the log entry carries no namespace label."""
    pseudonymisation_key: str = ""
    """HMAC key for pseudonymised ids (Secret Manager in production)."""
    reference_data_uri: str = ""
    """Optional gs://bucket/path (or local path) of the offerer/venue reference snapshot (NDJSON)."""
    reference_ttl_s: float = 600.0
    """How long a loaded reference snapshot is used before it is read again."""
    bigquery_emulator_host: str = ""
    """http://host:port of a local BigQuery emulator; empty in production."""
    code_version: str = "dev"
    """Recorded in ingestion_errors and ingestion_audit, to tie a row to the code that made it."""
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        defaults = cls()

        def get(name: str, default: str) -> str:
            value = env.get(name)
            return value if value not in (None, "") else default

        hosts = get("SITE_HOSTS", ",".join(sorted(defaults.site_hosts)))
        return cls(
            project=get("GCP_PROJECT", get("GOOGLE_CLOUD_PROJECT", defaults.project)),
            dataset=get("BQ_DATASET", defaults.dataset),
            schemas_dir=Path(get("SCHEMAS_DIR", str(defaults.schemas_dir))),
            events_topic=get("EVENTS_TOPIC", defaults.events_topic),
            logs_topic=get("LOGS_TOPIC", defaults.logs_topic),
            notifications_topic=get("GCS_NOTIFICATION_TOPIC", defaults.notifications_topic),
            time_zone=get("TIME_ZONE", defaults.time_zone),
            max_record_bytes=int(get("MAX_RECORD_BYTES", str(defaults.max_record_bytes))),
            max_message_bytes=int(get("MAX_MESSAGE_BYTES", str(defaults.max_message_bytes))),
            dead_letter_payload_bytes=int(
                get("DEAD_LETTER_PAYLOAD_BYTES", str(defaults.dead_letter_payload_bytes))
            ),
            insert_batch_rows=int(get("INSERT_BATCH_ROWS", str(defaults.insert_batch_rows))),
            insert_batch_bytes=int(get("INSERT_BATCH_BYTES", str(defaults.insert_batch_bytes))),
            bigquery_timeout_s=float(get("BIGQUERY_TIMEOUT_S", str(defaults.bigquery_timeout_s))),
            file_batch_lines=int(get("FILE_BATCH_LINES", str(defaults.file_batch_lines))),
            late_after_hours=float(get("LATE_AFTER_HOURS", str(defaults.late_after_hours))),
            site_hosts=frozenset(h.strip().lower() for h in hosts.split(",") if h.strip()),
            environment=get("ENVIRONMENT", defaults.environment),
            pseudonymisation_key=get("PSEUDONYMISATION_KEY", ""),
            reference_data_uri=get("REFERENCE_DATA_URI", ""),
            reference_ttl_s=float(get("REFERENCE_TTL_S", str(defaults.reference_ttl_s))),
            bigquery_emulator_host=get("BIGQUERY_EMULATOR_HOST", ""),
            code_version=get("CODE_VERSION", get("K_REVISION", defaults.code_version)),
            log_level=get("LOG_LEVEL", defaults.log_level),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Process-wide settings, read once on first use (never at import time)."""
    return Settings.from_env()
