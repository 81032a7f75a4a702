"""infra/analyst.tf against schemas/ and tools/catalog.py: every view and the activity build are
deployed from the same SQL files, with the same placeholders and default settings, in an order
where what a view reads exists first."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_terraform import CLOUDBUILD, INFRA, SCHEMAS, config, evaluate, load_yaml

from tools.catalog import Catalog, SqlSettings

_TEMPLATEFILE = re.compile(r'^\$\{templatefile\("\$\{local\.schemas_dir\}/(?P<path>[^"]+)", (?P<vars>.+)\)\}$', re.S)
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _templatefile(expr: str) -> tuple[str, str]:
    m = _TEMPLATEFILE.match(expr)
    assert m, f"expected templatefile(\"${{local.schemas_dir}}/...\", ...), found {expr!r}"
    return m["path"], m["vars"]


def _views() -> dict[str, dict]:
    return {name: body for name, body in config().of_type("google_bigquery_table").items() if "view" in body}


def test_terraform_fills_the_placeholders_the_sql_files_use_with_the_local_defaults() -> None:
    terraform = config().locals["sql_variables"]
    local = SqlSettings(project="local-dev", dataset="analytics").variables()
    assert set(terraform) == set(local), "infra/analyst.tf local.sql_variables and SqlSettings.variables differ"
    for name, variable in {"time_zone": "time_zone", "inactivity_minutes": "activity_inactivity_minutes",
                           "lookback_days": "activity_lookback_days"}.items():
        assert terraform[name] == f"${{var.{variable}}}"
        assert str(evaluate(terraform[name])) == local[name], f"default of var.{variable} differs from SqlSettings"
    for path in sorted(SCHEMAS.rglob("*.sql")):
        used = set(_PLACEHOLDER.findall(path.read_text(encoding="utf-8")))
        extra = {"table", "identity", "window_partition", "kept_copy"} if path.name == "deduplicated_view.sql" else set()
        assert used <= set(local) | extra, f"{path.relative_to(SCHEMAS)} uses {used - set(local) - extra}"


def test_every_view_is_deployed_from_its_sql_after_what_it_reads() -> None:
    views = _views()
    catalog = Catalog()
    deployed: dict[str, str] = {}
    for name, body in views.items():
        path, variables = _templatefile(body["view"][0]["query"])
        assert body["view"][0]["use_legacy_sql"] is False
        if name == "deduplicated":
            assert body["for_each"] == "${local.deduplicated_tables}"
            assert path == "deduplicated_view.sql"
            assert variables.startswith("merge(local.sql_variables, ")
            assert '"table": "${each.value.table_id}"' in variables
            for view in catalog.views():
                if view.template and view.template.name == "deduplicated_view.sql":
                    deployed[view.name] = name
            continue
        assert variables == "local.sql_variables", name
        spec = json.loads((SCHEMAS / Path(path).parent / "view.json").read_text(encoding="utf-8"))
        assert path == f"{spec['view_id']}/view.sql" and name == spec["view_id"]
        deployed[spec["view_id"]] = name
    assert sorted(deployed) == sorted(v.name for v in catalog.views()), "a view of schemas/ is not deployed"

    for view in catalog.views():
        resource = views[deployed[view.name]]
        needs = {"google_bigquery_table.main" if catalog.objects[read].kind == "table"
                 else f"google_bigquery_table.{deployed[read]}" for read in view.reads}
        assert needs <= {d.strip("${}") for d in resource.get("depends_on", [])}, f"{view.name} depends on {needs}"


def _raw_block(text: str, opening: str) -> str:
    """The HCL of the block that starts with ``opening`` (through its closing brace), as written."""
    start = text.index(opening)
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0 and text[i] == "}":
            return text[start:i + 1]
    raise AssertionError(f"unclosed block {opening!r}")


def _attribute(block: str, name: str) -> str:
    """The expression of one attribute of a block: its line, and the lines of a bracket it opens."""
    m = re.search(rf"^\s*{name}\s*=\s*", block, re.M)
    assert m, f"{name} not found"
    end = m.end()
    depth = 0
    for i in range(end, len(block)):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(block[i], 0)
        if block[i] == "\n" and depth == 0:
            return block[end:i]
    return block[end:]


def test_terraform_renders_every_deduplicated_view_as_the_catalog_does(tmp_path: Path) -> None:
    """infra/analyst.tf's own expressions (the local that reads table.json, the resource's
    description and query), evaluated by Terraform over schemas/: the same view names,
    descriptions and SQL as tools/catalog.py gives the local stack, for the contract tables,
    the audit and the dead letter alike."""
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.fail("terraform is not on PATH (needed offline for `terraform console`)")
    analyst = (INFRA / "analyst.tf").read_text(encoding="utf-8")
    tables = _raw_block((INFRA / "bigquery.tf").read_text(encoding="utf-8"), "tables = {")
    deduplicated = _raw_block(analyst, "deduplicated_tables = {")
    resource = _raw_block(analyst, 'resource "google_bigquery_table" "deduplicated" {')
    description, query = (_attribute(resource, name).replace("each.value", "v") for name in ("description", "query"))
    settings = SqlSettings(project="local-dev", dataset="analytics")
    variables = ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.variables().items())
    (tmp_path / "main.tf").write_text(
        f'locals {{\n  schemas_dir = "{SCHEMAS}"\n  {tables}\n  {deduplicated}\n  sql_variables = {{ {variables} }}\n'
        f"  views = {{ for k, v in local.deduplicated_tables : \"${{v.table_id}}_deduplicated\" => {{\n"
        f"    description = {description}\n    query = {query}\n  }} }}\n}}\n", encoding="utf-8")
    result = subprocess.run([terraform, "console"], input="jsonencode(local.views)\n", cwd=tmp_path,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    rendered = json.loads(json.loads(result.stdout.strip().splitlines()[-1]))
    expected = {view.name: {"description": view.description, "query": view.sql(settings)}
                for view in Catalog().views() if view.template and view.template.name == "deduplicated_view.sql"}
    assert {"ingestion_audit_deduplicated", "ingestion_errors_deduplicated"} <= set(expected)
    assert rendered == expected


def test_the_activity_build_is_scheduled_from_build_sql_as_its_own_service_account() -> None:
    [(name, body)] = config().of_type("google_bigquery_data_transfer_config").items()
    assert body["data_source_id"] == "scheduled_query"
    assert _templatefile(body["params"]["query"]) == ("user_activity/build.sql", "local.sql_variables")
    assert body["service_account_name"] == "${google_service_account.activity_builder.email}"
    assert "destination_table_name_template" not in body["params"], "a MERGE has no destination table"
    assert evaluate(body["schedule"]) == "every 1 hours"
    writer = config().resources[("google_bigquery_table_iam_member", "activity_builder_writer")]
    assert writer["table_id"] == '${google_bigquery_table.main["user_activity"].table_id}'
    reads = evaluate(config().locals["activity_builder_reads"])
    assert "ingestion_errors" not in reads.values(), "the builder never reads the dead letter"
    catalog, needed, pending = Catalog(), set(), ["pro_event_humans"]  # build.sql reads pro_event_humans
    while pending:
        name = pending.pop()
        needed.add(name)
        pending.extend(catalog.objects[name].reads)
    assert set(reads.values()) == needed, "the builder reads the view the build reads and everything under it"


def test_pull_requests_run_the_schema_check_against_their_base_branch() -> None:
    build = load_yaml(CLOUDBUILD)
    ids = [step["id"] for step in build["steps"]]
    assert "schema-check" in ids and ids.index("schema-check") < ids.index("tf-plan")
    step = build["steps"][ids.index("schema-check")]
    script = " ".join(step["args"])
    assert "BASE_BRANCH=${_BASE_BRANCH}" in step["env"], "the pull request trigger's base branch"
    assert "git merge-base HEAD FETCH_HEAD" in script and "make schema-check" in script
    assert 'SCHEMA_BASE_REF="$(git merge-base' in script
