"""Typed row building: values are converted to their column's BigQuery type, as the table
schema file declares it, and every conversion failure is kept as a reason."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Callable

import orjson

from ingest.contracts import Column, TableSchema
from ingest.errors import FailureKind, Reason, RecordError
from ingest.transform.timeutil import bq_timestamp, parse_timestamp

_TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EXACT_FLOAT_INT = 2**53
"""Integers beyond this reach us as floats only when they were too big for a 64-bit integer
(orjson's rule) or written with an exponent: their digits are no longer exact."""
_NUMERIC_MAX = Decimal("1e29")
_NUMERIC_SCALE = 9
JSON_MAX_DEPTH = 254
"""orjson serializes at most 255 levels of nesting (a row wraps the value in one more)."""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", str: "a string", float: "a number",
            int: "an integer"}.get(type(value), type(value).__name__)


def _string(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int:  # ids sent as numbers (GA4 int_value)
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= EXACT_FLOAT_INT:
                raise ValueError(f"{value!r} is too large to keep its digits exactly: send it as a string")
            return str(int(value))
        return repr(value)
    if isinstance(value, (dict, list)):
        return _json(value)
    raise ValueError(f"expected text, got {_kind(value)}")


def text(value: Any) -> str:
    """A scalar as a STRING column stores it; an object or an array is not text."""
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected text, got {_kind(value)}")
    return _string(value)


def _int(value: Any) -> int:
    number: int | None = None
    if type(value) is int:
        number = value
    elif isinstance(value, float) and value.is_integer() and abs(value) < EXACT_FLOAT_INT:
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise ValueError(f"expected an integer, got {value!r}" if isinstance(value, (str, int, float))
                         else f"expected an integer, got {_kind(value)}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{number} is outside the 64-bit integer range")
    return number


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a number, got {_kind(value)}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


def _numeric(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a decimal number, got {_kind(value)}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"expected a finite decimal number, got {value!r}")
    if abs(number) >= _NUMERIC_MAX or number.as_tuple().exponent < -_NUMERIC_SCALE:  # type: ignore[operator]
        raise ValueError(f"{value!r} does not fit NUMERIC (29 integer digits, 9 decimals)")
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
    raise ValueError(f"expected a boolean, got {value!r}" if isinstance(value, (str, int, float))
                     else f"expected a boolean, got {_kind(value)}")


def _json(value: Any) -> str:
    """Keys sorted: the same object sent with its keys in another order is the same value (and
    the same row id)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError as error:
        if "Recursion" in str(error):
            raise ValueError(f"nested more than {JSON_MAX_DEPTH} levels deep") from None
        raise ValueError(f"not representable as JSON: {error}") from None


def _date(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a date (YYYY-MM-DD), got {_kind(value)}")
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}") from None


def _timestamp(value: Any) -> str:
    """RFC 3339 text, or integer microseconds since the epoch (GA4's unit)."""
    if isinstance(value, datetime):
        return bq_timestamp(parse_timestamp(value))
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an RFC 3339 timestamp, got {_kind(value) if not isinstance(value, float) else value}")
    try:
        return bq_timestamp(parse_timestamp(value))
    except (ValueError, OverflowError):
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


_NATIVE: dict[str, type] = {"STRING": str, "FLOAT64": float, "FLOAT": float, "BOOL": bool, "BOOLEAN": bool}
"""The Python type a decoded JSON value already has when it fits a column of that BigQuery type
(integers are not among them: they still need the 64-bit range check)."""


@lru_cache(maxsize=16)
def _converters(table: TableSchema) -> tuple[dict[str, Callable[[Any], Any]], dict[str, type]]:
    """Per table, built once: each column's converter, and the type that needs no conversion."""
    return ({name: converter(column) for name, column in table.columns.items()},
            {name: _NATIVE[column.type] for name, column in table.columns.items()
             if column.type in _NATIVE and not column.repeated})


def native_types(table: TableSchema) -> dict[str, type]:
    """Column → the Python type of a decoded value that goes in unconverted (see ``RowBuilder.set``)."""
    return _converters(table)[1]


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
            raise RecordError(FailureKind.INVALID_VALUE, self.reasons)
        return self.row
