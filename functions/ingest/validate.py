"""Checks a decoded record against its contract's input JSON Schema.

The common case (a valid record) goes through a fastjsonschema-compiled check (~20 µs);
only records that fail pay for jsonschema's full pass, which reports every error with its
JSON path instead of only the first one.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
import jsonschema

from ingest.errors import Reason


class RecordValidator:
    def __init__(self, schema: dict[str, Any]) -> None:
        self._fast = fastjsonschema.compile(schema)
        jsonschema.Draft7Validator.check_schema(schema)
        self._thorough = jsonschema.Draft7Validator(
            schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        )

    def errors(self, record: Any) -> list[Reason]:
        """Every violation of the schema; empty when the record is valid."""
        try:
            self._fast(record)
            return []
        except fastjsonschema.JsonSchemaException as fast_error:
            reasons = [
                Reason(error.json_path, error.message)
                for error in sorted(self._thorough.iter_errors(record), key=lambda e: e.json_path)
            ]
            # The two engines disagree only on corner cases of "format"; never let a record
            # that one of them rejected through without a reason.
            return reasons or [Reason("$" + _dotted(fast_error.path), fast_error.message)]


def _dotted(path: list[Any] | None) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in (path or [])[1:])
