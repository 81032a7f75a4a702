"""tools/schema_changes.py: which schema edits BigQuery applies in place and which it cannot."""

from __future__ import annotations

import pytest

from tools.schema_changes import TableFiles, compare, compare_fields, undeclared

BASE = [
    {"name": "id", "type": "STRING", "mode": "REQUIRED", "description": "the id"},
    {"name": "n", "type": "INT64", "mode": "NULLABLE"},
    {"name": "origin", "type": "RECORD", "mode": "NULLABLE", "fields": [{"name": "channel", "type": "STRING"}]},
]
OPTIONS = {"time_partitioning": {"type": "DAY", "field": "d"}, "clustering": ["id"]}


def kinds(new: list[dict]) -> list[tuple[str, str, bool]]:
    return sorted((c.column, c.kind, c.breaking) for c in compare_fields("t", BASE, new)
                  if c.kind != "description_changed")


def test_the_same_schema_has_no_change_and_legacy_type_names_are_equal() -> None:
    assert kinds(BASE) == []
    assert kinds([{**BASE[0]}, {**BASE[1], "type": "INTEGER"}, BASE[2]]) == []


@pytest.mark.parametrize("new, expected", [
    (BASE + [{"name": "unmapped", "type": "JSON", "mode": "NULLABLE"}], [("unmapped", "column_added", False)]),
    (BASE + [{"name": "tags", "type": "STRING", "mode": "REPEATED"}], [("tags", "column_added", False)]),
    ([{**BASE[0], "mode": "NULLABLE"}, *BASE[1:]], [("id", "mode_relaxed", False)]),
    ([*BASE[:2], {**BASE[2], "fields": [*BASE[2]["fields"], {"name": "source", "type": "STRING"}]}],
     [("origin.source", "column_added", False)]),
])
def test_additive_changes_pass(new: list[dict], expected: list[tuple]) -> None:
    assert kinds(new) == expected


@pytest.mark.parametrize("new, expected", [
    (BASE[:1] + BASE[2:], [("n", "column_removed", True)]),
    ([BASE[0], {**BASE[1], "type": "STRING"}, BASE[2]], [("n", "type_changed", True)]),
    ([BASE[0], {**BASE[1], "mode": "REQUIRED"}, BASE[2]], [("n", "mode_changed", True)]),
    ([BASE[0], {**BASE[1], "mode": "REPEATED"}, BASE[2]], [("n", "mode_changed", True)]),
    (BASE + [{"name": "must", "type": "STRING", "mode": "REQUIRED"}], [("must", "required_column_added", True)]),
    ([BASE[0], {"name": "x", "type": "STRING"}, *BASE[1:]], [("x", "column_inserted", True)]),
    ([BASE[1], BASE[0], BASE[2]], [("", "columns_reordered", True)]),
    ([*BASE[:2], {**BASE[2], "fields": []}], [("origin.channel", "column_removed", True)]),
    ([{**BASE[0], "name": "identifier"}, *BASE[1:]],
     [("id", "column_removed", True), ("identifier", "required_column_added", True)]),
])
def test_breaking_changes_are_refused(new: list[dict], expected: list[tuple]) -> None:
    assert kinds(new) == expected


def test_table_level_changes() -> None:
    old = {"t": TableFiles(BASE, OPTIONS), "gone": TableFiles(BASE, OPTIONS)}
    moved = {**OPTIONS, "time_partitioning": {"type": "DAY", "field": "other"}, "clustering": ["n"]}
    new = {"t": TableFiles(BASE, moved), "fresh": TableFiles(BASE, OPTIONS)}
    found = {(c.table, c.kind, c.breaking) for c in compare(old, new)}
    assert found == {("gone", "table_removed", True), ("t", "partitioning_changed", True),
                     ("t", "clustering_changed", False), ("fresh", "table_added", False)}


def test_a_declared_breaking_change_passes_and_only_that_one() -> None:
    changes = compare_fields("t", BASE, [BASE[0], BASE[2]]) + compare_fields("u", BASE, [BASE[0], BASE[2]])
    declared = [{"table": "t", "column": "n", "kind": "column_removed", "reason": "unused since 2025"}]
    assert [(c.table, c.column) for c in undeclared(changes, declared)] == [("u", "n")]


def _commit_schema(repo, fields: list[dict]) -> None:
    import json
    import subprocess

    table = repo / "schemas" / "t"
    table.mkdir(parents=True, exist_ok=True)
    (table / "bigquery.json").write_text(json.dumps(fields))
    (table / "table.json").write_text(json.dumps(OPTIONS))
    for args in (["add", "-A"], ["-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "schema"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_the_check_compares_the_working_tree_with_the_base_revision(tmp_path) -> None:
    import json
    import subprocess

    from tools.schema_changes import base_revision, check

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    _commit_schema(tmp_path, BASE)
    subprocess.run(["git", "checkout", "-qb", "feature"], cwd=tmp_path, check=True)
    base = base_revision(tmp_path, environ={})
    (tmp_path / "schemas" / "t" / "bigquery.json").write_text(json.dumps(BASE + [{"name": "x", "type": "JSON"}]))
    changes, refused = check(base, tmp_path)
    assert [(c.column, c.kind) for c in changes] == [("x", "column_added")] and refused == []

    (tmp_path / "schemas" / "t" / "bigquery.json").write_text(json.dumps(BASE[:2]))
    changes, refused = check(base, tmp_path)
    assert [(c.column, c.kind) for c in refused] == [("origin", "column_removed")]

    (tmp_path / "schemas" / "breaking_changes.json").write_text(json.dumps({"declared": [
        {"table": "t", "column": "origin", "kind": "column_removed", "reason": "test"}]}))
    assert check(base, tmp_path)[1] == []
