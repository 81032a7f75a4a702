"""Safe schema changes: what changed in the tables of ``schemas/`` since a base revision, and
whether BigQuery can apply it to a table that holds data.

BigQuery updates a table in place only for *additive* changes: a new NULLABLE or REPEATED column
(or record field) **at the end**, a REQUIRED column relaxed to NULLABLE, descriptions, clustering.
Anything else — a column removed or renamed, a type or repetition changed, a column made
REQUIRED, a REQUIRED column added, columns reordered or inserted in the middle, another
partitioning, a table removed — cannot be applied: Terraform would have to replace the table
(which ``deletion_protection`` refuses) and every reader of the column breaks. Such a change
passes only when ``schemas/breaking_changes.json`` declares it, with the reason and the migration
(docs/schema-changes.md).

    python -m tools.schema_changes [--base REF]   # exit 1 on an undeclared breaking change

The base is $SCHEMA_BASE_REF, else the merge base of HEAD with main (or origin/main). The same
comparison guards the local stack, which applies additive changes to existing tables
(tools/provision.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
DECLARATIONS = Path("schemas") / "breaking_changes.json"

_LEGACY_TYPES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
"""The API reports legacy type names; a schema file may use either."""


@dataclass(frozen=True, order=True)
class Change:
    table: str
    column: str
    """Dotted path of the column (record.field), or "" for the table itself."""
    kind: str
    detail: str
    breaking: bool

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{'BREAKING' if self.breaking else 'additive'} {self.kind}: {where} ({self.detail})"


def _type(field: dict[str, Any]) -> str:
    kind = str(field.get("type", "")).upper()
    return _LEGACY_TYPES.get(kind, kind)


def _mode(field: dict[str, Any]) -> str:
    return str(field.get("mode") or "NULLABLE").upper()


def compare_fields(table: str, old: list[dict[str, Any]], new: list[dict[str, Any]], prefix: str = "") -> list[Change]:
    """Changes from the old columns to the new ones (recursing into records)."""
    changes: list[Change] = []
    old_by_name = {f["name"].lower(): f for f in old}
    new_by_name = {f["name"].lower(): f for f in new}
    for key, before in old_by_name.items():
        path = prefix + before["name"]
        after = new_by_name.get(key)
        if after is None:
            changes.append(Change(table, path, "column_removed", "readers of it break; BigQuery cannot drop it in place", True))
            continue
        if _type(before) != _type(after):
            changes.append(Change(table, path, "type_changed", f"{_type(before)} -> {_type(after)}", True))
            continue
        mode_before, mode_after = _mode(before), _mode(after)
        if mode_before != mode_after:
            relaxed = mode_before == "REQUIRED" and mode_after == "NULLABLE"
            changes.append(Change(table, path, "mode_relaxed" if relaxed else "mode_changed",
                                  f"{mode_before} -> {mode_after}", not relaxed))
        if _type(before) == "RECORD":
            changes.extend(compare_fields(table, before.get("fields", []), after.get("fields", []), f"{path}."))
        if (before.get("description") or "") != (after.get("description") or ""):
            changes.append(Change(table, path, "description_changed", "documentation only", False))
    kept = [f["name"].lower() for f in new if f["name"].lower() in old_by_name]
    if kept != [f["name"].lower() for f in old if f["name"].lower() in new_by_name]:
        changes.append(Change(table, prefix.rstrip("."), "columns_reordered",
                              "BigQuery keeps a table's column order; recreate it to change the order", True))
    for index, after in enumerate(new):
        if after["name"].lower() in old_by_name:
            continue
        path = prefix + after["name"]
        if _mode(after) == "REQUIRED":
            changes.append(Change(table, path, "required_column_added",
                                  "existing rows have no value: add it NULLABLE", True))
        elif any(f["name"].lower() in old_by_name for f in new[index:]):
            changes.append(Change(table, path, "column_inserted",
                                  "BigQuery adds columns at the end only: move it after the existing ones", True))
        else:
            changes.append(Change(table, path, "column_added", f"{_mode(after)} {_type(after)}", False))
    return changes


def compare_options(table: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Table options whose change needs a new table (partitioning) or is applied in place."""
    changes: list[Change] = []
    before, after = old.get("time_partitioning"), new.get("time_partitioning")
    if before != after:
        changes.append(Change(table, "", "partitioning_changed", f"{before} -> {after}", True))
    if old.get("clustering") != new.get("clustering"):
        changes.append(Change(table, "", "clustering_changed", f"{old.get('clustering')} -> {new.get('clustering')}",
                              False))
    return changes


