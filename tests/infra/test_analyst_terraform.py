"""infra/analyst.tf against schemas/ and tools/catalog.py: every view and the activity build are
deployed from the same SQL files, with the same placeholders and default settings, in an order
where what a view reads exists first."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_terraform import CLOUDBUILD, SCHEMAS, config, evaluate, load_yaml

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
        extra = {"table", "partition_column"} if path.name == "deduplicated_view.sql" else set()
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
            assert '"partition_column": "${each.value.time_partitioning.field}"' in variables
            assert 'lookup(options, "identity", null) != null' in config().locals["deduplicated_tables"]
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
