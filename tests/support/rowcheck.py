"""Checks a row the code emits against the BigQuery table schema file, column by column."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from ingest.contracts import Column, TableSchema

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def _value_problem(column: Column, value: Any) -> str | None:
    kind = column.type
    if kind == "STRING":
        ok = isinstance(value, str)
    elif kind in ("INT64", "INTEGER"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in ("FLOAT64", "FLOAT"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "NUMERIC":
        ok = isinstance(value, str) and Decimal(value).is_finite()
    elif kind in ("BOOL", "BOOLEAN"):
        ok = isinstance(value, bool)
    elif kind == "TIMESTAMP":
        ok = isinstance(value, str) and bool(_TIMESTAMP.match(value)) and bool(datetime.fromisoformat(value))
    elif kind == "DATE":
        ok = isinstance(value, str) and bool(date.fromisoformat(value))
    elif kind == "JSON":
        ok = isinstance(value, str) and orjson.loads(value) is not ...
    elif kind == "RECORD":
        if not isinstance(value, dict):
            return f"{column.name}: expected an object"
        nested = TableSchema(column.name, {}, {c.name: c for c in column.fields}, [])
        problems = row_problems(nested, value, check_required=False)
        return "; ".join(problems) or None
    else:
        return f"{column.name}: unknown type {kind}"
    return None if ok else f"{column.name}: {value!r} is not a {kind}"


def row_problems(table: TableSchema, row: dict[str, Any], check_required: bool = True) -> list[str]:
    problems = []
    for name, value in row.items():
        column = table.columns.get(name)
        if column is None:
            problems.append(f"{name}: no such column in {table.table_id}")
            continue
        values = value if column.repeated else [value]
        if column.repeated and not isinstance(value, list):
            problems.append(f"{name}: REPEATED column needs a list")
            continue
        problems.extend(p for v in values if (p := _value_problem(column, v)))
    if check_required:
        problems.extend(f"{name}: REQUIRED column missing" for name in table.required if name not in row)
    return problems