@dataclass(frozen=True)
class TableFiles:
    fields: list[dict[str, Any]]
    options: dict[str, Any]


def compare(old: dict[str, TableFiles], new: dict[str, TableFiles]) -> list[Change]:
    """Every change between two sets of schemas/<table>/ files, keyed by directory name."""
    changes: list[Change] = []
    for name, before in sorted(old.items()):
        after = new.get(name)
        if after is None:
            changes.append(Change(name, "", "table_removed", "Terraform would delete it and its data", True))
            continue
        changes.extend(compare_options(name, before.options, after.options))
        changes.extend(compare_fields(name, before.fields, after.fields))
    for name in sorted(set(new) - set(old)):
        changes.append(Change(name, "", "table_added", "created by the next apply", False))
    return sorted(changes)


def undeclared(changes: Iterable[Change], declarations: list[dict[str, Any]]) -> list[Change]:
    """Breaking changes that schemas/breaking_changes.json does not declare (table, column, kind)."""
    declared = {(d["table"], d.get("column", ""), d["kind"]) for d in declarations}
    return [c for c in changes if c.breaking and (c.table, c.column, c.kind) not in declared]


# ----------------------------------------------------------------------------- reading revisions


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def base_revision(repo: Path = REPO, environ: dict[str, str] | None = None) -> str | None:
    """$SCHEMA_BASE_REF, else the merge base of HEAD with main or origin/main; None outside git."""
    environ = dict(os.environ) if environ is None else environ
    explicit = environ.get("SCHEMA_BASE_REF", "").strip()
    if explicit:
        return _git(repo, "rev-parse", "--verify", f"{explicit}^{{commit}}").strip()
    try:
        _git(repo, "rev-parse", "--git-dir")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    for branch in ("main", "origin/main"):
        try:
            return _git(repo, "merge-base", "HEAD", branch).strip()
        except subprocess.CalledProcessError:
            continue
    return None


def tables_at(revision: str, repo: Path = REPO) -> dict[str, TableFiles]:
    """schemas/<name>/{bigquery,table}.json as committed in a revision."""
    listing = _git(repo, "ls-tree", "-r", "--name-only", revision, "--", "schemas/")
    names = sorted(Path(p).parent.name for p in listing.splitlines() if p.endswith("/table.json"))
    return {name: TableFiles(fields=json.loads(_git(repo, "show", f"{revision}:schemas/{name}/bigquery.json")),
                             options=json.loads(_git(repo, "show", f"{revision}:schemas/{name}/table.json")))
            for name in names}


def tables_in(schemas_dir: Path) -> dict[str, TableFiles]:
    """schemas/<name>/{bigquery,table}.json as they are in a working tree."""
    return {path.parent.name: TableFiles(fields=json.loads((path.parent / "bigquery.json").read_text(encoding="utf-8")),
                                         options=json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(schemas_dir.glob("*/table.json"))}


def declarations(repo: Path = REPO) -> list[dict[str, Any]]:
    path = repo / DECLARATIONS
    return json.loads(path.read_text(encoding="utf-8"))["declared"] if path.exists() else []


def check(base: str, repo: Path = REPO) -> tuple[list[Change], list[Change]]:
    """(every change since base, the breaking ones not declared)."""
    changes = compare(tables_at(base, repo), tables_in(repo / "schemas"))
    return changes, undeclared(changes, declarations(repo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.schema_changes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="revision to compare with (default: $SCHEMA_BASE_REF or merge-base with main)")
    args = parser.parse_args(argv)
    base = _git(REPO, "rev-parse", "--verify", f"{args.base}^{{commit}}").strip() if args.base else base_revision()
    if base is None:
        print("error: no base revision (not a git checkout, or no main branch): set SCHEMA_BASE_REF", file=sys.stderr)
        return 2
    changes, refused = check(base)
    print(f"schema changes since {base[:12]}: {len(changes)}")
    for change in changes:
        if change.kind != "description_changed":
            print(f"  {change}")
    if refused:
        print(f"\n{len(refused)} breaking change(s) not declared in {DECLARATIONS} (docs/schema-changes.md):",
              file=sys.stderr)
        for change in refused:
            print(f"  {change}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
