"""What the analytics dataset holds, discovered from ``schemas/``, with each object's columns and SQL.

- a **table** per ``schemas/<name>/table.json`` (columns in ``bigquery.json``);
- a **deduplicated view** ``<table>_deduplicated`` per table whose ``table.json`` declares an
  ``identity`` (the column that identifies a record across deliveries: ``row_id``, or
  ``audit_id`` and ``error_id`` for the audit and the dead letter), from the one template
  ``schemas/deduplicated_view.sql``;
- a **view** per ``schemas/<name>/view.json`` (query in ``view.sql`` beside it, columns those of
  the object it reads first plus the ones it declares);
- the **activity build**, ``schemas/user_activity/build.sql``.

SQL files are templates with ``${...}`` placeholders, filled here for the local stack and the tests
and by Terraform's ``templatefile()`` in production (infra/analyst.tf), from the same values:
``SqlSettings.variables()`` names them all. Columns are never listed in code: they come from the
schema files, so the generated docs and the views cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import TopologicalSorter
from pathlib import Path
from string import Template
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest import contracts

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DEDUPLICATED_TEMPLATE = "deduplicated_view.sql"
DEFAULT_COPIES_BY = ("ingested_at", "ingestion_source")
"""How a deduplicated view orders the copies of a row_id unless table.json says otherwise."""
ACTIVITY_BUILD = Path("user_activity") / "build.sql"
BOTS_FILE = Path("pro_event_humans") / "bots.json"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


class SettingsError(ValueError):
    """A setting of the analyst layer is missing or invalid; the message names its variable."""


@dataclass(frozen=True)
class BotList:
    """schemas/pro_event_humans/bots.json: what the user agent parser does not flag as a bot."""

    user_web_browser: tuple[str, ...] = ()
    user_pseudo_id: tuple[str, ...] = ()

    @classmethod
    def load(cls, schemas_dir: Path = SCHEMAS) -> BotList:
        raw = json.loads((schemas_dir / BOTS_FILE).read_text(encoding="utf-8"))
        return cls(user_web_browser=tuple(raw["user_web_browser"]), user_pseudo_id=tuple(raw["user_pseudo_id"]))


@dataclass(frozen=True)
class SqlSettings:
    """The values the SQL templates take (Terraform passes the same, from its variables)."""

    project: str
    dataset: str
    time_zone: str = "Europe/Paris"
    """Zone of activity_date and of the build window (the functions' TIME_ZONE)."""
    inactivity_minutes: int = 30
    """Minutes without an event after which the next event starts a new activity (seed 002: 30)."""
    lookback_days: int = 3
    """Days before the run's date whose activities each build recomputes (late events land there)."""
    bots: BotList = field(default_factory=BotList.load)

    def __post_init__(self) -> None:
        if not _PROJECT.match(self.project):
            raise SettingsError(f"GCP_PROJECT={self.project!r} is not a project id")
        if not _NAME.match(self.dataset):
            raise SettingsError(f"BQ_DATASET={self.dataset!r} is not a dataset name")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"TIME_ZONE={self.time_zone!r} is not an IANA time zone") from None
        if not 1 <= self.inactivity_minutes <= 1440:
            raise SettingsError(f"ACTIVITY_INACTIVITY_MINUTES={self.inactivity_minutes} must be 1 to 1440")
        if not 1 <= self.lookback_days <= 60:
            raise SettingsError(f"ACTIVITY_LOOKBACK_DAYS={self.lookback_days} must be 1 to 60")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SqlSettings:
        env = os.environ if env is None else env

        def integer(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not an integer") from None

        return cls(project=env.get("GCP_PROJECT", "").strip() or "local-dev",
                   dataset=env.get("BQ_DATASET", "").strip() or "analytics",
                   time_zone=env.get("TIME_ZONE", "").strip() or "Europe/Paris",
                   inactivity_minutes=integer("ACTIVITY_INACTIVITY_MINUTES", 30),
                   lookback_days=integer("ACTIVITY_LOOKBACK_DAYS", 3))

    def variables(self) -> dict[str, str]:
        """Placeholder → value. The bot lists are JSON arrays of strings, which GoogleSQL reads as
        array literals (Terraform writes them with jsonencode)."""
        return {
            "project": self.project,
            "dataset": self.dataset,
            "time_zone": self.time_zone,
            "inactivity_minutes": str(self.inactivity_minutes),
            "lookback_days": str(self.lookback_days),
            "bot_browsers": json.dumps(list(self.bots.user_web_browser)),
            "bot_user_pseudo_ids": json.dumps(list(self.bots.user_pseudo_id)),
        }


def render(path: Path, settings: SqlSettings, **extra: str) -> str:
    """A SQL template filled in; an unknown placeholder is an error, as in templatefile()."""
    try:
        return Template(path.read_text(encoding="utf-8")).substitute(settings.variables(), **extra)
    except KeyError as missing:
        raise SettingsError(f"{path}: no value for placeholder {missing}") from None
    except ValueError as invalid:
        raise SettingsError(f"{path}: {invalid}") from None


@dataclass(frozen=True)
class DatasetObject:
    """A table or view of the dataset, as the docs and the local provisioning see it."""

    name: str
    kind: str
    """"table" or "view"."""
    description: str
    fields: list[dict[str, Any]]
    """Columns in bigquery.json's format (name, type, mode, description, fields)."""
    options: dict[str, Any] = field(default_factory=dict)
    """table.json for a table; view.json for a view."""
    reads: tuple[str, ...] = ()
    template: Path | None = None
    template_values: dict[str, str] = field(default_factory=dict)

    def sql(self, settings: SqlSettings) -> str:
        assert self.template is not None, f"{self.name} is a table"
        return render(self.template, settings, **self.template_values)

    @property
    def partition_column(self) -> str | None:
        return (self.options.get("time_partitioning") or {}).get("field")


@dataclass(frozen=True)
class Catalog:
    schemas_dir: Path = SCHEMAS

    @cached_property
    def objects(self) -> dict[str, DatasetObject]:
        """Every table and view, in an order where each comes after what it reads."""
        found: dict[str, DatasetObject] = {}
        for name in contracts.all_tables(self.schemas_dir):
            table = read_table(self.schemas_dir, name)
            found[table.name] = table
        for table in list(found.values()):
            if "identity" in table.options:  # infra/analyst.tf: the same rule
                view = deduplicated_view(table, self.schemas_dir)
                found[view.name] = view
        specs = {}
        for path in sorted(self.schemas_dir.glob("*/view.json")):
            spec = json.loads(path.read_text(encoding="utf-8"))
            specs[spec["view_id"]] = (spec, path.parent / "view.sql")
        view_reads = {name: [r for r in spec["reads"] if r in specs] for name, (spec, _) in specs.items()}
        for name in TopologicalSorter(view_reads).static_order():
            spec, query = specs[name]
            base = found[spec["columns_from"]]
            added = [_with_referenced_fields(column, found) for column in spec.get("added_columns", [])]
            found[name] = DatasetObject(name=name, kind="view", description=spec["description"],
                                        fields=[*base.fields, *added], options=spec, reads=tuple(spec["reads"]),
                                        template=query)
        order = TopologicalSorter({name: obj.reads for name, obj in found.items()}).static_order()
        return {name: found[name] for name in order}

    def tables(self) -> list[DatasetObject]:
        return [o for o in self.objects.values() if o.kind == "table"]

    def views(self) -> list[DatasetObject]:
        return [o for o in self.objects.values() if o.kind == "view"]

    def filter_column(self, obj: DatasetObject) -> str | None:
        """The column to filter on: a table's partitioning column, for a view its base table's."""
        while obj.kind == "view":
            obj = self.objects[obj.options["columns_from"]]
        return obj.partition_column

    def prunes(self, obj: DatasetObject) -> bool:
        """Whether a filter on ``filter_column`` prunes partitions: not through a deduplicated view
        whose window cannot be partitioned by that column (Identity.prunes)."""
        while obj.kind == "view":
            if not obj.options.get("prunes", True):
                return False
            obj = self.objects[obj.options["columns_from"]]
        return True

    def activity_build_sql(self, settings: SqlSettings) -> str:
        return render(self.schemas_dir / ACTIVITY_BUILD, settings)


def read_table(schemas_dir: Path, directory: str) -> DatasetObject:
    """A table of schemas/<directory>/, read now (the functions' contracts module caches them for
    the life of the process; tools must see edits)."""
    options = json.loads((schemas_dir / directory / "table.json").read_text(encoding="utf-8"))
    fields = json.loads((schemas_dir / directory / "bigquery.json").read_text(encoding="utf-8"))
    return DatasetObject(name=options["table_id"], kind="table", description=options["description"], fields=fields,
                         options=options)


def _with_referenced_fields(column: dict[str, Any], found: dict[str, DatasetObject]) -> dict[str, Any]:
    """A view column declared with "fields_from": "<object>.<column>" takes that record's fields."""
    reference = column.get("fields_from")
    if reference is None:
        return column
    name, _, record = reference.partition(".")
    [source] = [f for f in found[name].fields if f["name"] == record]
    resolved = {key: value for key, value in column.items() if key != "fields_from"}
    return {**resolved, "fields": source["fields"]}


@dataclass(frozen=True)
class Identity:
    """What tells the copies of one record (or invocation) apart, from ``identity`` in table.json:
    ``column`` identifies it (default ``row_id``); ``copies_by`` orders its copies (default the
    pipeline's ``ingested_at, ingestion_source``) and ``keep`` says which one the view keeps,
    ``first`` (default) or ``latest`` (the audit: a message re-run after a fix has the same
    audit_id, and its latest audit row says what became of it). A partitioning column listed in
    ``copies_by`` is the copy's own arrival time: copies differ in it, so it cannot partition the
    view's window."""

    column: str
    copies_by: tuple[str, ...]
    keep: str
    partition: str

    @classmethod
    def of(cls, table: DatasetObject) -> Identity:
        declared = table.options["identity"]
        partition = table.partition_column
        assert partition, f"{table.name}: a deduplicated view needs the table's partitioning column"
        keep = declared.get("keep", "first")
        assert keep in ("first", "latest"), f"{table.name}: identity.keep is first or latest, not {keep!r}"
        return cls(column=declared.get("column", "row_id"),
                   copies_by=tuple(declared.get("copies_by", DEFAULT_COPIES_BY)), keep=keep, partition=partition)

    @property
    def prunes(self) -> bool:
        """Whether a filter on the partitioning column still prunes partitions through the view."""
        return self.partition not in self.copies_by

    def template_values(self, table: str) -> dict[str, str]:
        window = (self.partition, self.column) if self.prunes else (self.column,)
        order = ", ".join(f"{c} DESC" if self.keep == "latest" else c for c in self.copies_by)
        return {"table": table, "identity": self.column, "window_partition": ", ".join(window), "kept_copy": order}

    def describe(self, table: str) -> str:
        pruning = ("it still prunes" if self.prunes
                   else f"it does not prune: the copies of one {self.column} differ in {self.partition}")
        return (f"{table} without duplicate deliveries: one row per {self.column}, its {self.keep} copy "
                f"(by {', '.join(self.copies_by)}). Same columns as {table}; filter on {self.partition} as on "
                f"the table ({pruning}).")


def deduplicated_view(table: DatasetObject, schemas_dir: Path = SCHEMAS) -> DatasetObject:
    identity = Identity.of(table)
    return DatasetObject(
        name=f"{table.name}_deduplicated", kind="view", description=identity.describe(table.name),
        fields=table.fields, options={"time_partitioning": table.options["time_partitioning"],
                                      "columns_from": table.name, "prunes": identity.prunes},
        reads=(table.name,), template=schemas_dir / DEDUPLICATED_TEMPLATE,
        template_values=identity.template_values(table.name))
