"""Typed row building: values are converted to their column's BigQuery type, as the table
schema file declares it, and every conversion failure is kept as a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Callable

import orjson

from ingest.contracts import Column, TableSchema
from ingest.errors import Reason, RecordError
from ingest.transform.timeutil import bq_timestamp, parse_timestamp

_TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off"})


def _string(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int:  # ids sent as numbers (GA4 int_value)
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {value!r}")


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None


def _numeric(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(f"expected a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite decimal number, got {value!r}")
    return str(number)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}") from None


def _timestamp(value: Any) -> str:
    try:
        return bq_timestamp(parse_timestamp(value))
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected an RFC 3339 timestamp, got {value!r}") from None


def _record(value: Any) -> Any:
    """RECORD values are built by the transforms, field by field."""
    return value


_COERCE: dict[str, Callable[[Any], Any]] = {
    "STRING": _string,
    "INT64": _int,
    "INTEGER": _int,
    "FLOAT64": _float,
    "FLOAT": _float,
    "NUMERIC": _numeric,
    "BIGNUMERIC": _numeric,
    "BOOL": _bool,
    "BOOLEAN": _bool,
    "JSON": _json,
    "TIMESTAMP": _timestamp,
    "DATE": _date,
    "RECORD": _record,
}


def converter(column: Column) -> Callable[[Any], Any]:
    convert = _COERCE[column.type]
    if not column.repeated:
        return convert

    def convert_each(value: Any) -> list[Any]:
        items = value if isinstance(value, list) else [value]
        return [convert(item) for item in items if item is not None]
    return convert_each


def coerce(column: Column, value: Any) -> Any:
    return converter(column)(value)


_NATIVE: dict[str, type] = {"STRING": str, "INT64": int, "INTEGER": int, "FLOAT64": float, "FLOAT": float,
                           "BOOL": bool, "BOOLEAN": bool}
"""The Python type a decoded JSON value already has when it fits a column of that BigQuery type."""


@lru_cache(maxsize=16)
def _converters(table: TableSchema) -> tuple[dict[str, Callable[[Any], Any]], dict[str, type]]:
    """Per table, built once: each column's converter, and the type that needs no conversion."""
    return ({name: converter(column) for name, column in table.columns.items()},
            {name: _NATIVE[column.type] for name, column in table.columns.items()
             if column.type in _NATIVE and not column.repeated})


class RowBuilder:
    """Collects a row column by column; unknown columns are a programming error."""

    __slots__ = ("table", "row", "reasons", "_convert", "_native")

    def __init__(self, table: TableSchema) -> None:
        self.table = table
        self.row: dict[str, Any] = {}
        self.reasons: list[Reason] = []
        self._convert, self._native = _converters(table)

    def set(self, column: str, value: Any, path: str = "$") -> None:
        if type(value) is self._native.get(column) and value != "":  # the common case: already typed
            self.row[column] = value
        elif value is None or value == "":
            self.row.pop(column, None)
        else:
            try:
                self.row[column] = self._convert[column](value)
            except ValueError as error:
                self.reasons.append(Reason(path, f"{column}: {error}"))

    def try_set(self, column: str, value: Any) -> bool:
        """For optional enrichment: a value that does not fit is left out, not an error."""
        if value is None or value == "":
            return True
        try:
            self.row[column] = self._convert[column](value)
        except ValueError:
            return False
        return True

    def build(self) -> dict[str, Any]:
        if self.reasons:
            raise RecordError("invalid_value", self.reasons)
        return self.row
