"""The data contracts, loaded once from ``schemas/`` (the single source of truth).

A contract directory holds ``table.json`` (table options, and for contracts: how a row's
identity is computed and which columns come from reference data) and ``bigquery.json``
(columns), plus ``input.schema.json`` for contracts that receive records. Code never lists
columns: it asks the ``TableSchema`` loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import orjson

from ingest.validate import RecordValidator

CONTRACTS = ("pro_event", "pro_log", "userpilot_event")
"""Contracts that receive records; ``ingestion_errors`` and ``ingestion_audit`` are sinks."""

PIPELINE_COLUMNS = frozenset({"row_id", "ingested_at", "ingestion_source"})
"""Set by the pipeline on every contract row, never from the record."""
UNMAPPED_COLUMN = "unmapped"
"""Every contract row's JSON column for the top-level fields of the record that no column maps."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str
    fields: tuple["Column", ...] = ()

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"


@dataclass(frozen=True, eq=False)
class TableSchema:
    """Loaded once per process (``table_schema`` is cached): identity is equality, so per-table
    caches can key on the object itself. What is derived from the files is derived once
    (``cached_property``): every batch reads it."""

    table_id: str
    options: dict[str, Any]
    columns: dict[str, Column]
    raw_fields: list[dict[str, Any]]

    @cached_property
    def required(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns.values() if c.mode == "REQUIRED")

    @cached_property
    def partition_column(self) -> str | None:
        return (self.options.get("time_partitioning") or {}).get("field")

    @cached_property
    def reference_columns(self) -> frozenset[str]:
        """Columns filled from the reference snapshot (as of the snapshot, not of the record)."""
        return frozenset(self.options.get("reference_columns", ()))

    @cached_property
    def identity_kind(self) -> str:
        """``content`` or ``emission`` (see ``ingest.rowid``)."""
        return self.options["identity"]["kind"]

    @cached_property
    def identity_exclude(self) -> frozenset[str]:
        """Columns a content identity leaves out: they describe the arrival, not the record."""
        return PIPELINE_COLUMNS | self.reference_columns | frozenset(self.options["identity"].get("exclude", ()))


def _column(field: dict[str, Any]) -> Column:
    return Column(
        name=field["name"],
        type=field["type"].upper(),
        mode=field.get("mode", "NULLABLE").upper(),
        fields=tuple(_column(f) for f in field.get("fields", ())),
    )


def _read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


@lru_cache(maxsize=None)
def table_schema(schemas_dir: Path, name: str) -> TableSchema:
    directory = schemas_dir / name
    fields = _read_json(directory / "bigquery.json")
    options = _read_json(directory / "table.json")
    return TableSchema(
        table_id=options["table_id"],
        options=options,
        columns={f["name"]: _column(f) for f in fields},
        raw_fields=fields,
    )


@lru_cache(maxsize=None)
def input_validator(schemas_dir: Path, name: str) -> RecordValidator:
    return RecordValidator(_read_json(schemas_dir / name / "input.schema.json"))


@lru_cache(maxsize=None)
def input_fields(schemas_dir: Path, name: str) -> frozenset[str]:
    """Top-level field names the input schema declares, in any of its branches (if/then/else,
    allOf/anyOf/oneOf, local $refs): the fields a record may carry that the contract knows."""
    return frozenset(input_field_types(schemas_dir, name))


@lru_cache(maxsize=None)
def input_field_types(schemas_dir: Path, name: str) -> dict[str, frozenset[str]]:
    """Top-level field → the JSON types its schema allows (from ``type``, ``enum`` values and
    one/any-of branches): how a CSV cell of that field is read."""
    schema = _read_json(schemas_dir / name / "input.schema.json")
    types: dict[str, set[str]] = {}
    for properties in _all_properties(schema, schema):
        for field, spec in properties.items():
            types.setdefault(field, set()).update(_types(spec, schema))
    return {field: frozenset(kinds or {"string"}) for field, kinds in types.items()}


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array",
               type(None): "null"}


def _types(spec: Any, root: dict[str, Any]) -> set[str]:
    if not isinstance(spec, dict):
        return set()
    declared = spec.get("type")
    kinds = {declared} if isinstance(declared, str) else set(declared or ())
    kinds |= {_JSON_TYPES[type(value)] for value in spec.get("enum", ())}
    if spec.get("$ref", "").startswith("#/"):
        kinds |= _types(_resolve(spec["$ref"], root), root)
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in spec.get(key, ()):
            kinds |= _types(branch, root)
    return kinds


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    return target


def _all_properties(node: Any, root: dict[str, Any]) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    found = [node["properties"]] if "properties" in node else []
    if node.get("$ref", "").startswith("#/"):
        found += _all_properties(_resolve(node["$ref"], root), root)
    for key in ("then", "else"):
        found += _all_properties(node.get(key), root)
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(key, ()):
            found += _all_properties(branch, root)
    return found


@lru_cache(maxsize=None)
def contract_file(schemas_dir: Path, name: str, filename: str) -> Any:
    """A contract's auxiliary rule file (consent policy, supported log kinds, ...)."""
    return _read_json(schemas_dir / name / filename)


def all_tables(schemas_dir: Path) -> list[str]:
    """Every table directory under ``schemas/``, contracts and sinks alike."""
    return sorted(p.parent.name for p in schemas_dir.glob("*/table.json"))
