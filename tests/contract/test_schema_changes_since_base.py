"""The safe-schema-change check of `make test`: no breaking change to schemas/ since the base
branch (the merge base with main, or $SCHEMA_BASE_REF) unless schemas/breaking_changes.json
declares it. Cloud Build runs the same check on pull requests (step schema-check)."""

from __future__ import annotations

import pytest

from tools import schema_changes

KINDS = {"column_removed", "type_changed", "mode_changed", "required_column_added", "column_inserted",
         "columns_reordered", "partitioning_changed", "table_removed"}


def test_no_undeclared_breaking_schema_change_since_the_base_branch() -> None:
    base = schema_changes.base_revision()
    if base is None:
        pytest.skip("no git history with a main branch here; set SCHEMA_BASE_REF (Cloud Build's schema-check step does)")
    changes, refused = schema_changes.check(base)
    assert not refused, ("breaking schema changes not declared in schemas/breaking_changes.json "
                         "(docs/schema-changes.md):\n" + "\n".join(map(str, refused)))


def test_declarations_name_a_table_a_kind_and_why() -> None:
    for declaration in schema_changes.declarations():
        assert declaration["kind"] in KINDS, declaration
        assert declaration["table"] and declaration.get("reason") and declaration.get("migration"), declaration
