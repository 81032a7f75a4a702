"""All runtime configuration: one table of settings, each read from one environment variable.

``Settings`` is that table. Every field declares its variable, default, rule and meaning with
``setting(...)`` (``docs/settings.md`` is generated from it); ``from_env`` reads only the
declared variables, and validation runs whenever a ``Settings`` is built (``__post_init__``), so
a bad value fails when an instance starts (``functions/main.py`` builds them at import), naming
its variable, and never as an error on every record later. A variable that looks like a
misspelling of a declared one (``FILE_BATCH_LINE``) is refused too, rather than silently ignored.
Secrets never appear in ``repr`` or in error messages.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_PACKAGE_DIR = Path(__file__).resolve().parent

Check = Callable[[Any], str | None]
"""A rule on a parsed value: None when it holds, else what is wrong, in words."""


class ConfigError(ValueError):
    """One or more settings are invalid; the message names every variable at fault."""


def _default_schemas_dir() -> Path:
    """The bundle ships ``schemas/`` beside ``main.py``; a checkout has it one level up."""
    bundled = _PACKAGE_DIR.parent / "schemas"
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent.parent / "schemas"


def setting(variable: str, default: Any = None, *, doc: str, check: Check | None = None,
            aliases: tuple[str, ...] = (), secret: bool = False,
            default_factory: Callable[[], Any] | None = None) -> Any:
    """A field of ``Settings`` read from ``variable`` (or, when unset, the first alias set);
    ``doc`` is what ``docs/settings.md`` says of it."""
    metadata = {"variable": variable, "check": check, "aliases": aliases, "secret": secret, "doc": doc}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata, repr=not secret)
    return field(default=default, metadata=metadata, repr=not secret)


def between(low: float, high: float) -> Check:
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"
    check.__doc__ = f"{low:g} to {high:g}"
    return check


def _not_empty(value: str) -> str | None:
    """not empty"""
    return None if value.strip() else "must not be empty"


def _time_zone(value: str) -> str | None:
    """an IANA time zone"""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone (e.g. Europe/Paris)"
    return None


_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


def _dataset(value: str) -> str | None:
    """a dataset id"""
    return None if _DATASET.fullmatch(value) else "must be a BigQuery dataset id (letters, digits, underscores)"


def _directory(value: Path) -> str | None:
    """an existing directory"""
    return None if value.is_dir() else "is not a directory"


def _hosts(value: frozenset[str]) -> str | None:
    """host names, comma-separated"""
    bad = sorted(h for h in value if not _HOST.fullmatch(h))
    return f"holds {', '.join(bad)}: expected bare host names (no scheme, port or path)" if bad else None


def _http_endpoint(value: str) -> str | None:
    """empty, or http(s)://host:port"""
    return None if not value or re.fullmatch(r"https?://[^/\s]+/?", value) else "must be empty or http(s)://host:port"


def _grpc_endpoint(value: str) -> str | None:
    """empty, or host:port"""
    return None if not value or re.fullmatch(r"[^/\s:]+:\d+", value) else "must be empty or host:port"


def _write_path(value: str) -> str | None:
    """storage_write or insert_all"""
    return None if value in ("storage_write", "insert_all") else "must be storage_write or insert_all"


def _reference_uri(value: str) -> str | None:
    """empty, gs://bucket/object or a file"""
    if not value:
        return None
    if value.startswith("gs://"):
        bucket, _, name = value[len("gs://"):].partition("/")
        return None if bucket and name else "must be gs://bucket/object"
    return None if Path(value).is_file() else "is neither gs://bucket/object nor an existing file"


def _hmac_key(value: str) -> str | None:
    """empty, or 16+ characters"""
    return None if not value or len(value) >= 16 else "must be at least 16 characters"


def _bucket(value: str) -> str | None:
    """a bucket name"""
    return None if re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]", value) else "is not a bucket name"


