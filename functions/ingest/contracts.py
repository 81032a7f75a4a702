"""The data contracts, loaded once from ``schemas/`` (the single source of truth).

A contract directory holds ``table.json`` (table options) and ``bigquery.json`` (columns),
plus ``input.schema.json`` for contracts that receive records. Code never lists columns:
it asks the ``TableSchema`` loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from ingest.validate import RecordValidator

CONTRACTS = ("pro_event", "pro_log", "userpilot_event")
"""Contracts that receive records; ``ingestion_errors`` and ``ingestion_audit`` are sinks."""


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
    caches can key on the object itself."""

    table_id: str
    options: dict[str, Any]
    columns: dict[str, Column]
    raw_fields: list[dict[str, Any]]

    @property
    def required(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns.values() if c.mode == "REQUIRED")


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
def contract_file(schemas_dir: Path, name: str, filename: str) -> Any:
    """A contract's auxiliary rule file (consent policy, supported log kinds, ...)."""
    return _read_json(schemas_dir / name / filename)


def all_tables(schemas_dir: Path) -> list[str]:
    """Every table directory under ``schemas/``, contracts and sinks alike."""
    return sorted(p.parent.name for p in schemas_dir.glob("*/table.json"))