def _log_level(value: str) -> str | None:
    """DEBUG, INFO, WARNING, ERROR"""
    return None if value in ("DEBUG", "INFO", "WARNING", "ERROR") else "must be DEBUG, INFO, WARNING or ERROR"


MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    project: str = setting("GCP_PROJECT", "local-dev", check=_not_empty, aliases=("GOOGLE_CLOUD_PROJECT",),
        doc="GCP project that owns the dataset.")
    dataset: str = setting("BQ_DATASET", "analytics", check=_dataset,
        doc="BigQuery dataset holding every contract table, ingestion_errors and ingestion_audit.")
    schemas_dir: Path = setting("SCHEMAS_DIR", default_factory=_default_schemas_dir, check=_directory,
        doc="Where the contracts live (bundled copy in a deployment, ``schemas/`` in a checkout).")
    events_topic: str = setting("EVENTS_TOPIC", "tracking-events", check=_not_empty,
        doc="Topic name recorded as the source of events when the CloudEvent does not carry it.")
    logs_topic: str = setting("LOGS_TOPIC", "backend-logs", check=_not_empty,
        doc="Topic name recorded as the source of logs when the CloudEvent does not carry it.")
    notifications_topic: str = setting("GCS_NOTIFICATION_TOPIC", "partner-drops-notifications", check=_not_empty,
        doc="Topic of the partner bucket's notifications.")
    time_zone: str = setting("TIME_ZONE", "Europe/Paris", check=_time_zone,
        doc="Zone in which event_date and partition_date are computed.")
    max_record_bytes: int = setting("MAX_RECORD_BYTES", 1_000_000, check=between(1024, 9_000_000),
        doc="A record larger than this is dead-lettered as oversized (BigQuery rows must stay small).")
    max_message_bytes: int = setting("MAX_MESSAGE_BYTES", 10 * MiB, check=between(64 * 1024, 256 * MiB),
        doc=("Cap on a message once decompressed (Pub/Sub itself caps a message at 10 MB). With "
             "MAX_MESSAGE_RECORDS it bounds what one message may cost in memory: beyond it the message is kept "
             "whole as one ``oversized_message`` error."))
    max_message_records: int = setting("MAX_MESSAGE_RECORDS", 10_000, check=between(1, 1_000_000),
        doc="Records one message may hold; more is one ``oversized_message`` error, not that many rows.")
    max_decompression_ratio: float = setting("MAX_DECOMPRESSION_RATIO", 100.0, check=between(1, 1032),
        doc=("Decompressed bytes per compressed byte a gzip message or file may reach (real event batches compress "
             "10–25×; zlib's ceiling is ~1 032×). Beyond it is a decompression bomb."))
    dead_letter_payload_bytes: int = setting("DEAD_LETTER_PAYLOAD_BYTES", 1_000_000, check=between(256, 5_000_000),
        doc="How much of an oversized raw payload the dead letter keeps (the rest is counted).")
    insert_batch_rows: int = setting("INSERT_BATCH_ROWS", 500, check=between(1, 50_000),
        doc="Rows per insertAll request (BigQuery recommends ~500, allows 50 000).")
    insert_batch_bytes: int = setting("INSERT_BATCH_BYTES", 8 * MiB, check=between(64 * 1024, 9_500_000),
        doc="Bytes per insertAll request, under BigQuery's 10 MB request limit.")
    bigquery_write_path: str = setting("BIGQUERY_WRITE_PATH", "storage_write", check=_write_path,
        doc="storage_write: the Storage Write API's _default streams over one gRPC channel (at-least-once; "
            "analysts read the deduplicated views). insert_all: insertAll with insertIds, for a project where the "
            "Storage Write API cannot be used (not enabled, no bigquery.tables.updateData on _default). See "
            "docs/write-path.md.")
    bigquery_timeout_s: float = setting("BIGQUERY_TIMEOUT_S", 30.0, check=between(0.1, 600),
        doc=("Deadline of the client's own retries before a failure is handed to Pub/Sub / Eventarc; on the "
             "storage_write path, how long one append waits for its answer."))
    bigquery_stream_max_age_s: float = setting("BIGQUERY_STREAM_MAX_AGE_S", 60.0, check=between(1, 3600),
        doc=("storage_write: how long an instance reuses one table's AppendRows stream (one Storage Write API "
             "connection, counted against the project's quota of concurrent connections) before opening a fresh "
             "one. An idle instance holds none past this plus BIGQUERY_TIMEOUT_S."))
    file_batch_lines: int = setting("FILE_BATCH_LINES", 500, check=between(1, 100_000),
        doc="Lines of a dropped file processed and written together.")
    late_after_hours: float = setting("LATE_AFTER_HOURS", 72.0, check=between(0.001, 24 * 366),
        doc="Events older than this when received are flagged is_late (they still land).")
    site_hosts: frozenset[str] = setting(
        "SITE_HOSTS", frozenset({"passculture.pro", "pro.passculture.app"}), check=_hosts,
        doc="Hosts of the tracked site, comma-separated: a referrer on them is internal navigation.")
    environment: str = setting("ENVIRONMENT", "local", check=_not_empty,
        doc="Fallback for pro_log.environement when the log entry carries no namespace label.")
    pseudonymisation_key: str = setting("PSEUDONYMISATION_KEY", "", check=_hmac_key, secret=True,
        doc=("HMAC key for pseudonymised ids (Secret Manager in production); required by a policy that "
             "pseudonymises (checked at start-up)."))
    reference_data_uri: str = setting("REFERENCE_DATA_URI", "", check=_reference_uri,
        doc="Optional gs://bucket/path (or local path) of the offerer/venue reference snapshot (NDJSON).")
    reference_ttl_s: float = setting("REFERENCE_TTL_S", 600.0, check=between(0, 86_400),
        doc="How long a loaded reference snapshot is used before it is read again.")
    bigquery_emulator_host: str = setting("BIGQUERY_EMULATOR_HOST", "", check=_http_endpoint,
        doc="http://host:port of a local BigQuery emulator; empty in production.")
    bigquery_grpc_emulator_host: str = setting("BIGQUERY_GRPC_EMULATOR_HOST", "", check=_grpc_endpoint,
        doc="host:port of the emulator's Storage Write API (gRPC, plaintext); empty in production.")
    code_version: str = setting("CODE_VERSION", "dev", aliases=("K_REVISION",),
        doc="Recorded in ingestion_errors and ingestion_audit, to tie a row to the code that made it.")
    state_bucket: str = setting("STATE_BUCKET", "ingest-state", check=_bucket,
        doc=("Bucket of the pipeline's own state: the ledger of every partner file generation (progress, lease, "
             "outcome) and the index of file contents already ingested. Not the partner bucket."))
    file_tasks_topic: str = setting("FILE_TASKS_TOPIC", "file-tasks", check=_not_empty,
        doc=("Topic a file invocation publishes its continuation to when the file outlives "
             "FILE_TIME_BUDGET_S; its subscription feeds ingest_file again."))
    file_time_budget_s: float = setting("FILE_TIME_BUDGET_S", 420.0, check=between(0.01, 3600),
        doc=("Seconds one invocation spends on a file before it records its progress and hands the rest to a "
             "continuation (keep it under the function timeout, 540 s at most for event-driven functions)."))
    file_lease_s: float = setting("FILE_LEASE_S", 120.0, check=between(0.1, 3600),
        doc=("How long a file invocation's claim on a file lasts without news from it: another invocation "
             "takes the file over (and resumes it) only after that."))
    file_checkpoint_s: float = setting("FILE_CHECKPOINT_S", 10.0, check=between(0, 600),
        doc=("Seconds between two records of a file's progress in the ledger (and progress log lines); each "
             "renews the lease, so keep it well under FILE_LEASE_S."))
    reingest_identical_files: bool = setting("REINGEST_IDENTICAL_FILES", False,
        doc=("Ingest a re-uploaded file whose content was already ingested (same MD5) instead of skipping it. "
             "One file can ask for it with the object metadata ingest-reprocess=true."))
    function_target: str = setting("FUNCTION_TARGET", "",
        doc=("The entry point this instance serves (set by Cloud Run functions): only the consent policies of "
             "the contracts it ingests are checked at start-up. Empty: every contract's."))
    log_level: str = setting("LOG_LEVEL", "INFO", check=_log_level,
        doc="Least severity written to the logs: DEBUG, INFO, WARNING or ERROR.")

    def __post_init__(self) -> None:
        problems = []
        for spec in fields(self):
            check = spec.metadata["check"]
            value = getattr(self, spec.name)
            problem = check(value) if check is not None else None
            if problem:
                problems.append(_describe(spec.metadata, value, problem))
        if self.file_checkpoint_s * 2 > self.file_lease_s:
            problems.append(f"FILE_CHECKPOINT_S={self.file_checkpoint_s:g} must be at most half of "
                            f"FILE_LEASE_S={self.file_lease_s:g}, or a live file looks abandoned")
        if self.max_message_bytes < self.max_record_bytes:
            problems.append(f"MAX_MESSAGE_BYTES={self.max_message_bytes} must be at least "
                            f"MAX_RECORD_BYTES={self.max_record_bytes}")
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The declared variables that are set and not blank override the defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        problems = _misspelt(env)
        for spec in fields(cls):
            meta = spec.metadata
            name = next((n for n in (meta["variable"], *meta["aliases"]) if env.get(n, "").strip()), None)
            if name is None:
                continue
            raw = env[name].strip()
            try:
                values[spec.name] = _PARSERS[str(spec.type)](raw)
            except ValueError:
                problems.append(_describe({**meta, "variable": name}, raw, f"is not {_KIND[str(spec.type)]}"))
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return cls(**values)

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable read, in declaration order (aliases included)."""
        return [name for spec in fields(cls) for name in (spec.metadata["variable"], *spec.metadata["aliases"])]


def _describe(meta: Mapping[str, Any], value: Any, problem: str) -> str:
    if meta["secret"]:
        shown = "(secret)"
    elif isinstance(value, frozenset):
        shown = repr(",".join(sorted(value)))
    else:
        shown = repr(str(value) if isinstance(value, Path) else value)
    return f"{meta['variable']}={shown} {problem}"


def _hosts_list(raw: str) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str, "int": lambda raw: int(raw.replace("_", "")), "float": float, "Path": Path,
    "frozenset[str]": _hosts_list, "bool": _boolean,
}
_KIND = {"str": "text", "int": "an integer", "float": "a number", "Path": "a path", "frozenset[str]": "a list",
         "bool": "true or false"}

_NOT_OURS = frozenset({"K_SERVICE", "K_CONFIGURATION", "PORT", "FUNCTION_SIGNATURE_TYPE"})
"""Variables of the Cloud Run functions runtime that resemble none of ours but are never a typo."""


def _misspelt(env: Mapping[str, str]) -> list[str]:
    """Variables that are not ours but look like a misspelling of one (``TIMEZONE``)."""
    ours = Settings.variables()
    problems = []
    for name in env:
        if name in ours or name in _NOT_OURS or not re.fullmatch(r"[A-Z][A-Z0-9_]{3,}", name):
            continue
        close = difflib.get_close_matches(name, ours, n=1, cutoff=0.85)
        if close:
            problems.append(f"{name} is not a setting; did you mean {close[0]}?")
    return problems


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Process-wide settings, read once on first use (``functions/main.py`` uses them at import,
    so a deployment with a bad value fails to start instead of failing every record)."""
    return Settings.from_env()
