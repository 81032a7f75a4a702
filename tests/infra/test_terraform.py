"""Offline checks of infra/ and cloudbuild.yaml: nothing here reaches Google.

`terraform init/validate` need the google provider, which cannot be downloaded here, so
the deployment is checked by what runs offline:

- `terraform fmt -check` and checkov (its own venv, `.venv-checkov`, made by `make setup`);
- structural tests on the HCL parsed with python-hcl2: tables discovered from schemas/,
  function entry points and triggers against functions/main.py and the contract,
  dead-letter policies, IAM roles against an allow-list, per-environment files;
- cloudbuild.yaml: step ids, pinned images, and every Makefile target and path it names.

Expressions are checked by evaluating the few forms the configuration uses (references to
locals, variables' defaults, `each.key` / `each.value`, `path.module`, string templates).
Anything else fails with a message saying what could not be evaluated, so a change of
convention (a hard-coded table, a trigger built some other way) is noticed, not skipped.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
SCHEMAS = REPO / "schemas"
MAIN_PY = REPO / "functions" / "main.py"
CLOUDBUILD = REPO / "cloudbuild.yaml"
MAKEFILE = REPO / "Makefile"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"

# The contract between the code and the deployment: entry point -> trigger.
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
EXPECTED_TRIGGERS = {
    "ingest_events": ("pubsub", "tracking-events"),
    "ingest_logs": ("pubsub", "backend-logs"),
    "ingest_file": ("storage", "google_storage_bucket.partner_drops"),
}
RUNTIME = "python311"
FUNCTION_ENVIRONMENT = {
    "GCP_PROJECT", "BQ_DATASET", "TIME_ZONE", "MAX_RECORD_BYTES", "LOG_LEVEL", "ENVIRONMENT",
    "REFERENCE_DATA_URI", "PSEUDONYMISATION_KEY",
}

# Every role a principal may be granted, with the kind of resource it is granted on.
# A new grant must be added here on purpose, with the reason next to it.
# Roles of the deploy account (Cloud Build's identity for `terraform apply`), each for what it manages.
DEPLOY_ROLES = {
    "roles/artifactregistry.admin": "the functions' image repository",
    "roles/bigquery.dataOwner": "dataset, tables and their IAM",
    "roles/cloudfunctions.admin": "the functions",
    "roles/eventarc.admin": "their triggers, and attach-dead-letter.sh",
    "roles/iam.roleAdmin": "the custom roles",
    "roles/logging.configWriter": "log-based metrics",
    "roles/logging.logWriter": "the build's own logs",
    "roles/monitoring.alertPolicyEditor": "alert policies",
    "roles/monitoring.dashboardEditor": "the dashboard",
    "roles/pubsub.admin": "topics, subscriptions and their IAM",
    "roles/resourcemanager.projectIamAdmin": "the project-level grants",
    "roles/run.admin": "the Cloud Run services behind the functions",
    "roles/secretmanager.admin": "the HMAC key secret and its IAM",
    "roles/serviceusage.serviceUsageAdmin": "enabling the APIs",
    "roles/storage.admin": "buckets, the source archive, the Terraform state",
}

# Every role a principal may be granted, with the kind of resource it is granted on.
# A new grant must be added here on purpose, with the reason next to it. "custom:NAME" is
# google_project_iam_custom_role.NAME, whose permissions are held to CUSTOM_ROLE_PERMISSIONS.
ALLOWED_ROLES = {
    "function": {
        ("google_project_iam_member", "roles/eventarc.eventReceiver"),  # grantable on projects only
        ("google_bigquery_table_iam_member", "custom:row_writer"),  # insertAll into the tables it writes
        ("google_bigquery_dataset_iam_member", "roles/bigquery.metadataViewer"),  # datasets.get for insertAll
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),  # the HMAC key
        ("google_cloud_run_v2_service_iam_member", "roles/run.invoker"),  # trigger -> its own function
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),  # partner files, reference data
        ("google_storage_bucket_iam_member", "roles/storage.objectUser"),  # ingest_file: its ledger (state bucket)
        ("google_storage_bucket_iam_member", "custom:partner_file_marker"),  # mark ingested files, write reports
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"),  # ingest_file: its continuations topic
    },
    "build": {
        ("google_project_iam_member", "roles/run.builder"),  # Google's role for function builds
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),  # the sources bucket
    },
    "deploy": {
        *(("google_project_iam_member", role) for role in DEPLOY_ROLES),
        ("google_project_iam_member", "custom:service_account_manager"),  # the accounts, not their keys
        ("google_project_iam_member", "custom:scheduled_query_manager"),  # the user_activity scheduled query
        ("google_service_account_iam_member", "roles/iam.serviceAccountUser"),  # actAs the pipeline's accounts only
    },
    "dead_letter_reader": {
        ("google_bigquery_table_iam_member", "roles/bigquery.dataViewer"),  # ingestion_errors only
    },
    "pubsub_service_agent": {
        ("google_pubsub_topic_iam_member", "roles/pubsub.publisher"),  # forwards to dead-letter topics
        ("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator"),  # push OIDC tokens
    },
    "gcs_service_agent": {
        ("google_project_iam_member", "roles/pubsub.publisher"),  # Eventarc Cloud Storage triggers
    },
    "activity_builder": {
        ("google_project_iam_member", "roles/bigquery.jobUser"),  # jobs exist at project level only
        ("google_bigquery_table_iam_member", "roles/bigquery.dataViewer"),  # pro_event and the views it reads
        ("google_bigquery_table_iam_member", "roles/bigquery.dataEditor"),  # user_activity only
    },
    "datatransfer_service_agent": {
        ("google_service_account_iam_member", "roles/iam.serviceAccountTokenCreator"),  # runs the build as it
    },
}

# Custom roles, by resource name, with every permission they may hold.
CUSTOM_ROLE_PERMISSIONS = {
    "partner_file_marker": {"storage.objects.create", "storage.objects.update"},  # no delete: no overwrite
    "row_writer": {"bigquery.tables.get", "bigquery.tables.updateData"},  # metadata and insertAll, no row read
    "scheduled_query_manager": {"bigquery.transfers.get", "bigquery.transfers.update"},  # no data access
    "service_account_manager": {f"iam.serviceAccounts.{verb}" for verb in (
        "create", "delete", "get", "getIamPolicy", "list", "setIamPolicy", "update")},  # no keys, no actAs
}
SINK_TABLES = ("ingestion_errors", "ingestion_audit")
"""Tables every function writes besides its contracts'."""

REQUIRED_STEP_IDS = ["install", "lint", "test", "bundle", "tf-fmt", "tf-init", "tf-validate", "tf-plan", "tf-apply"]
# Paths that steps create rather than read (relative to the repository root).
GENERATED = ("build/", ".venv", ".local/", "infra/tfplan", "infra/.terraform")


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Config:
    resources: dict[tuple[str, str], dict[str, Any]]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    variable_order: dict[str, list[str]]

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}


def _load_hcl(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f)


@lru_cache(maxsize=1)
def config() -> Config:
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    locals_: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    order: dict[str, list[str]] = {}
    tf_files = sorted(INFRA.glob("*.tf"))
    assert tf_files, f"no .tf file in {INFRA}"
    for path in tf_files:
        doc = _load_hcl(path)
        assert not doc.get("module"), f"{path.name}: these checks read the root module only; extend them first"
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert (rtype, name) not in resources, f"{rtype}.{name} declared twice"
                    resources[(rtype, name)] = body
        for block in doc.get("locals", []):
            for key, value in block.items():
                assert key not in locals_, f"local.{key} declared twice"
                locals_[key] = value
        for block in doc.get("variable", []):
            for name, body in block.items():
                variables[name] = body
                order.setdefault(path.name, []).append(name)
        for block in doc.get("output", []):
            outputs.update(block)
    return Config(resources, locals_, variables, outputs, order)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


# ------------------------------------------------------------------------- evaluation


class Unevaluable(AssertionError):
    pass


@dataclass(frozen=True)
class Ref:
    """What only a plan knows, e.g. google_pubsub_topic.main["events"].id."""

    expr: str


Each = tuple[str, Any]  # the `each` of one resource instance: (each.key, each.value)

_WHOLE = re.compile(r"\$\{([^{}]*)\}")
_TRAVERSAL = re.compile(
    r'(?P<name>[A-Za-z_][\w-]*)|\.(?P<attr>[A-Za-z_][\w-]*)|\["(?P<key>[^"]*)"\]|\[(?P<index>\d+)\]'
    r"|\[(?P<ref>[A-Za-z_][\w.]*)\]"
)
_CONDITIONAL = re.compile(r"^\$\{(?P<cond>[^?{}]+) \? (?P<yes>[^:{}]+|\{\}|\[\]) : (?P<no>[^{}]+|\{\}|\[\])\}$")
_FOR_MAP = re.compile(
    r"^\$\{\{for (?P<k>\w+)(?:\s*,\s*(?P<v>\w+))? in (?P<coll>[\w.\[\]\"]+) : (?P<key>.+?) => (?P<val>.+?)"
    r"(?: if (?P<cond>[^{}]+))?\}\}$"
)
_FILESET_FOR = re.compile(
    r'^\$\{\{for (?P<var>\w+) in fileset\((?P<dir>[^,]+), "(?P<pattern>[^"]+)"\) : '
    r'dirname\((?P=var)\) => jsondecode\(file\("\$\{(?P=dir)\}/\$\{(?P=var)\}"\)\)\}\}$'
)


def _split(expr: str, names: dict[str, Any]) -> list[str | int]:
    """a.b["c"][0][each.key] -> ["a", "b", "c", 0, <value of each.key>]."""
    parts: list[str | int] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TRAVERSAL.match(expr, pos)
        if not m or (pos == 0) != (m["name"] is not None):
            raise Unevaluable(f"not a plain reference: {expr!r}")
        if m["index"] is not None:
            parts.append(int(m["index"]))
        elif m["ref"] is not None:
            key = _resolve(m["ref"], names)
            if isinstance(key, Ref):
                raise Unevaluable(f"cannot evaluate the index of {expr!r}")
            parts.append(key)
        else:
            parts.append(m["name"] or m["attr"] or m["key"])
        pos = m.end()
    return parts


def _names(each: Each | None) -> dict[str, Any]:
    return {} if each is None else {"each": {"key": each[0], "value": each[1]}}


def evaluate(value: Any, each: Each | None = None, names: dict[str, Any] | None = None) -> Any:
    """Evaluate literals, references, string templates and simple map for-expressions.

    What only a plan knows (resource attributes, data sources) comes back as a Ref, or stays
    as ${...} inside a rendered string.
    """
    scope = {**_names(each), **(names or {})}
    if isinstance(value, dict):
        return {k: evaluate(v, names=scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, names=scope) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    if _FILESET_FOR.match(value):
        return {name: json.loads(path.read_text(encoding="utf-8")) for name, path in _fileset_for(value).items()}
    for_map = _FOR_MAP.match(value)
    if for_map:
        return _for_map(for_map, scope)
    whole = _WHOLE.fullmatch(value)
    if whole:
        return _resolve(whole.group(1), scope)

    def text(m: re.Match[str]) -> str:
        resolved = _resolve(m.group(1), scope)
        if isinstance(resolved, Ref):
            return "${" + resolved.expr + "}"
        if not isinstance(resolved, (str, int, float)):
            raise Unevaluable(f"cannot render {m.group(0)} in {value!r}")
        return str(resolved)

    return _WHOLE.sub(text, value)


def _for_map(m: re.Match[str], scope: dict[str, Any]) -> dict[str, Any]:
    """{for k, v in COLL : KEY => VALUE [if COND]}. COND is not evaluated: every element is
    kept, so that the checks cover every configuration."""
    collection = _resolve(m["coll"], scope)
    if isinstance(collection, Ref):
        collection = {key: each[1] for key, each in instances({"for_each": "${" + collection.expr + "}"}).items()
                      if each is not None}
    if not isinstance(collection, dict):
        raise Unevaluable(f"for over {m['coll']!r}, which is not a known map")

    def operand(code: str, names: dict[str, Any]) -> Any:
        code = code.strip()
        if code.startswith('"') and code.endswith('"'):
            return evaluate(code[1:-1], names=names)
        return _resolve(code, names)

    result = {}
    for key, value in collection.items():
        names = {**scope, m["k"]: key} if m["v"] is None else {**scope, m["k"]: key, m["v"]: value}
        result[operand(m["key"], names)] = operand(m["val"], names)
    return result


def _fileset_for(expr: str) -> dict[str, Path]:
    """{for f in fileset(DIR, "*/table.json") : dirname(f) => ...}: directory name -> file."""
    m = _FILESET_FOR.match(expr)
    assert m, expr
    base = Path(evaluate("${" + m["dir"].strip() + "}")).resolve()
    return {str(Path(p).relative_to(base).parent): p for p in sorted(base.glob(m["pattern"]))}


def _resolve(expr: str, names: dict[str, Any]) -> Any:
    cfg = config()
    parts = _split(expr, names)
    head = parts[0]
    if head in names:
        return _walk(names[str(head)], parts[1:], expr)
    if head == "each":
        raise Unevaluable(f"{expr!r} outside a for_each")
    if head == "local":
        if parts[1] in DERIVED_LOCALS:
            return _walk(DERIVED_LOCALS[str(parts[1])](), parts[2:], expr)
        if parts[1] not in cfg.locals:
            raise Unevaluable(f"no local {parts[1]!r} ({expr!r})")
        return _walk(evaluate(cfg.locals[str(parts[1])]), parts[2:], expr)
    if head == "var":
        var = cfg.variables.get(str(parts[1]))
        if var is None:
            raise Unevaluable(f"{expr!r}: no such variable")
        if "default" not in var:
            return Ref(_join(parts))  # a required input, known only at plan time
        return _walk(var["default"], parts[2:], expr)
    if head == "path" and parts[1:] == ["module"]:
        return str(INFRA)
    if head == "null" and len(parts) == 1:
        return None
    return Ref(_join(parts))


def _join(parts: list[str | int]) -> str:
    out = str(parts[0])
    for p in parts[1:]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if re.fullmatch(r"[A-Za-z_][\w-]*", p) else f'["{p}"]')
    return out


def _walk(value: Any, path: list[str | int], expr: str) -> Any:
    for i, step in enumerate(path):
        if isinstance(value, Ref):
            return Ref(_join([value.expr, *path[i:]]))
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError) as exc:
            raise Unevaluable(f"{expr!r}: no {step!r}") from exc
    return value


def instances(body: dict[str, Any]) -> dict[str | None, Each | None]:
    """Instance key -> `each` of a resource; {None: None} without for_each.

    `cond ? a : b` gives the instances of both branches: every configuration is checked.
    """
    if "for_each" not in body:
        return {None: None}
    expr = body["for_each"]
    conditional = _CONDITIONAL.match(expr) if isinstance(expr, str) else None
    if conditional:
        found: dict[str | None, Each | None] = {}
        for branch in ("yes", "no"):
            code = conditional[branch].strip()
            if code not in ("{}", "[]"):
                found.update(instances({"for_each": "${" + code + "}"}))
        return found
    toset = re.fullmatch(r"\$\{toset\(([\w.]+)\)\}", expr) if isinstance(expr, str) else None
    target = evaluate("${" + toset[1] + "}") if toset else evaluate(expr)
    if isinstance(target, Ref):
        # for_each over another resource's instances: the same keys as that resource.
        rtype, name = _split(target.expr, {})[:2]
        other = config().resources.get((str(rtype), str(name)))
        if other is None:
            raise Unevaluable(f"for_each over unknown {target.expr!r}")
        return {key: (key, Ref(_join([str(rtype), str(name), str(key)]))) for key in instances(other)}
    if isinstance(target, dict):
        return {key: (key, val) for key, val in target.items()}
    if isinstance(target, list):
        return {str(v): (str(v), v) for v in target}
    raise Unevaluable(f"for_each {expr!r} gives {target!r}")


def discovered_tables() -> dict[str, Path]:
    """The schema directories local.tables discovers, with their table.json."""
    expr = config().locals.get("tables")
    assert isinstance(expr, str), "local.tables must exist (bigquery.tf)"
    assert _FILESET_FOR.match(expr), (
        "local.tables must discover the tables from the schemas directory: "
        '{for f in fileset(local.schemas_dir, "*/table.json") : dirname(f) => jsondecode(file(...))}; '
        "found " + expr
    )
    found = _fileset_for(expr)
    for path in found.values():
        assert path.parent.parent == SCHEMAS.resolve(), f"tables are discovered under {path.parent.parent}"
    return found


def _functions() -> dict[str, dict[str, Any]]:
    functions = evaluate("${local.functions}")
    assert isinstance(functions, dict), "local.functions must be a map of entry point -> trigger"
    return functions


def _function_tables() -> dict[str, dict[str, str]]:
    """local.function_tables (iam.tf): each function's contracts, plus the dead letter and the audit."""
    expr = config().locals["function_tables"]
    assert "local.functions" in expr and "fn.contracts" in expr and all(t in expr for t in SINK_TABLES), expr
    return {f"{name}/{table}": {"function": name, "table": table}
            for name, fn in _functions().items() for table in [*fn["contracts"], *SINK_TABLES]}


def _pseudonymising_contracts() -> list[str]:
    """local.pseudonymising_contracts (iam.tf), by the code's own reading of the policies."""
    from ingest.consent import Action, load_policy

    expr = config().locals["pseudonymising_contracts"]
    assert all(word in expr for word in ('"*/consent.json"', "on_denied", "on_missing", '"pseudonymise"')), expr
    contracts = sorted(p.parent.name for p in SCHEMAS.glob("*/consent.json"))
    return [c for c in contracts
            if Action.PSEUDONYMISE in {load_policy(SCHEMAS, c).on_denied, load_policy(SCHEMAS, c).on_missing}]


def _key_functions() -> dict[str, dict[str, Any]]:
    """local.key_functions (iam.tf): the functions ingesting a contract that pseudonymises."""
    expr = config().locals["key_functions"]
    assert "fn.contracts" in expr and "local.pseudonymising_contracts" in expr, expr
    pseudonymising = set(_pseudonymising_contracts())
    return {name: fn for name, fn in _functions().items() if pseudonymising & set(fn["contracts"])}


# Locals built with functions the evaluator does not run (merge, fileset, setintersection): the
# test computes them from the same inputs, after checking that the expression says so.
DERIVED_LOCALS = {"function_tables": _function_tables, "pseudonymising_contracts": _pseudonymising_contracts,
                  "key_functions": _key_functions}


# ----------------------------------------------------------------------------- tests


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.fail("terraform is not on PATH (it is needed offline for `terraform fmt -check`)")
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", "-diff", "infra"],
                            check=False, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"terraform fmt -check failed (run `terraform fmt -recursive infra`):\n" \
                                   f"{result.stdout}{result.stderr}"


def test_checkov_has_no_failed_check() -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(REPO)} is missing: run `make setup`")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(
        [str(CHECKOV), "-d", "infra", "--framework", "terraform", "--skip-download", "--compact", "--quiet"],
        check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", result.stdout)
    assert summary, f"no checkov summary (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    passed, failed, _skipped = map(int, summary.groups())
    assert failed == 0 and result.returncode == 0, f"checkov failed checks:\n{result.stdout}"
    assert passed > 0


def test_checkov_skips_carry_a_justification() -> None:
    skip = re.compile(r"checkov:skip=")
    justified = re.compile(r"#\s*checkov:skip=CKV2?_[A-Z]+_\d+:\s*\S.{19,}")
    for path in sorted(INFRA.rglob("*.tf")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if skip.search(line):
                assert justified.search(line), (
                    f"{path.relative_to(REPO)}:{number}: a checkov skip needs "
                    f"'#checkov:skip=CKV_..:<why, in a sentence>': {line.strip()}"
                )


def test_every_schema_directory_has_a_table_using_its_bigquery_json() -> None:
    cfg = config()
    on_disk = sorted(p.parent.name for p in SCHEMAS.glob("*/table.json"))
    assert on_disk, f"no schemas/*/table.json under {SCHEMAS}"
    discovered = discovered_tables()
    assert sorted(discovered) == on_disk

    # Views (a view block, no schema) are checked by test_analyst_terraform.py.
    tables = {name: body for name, body in cfg.of_type("google_bigquery_table").items() if "view" not in body}
    assert tables, "no google_bigquery_table"
    schema_of: dict[str, Path] = {}
    for name, body in tables.items():
        for key, each in instances(body).items():
            where = f"google_bigquery_table.{name}" + (f"[{key!r}]" if key else "")
            schema = body.get("schema", "")
            m = re.fullmatch(r'\$\{file\("(.+)"\)\}', schema) if isinstance(schema, str) else None
            assert m, f"{where}: schema must be file(\".../bigquery.json\"), found {schema!r}"
            path = Path(evaluate(m.group(1), each)).resolve()
            assert path.parent.parent == SCHEMAS.resolve() and path.name == "bigquery.json", (
                f"{where}: schema {path} is not schemas/<name>/bigquery.json"
            )
            schema_of[path.parent.name] = path
            if each is not None:
                options = json.loads(discovered[key].read_text(encoding="utf-8"))
                for attr in ("table_id", "description", "clustering", "require_partition_filter"):
                    assert evaluate(body[attr], (key, options)) == options[attr], f"{where}.{attr}"
                partitioning = body["time_partitioning"][0]
                assert evaluate(partitioning["type"], (key, options)) == options["time_partitioning"]["type"]
                assert evaluate(partitioning["field"], (key, options)) == options["time_partitioning"]["field"]
                assert partitioning.get("expiration_ms") == "${local.partition_expiration_ms[each.key]}", where

    missing = [d for d in on_disk if d not in schema_of]
    assert not missing, f"schemas without a Terraform table: {missing}"
    for directory, path in schema_of.items():
        assert path.is_file(), f"schemas/{directory}/bigquery.json is missing"
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), list), f"{path} is not a field array"


def _top_level_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _topic_name(ref: Any) -> str:
    """google_pubsub_topic.<name>[<key>].id -> the topic's name (variable defaults)."""
    assert isinstance(ref, Ref), f"pubsub_topic must reference a google_pubsub_topic, found {ref!r}"
    parts = _split(ref.expr, {})
    assert parts[0] == "google_pubsub_topic" and parts[-1] in ("id", "name"), ref.expr
    body = config().resources[("google_pubsub_topic", str(parts[1]))]
    key = parts[2] if len(parts) == 4 else None
    binding = instances(body)
    assert key in binding, f"{ref.expr}: no instance {key!r}"
    return evaluate(body["name"], binding[key])


def test_functions_match_entry_points_and_trigger_contract() -> None:
    assert MAIN_PY.is_file(), f"{MAIN_PY} is missing"
    defined = _top_level_functions(MAIN_PY)
    deployed: dict[str, tuple[str, str]] = {}
    for name, body in config().of_type("google_cloudfunctions2_function").items():
        for key, each in instances(body).items():
            where = f"google_cloudfunctions2_function.{name}" + (f"[{key!r}]" if key else "")
            build = body["build_config"][0]
            entry_point = evaluate(build["entry_point"], each)
            assert entry_point in defined, f"{where}: entry point {entry_point!r} is not a function of main.py"
            assert evaluate(build["runtime"], each) == RUNTIME, f"{where}: runtime"
            assert "storage_source" in json.dumps(build["source"]), f"{where}: source is not the bundle"

            triggers = body.get("event_trigger", [])
            assert len(triggers) == 1, f"{where}: needs exactly one event_trigger"
            trigger = triggers[0]
            assert evaluate(trigger["retry_policy"], each) == "RETRY_POLICY_RETRY", f"{where}: retry_policy"
            assert evaluate(trigger.get("service_account_email"), each) is not None, f"{where}: trigger identity"
            event_type = evaluate(trigger["event_type"], each)
            topic = evaluate(trigger.get("pubsub_topic"), each)
            filters = {evaluate(f["attribute"], each): evaluate(f["value"], each)
                       for f in trigger.get("event_filters", [])}
            for dynamic in trigger.get("dynamic", []):
                for block, spec in dynamic.items():
                    assert block == "event_filters", f"{where}: unexpected dynamic {block}"
                    content = spec["content"][0]
                    assert content == {"attribute": "${event_filters.key}", "value": "${event_filters.value}"}
                    filters.update(evaluate(spec["for_each"], each))

            if event_type == PUBSUB_PUBLISHED:
                assert not filters, f"{where}: Pub/Sub trigger with event filters {filters}"
                deployed[entry_point] = ("pubsub", _topic_name(topic))
            elif event_type == STORAGE_FINALIZED:
                assert topic is None, f"{where}: storage trigger with a pubsub_topic"
                bucket = filters.get("bucket")
                assert isinstance(bucket, Ref) and bucket.expr.endswith(".name"), f"{where}: bucket filter {bucket}"
                deployed[entry_point] = ("storage", bucket.expr.rsplit(".", 1)[0])
            else:
                pytest.fail(f"{where}: unexpected event type {event_type!r}")

    for entry_point, expected in EXPECTED_TRIGGERS.items():
        assert deployed.get(entry_point) == expected, (
            f"{entry_point}: deployed with trigger {deployed.get(entry_point)}, the contract says {expected}"
        )
    assert set(deployed) == set(EXPECTED_TRIGGERS), f"unexpected functions: {set(deployed) - set(EXPECTED_TRIGGERS)}"


def test_subscriptions_have_dead_letter_policies() -> None:
    cfg = config()
    assert ("google_pubsub_topic", "dead_letter") in cfg.resources, "no google_pubsub_topic.dead_letter"
    subscriptions = cfg.of_type("google_pubsub_subscription")
    assert subscriptions, "no google_pubsub_subscription"
    held: set[str] = set()
    for name, body in subscriptions.items():
        for key, each in instances(body).items():
            where = f"google_pubsub_subscription.{name}" + (f"[{key!r}]" if key else "")
            topic = evaluate(body["topic"], each)
            assert isinstance(topic, Ref), f"{where}: topic must reference a google_pubsub_topic"
            on_dead_letter = topic.expr.startswith("google_pubsub_topic.dead_letter")
            policies = body.get("dead_letter_policy", [])
            if on_dead_letter:
                # The end of the chain: holds dead letters for a week, never expires.
                held.add(str(key))
                assert evaluate(body["message_retention_duration"], each) == "604800s", where
                assert evaluate(body["expiration_policy"][0]["ttl"], each) == "", where
                continue
            assert policies, f"{where}: every subscription needs a dead_letter_policy"
            attempts = evaluate(policies[0]["max_delivery_attempts"], each)
            assert 5 <= attempts <= 100, f"{where}: max_delivery_attempts {attempts}"
            assert evaluate(policies[0]["dead_letter_topic"], each) is not None, where

    functions = set(instances(cfg.resources[("google_cloudfunctions2_function", "main")]))
    dead_letter_keys = set(instances(cfg.resources[("google_pubsub_topic", "dead_letter")]))
    assert dead_letter_keys == functions, "one dead-letter topic per function (per Eventarc subscription)"
    assert held == dead_letter_keys, "every dead-letter topic needs a subscription that keeps its messages"

    # Eventarc owns the delivering subscriptions: the dead-letter policies reach them through
    # this output and scripts/attach-dead-letter.sh, run by cloudbuild.yaml after an apply.
    output = cfg.outputs["eventarc_dead_letter_policies"]["value"]
    assert "google_cloudfunctions2_function.main" in output and "google_pubsub_topic.dead_letter" in output
    assert "var.max_delivery_attempts" in output
    script = INFRA / "scripts" / "attach-dead-letter.sh"
    assert script.is_file() and os.access(script, os.X_OK), f"{script} missing or not executable"
    commands = json.dumps(load_yaml(CLOUDBUILD)["steps"])
    assert "infra/scripts/attach-dead-letter.sh" in commands
    assert "eventarc_dead_letter_policies" in commands

    publishers = cfg.resources[("google_pubsub_topic_iam_member", "dead_letter_publisher")]
    assert set(instances(publishers)) == dead_letter_keys
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in str(evaluate(publishers["member"]))
    assert publishers["role"] == "roles/pubsub.publisher"


def _principal(member: Any) -> str:
    if isinstance(member, str):
        if "@gcp-sa-pubsub.iam.gserviceaccount.com" in member:
            return "pubsub_service_agent"
        if "@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com" in member:
            return "datatransfer_service_agent"
        raise AssertionError(f"unexpected literal member {member!r}")
    assert isinstance(member, Ref), f"member {member!r}"
    expr = member.expr
    for account in ("function", "build", "deploy", "activity_builder"):
        if expr.startswith(f"google_service_account.{account}"):
            return account
    if expr == "data.google_storage_project_service_account.this.email_address":
        return "gcs_service_agent"
    raise AssertionError(f"member {expr!r} is not a known principal")


def _role(body: dict[str, Any], each: Each | None, where: str) -> str:
    """A literal role, an each.value over a literal list, or custom:NAME for a custom role of ours."""
    custom = re.fullmatch(r"\$\{google_project_iam_custom_role\.(\w+)\.id\}", str(body["role"]))
    if custom:
        assert ("google_project_iam_custom_role", custom[1]) in config().resources, where
        return f"custom:{custom[1]}"
    role = evaluate(body["role"], each)
    assert isinstance(role, str) and role.startswith("roles/") and "${" not in role, (
        f"{where}: role must be a literal (or each.value over a literal list), found {body['role']!r}")
    return role


def _grants() -> dict[str, set[tuple[str, str]]]:
    """principal -> {(resource type, role)} over every instance of every *_iam_member."""
    cfg = config()
    seen: dict[str, set[tuple[str, str]]] = {}
    for (rtype, name), body in cfg.resources.items():
        if not rtype.endswith("_iam_member"):
            continue
        if body.get("for_each") == "${toset(var.dead_letter_readers)}":
            # Members are an input: checked on the body, for any value.
            assert body["member"] == "${each.value}", f"{rtype}.{name}"
            seen.setdefault("dead_letter_reader", set()).add((rtype, _role(body, None, name)))
            continue
        for key, each in instances(body).items():
            where = f"{rtype}.{name}" + (f"[{key!r}]" if key else "")
            member = evaluate(body["member"], each)
            if isinstance(member, str) and member.startswith("serviceAccount:${"):
                member = Ref(member.removeprefix("serviceAccount:${").removesuffix("}"))
            seen.setdefault(_principal(member), set()).add((rtype, _role(body, each, where)))
    return seen


def test_iam_roles_are_allow_listed() -> None:
    cfg = config()
    authoritative = [f"{t}.{n}" for (t, n) in cfg.resources if re.search(r"_iam_(binding|policy)$", t)]
    assert not authoritative, f"authoritative IAM resources would remove others' grants: {authoritative}"
    seen = _grants()
    for principal, grants in seen.items():
        unexpected = grants - ALLOWED_ROLES[principal]
        assert not unexpected, f"{principal}: {sorted(unexpected)} not allow-listed"
    for (rtype, name), body in cfg.resources.items():
        if rtype == "google_project_iam_member" and "google_service_account.function" in str(body["member"]):
            assert "dataEditor" not in str(body["role"]) and "jobUser" not in str(body["role"]), (
                f"{rtype}.{name}: the functions run no jobs and read no table")
    for name, body in cfg.of_type("google_project_iam_custom_role").items():
        assert set(body["permissions"]) <= CUSTOM_ROLE_PERMISSIONS[name], f"custom role {name}: {body['permissions']}"
        assert not any(p.endswith(("getData", "delete")) and p.startswith("bigquery.") for p in body["permissions"])

    # The functions can do their job: the grants the contract needs are all there.
    for needed in [("google_project_iam_member", "roles/eventarc.eventReceiver"),
                   ("google_bigquery_table_iam_member", "custom:row_writer"),
                   ("google_cloud_run_v2_service_iam_member", "roles/run.invoker")]:
        assert needed in seen.get("function", set()), f"function service accounts lack {needed}"
    assert seen["deploy"] == ALLOWED_ROLES["deploy"], "the deploy account has exactly the roles it needs"
    reader = cfg.resources[("google_storage_bucket_iam_member", "ingest_file_partner_reader")]
    assert reader["bucket"] == "${google_storage_bucket.partner_drops.name}"
    assert reader["member"] == '${google_service_account.function["ingest_file"].member}'


def test_functions_write_only_their_tables_and_read_none():
    cfg = config()
    writer = cfg.resources[("google_bigquery_table_iam_member", "function_row_writer")]
    assert writer["for_each"] == "${local.function_tables}"
    assert writer["table_id"] == "${google_bigquery_table.main[each.value.table].table_id}"
    assert writer["member"] == "${google_service_account.function[each.value.function].member}"
    tables = {(i["function"], i["table"]) for i in _function_tables().values()}
    files_contracts = set(__import__("ingest.files", fromlist=["PREFIX_CONTRACTS"]).PREFIX_CONTRACTS.values())
    expected = {"ingest_events": {"pro_event"}, "ingest_logs": {"pro_log"}, "ingest_file": files_contracts}
    for function, contracts in _handler_contracts().items():
        expected[function] = expected[function] | contracts
    assert tables == {(f, t) for f, contracts in expected.items() for t in [*contracts, *SINK_TABLES]}
    assert set(discovered_tables()) >= {t for _, t in tables}, "every table written exists"
    # The dead letter: written by every function, read by none of them; its readers are an input.
    reader = cfg.resources[("google_bigquery_table_iam_member", "dead_letter_reader")]
    assert reader["table_id"] == "${google_bigquery_table.main[local.dead_letter_table].table_id}"
    view_reader = cfg.resources[("google_bigquery_table_iam_member", "dead_letter_deduplicated_reader")]
    assert view_reader["table_id"] == "${google_bigquery_table.deduplicated[local.dead_letter_table].table_id}"
    assert view_reader["for_each"] == reader["for_each"], "who reads the dead letter reads its deduplicated view"
    assert cfg.locals["dead_letter_table"] == "ingestion_errors"
    function_grants = {g for g in _grants()["function"] if g[0].startswith("google_bigquery")}
    assert function_grants == {("google_bigquery_table_iam_member", "custom:row_writer"),
                               ("google_bigquery_dataset_iam_member", "roles/bigquery.metadataViewer")}


def _handler_contracts() -> dict[str, set[str]]:
    """The contract each entry point of main.py declares in its @handler(...)."""
    found: dict[str, set[str]] = {}
    for node in ast.parse(MAIN_PY.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "handler":
                    found[node.name] = {a.value for a in decorator.args if isinstance(a, ast.Constant)}
    assert set(found) == set(EXPECTED_TRIGGERS), f"every entry point is wrapped by @handler: {sorted(found)}"
    return found


def test_the_hmac_key_only_reaches_functions_whose_contracts_pseudonymise():
    cfg = config()
    accessor = cfg.resources[("google_secret_manager_secret_iam_member", "function_secret_accessor")]
    assert set(instances(accessor)) == set(_key_functions())
    function = cfg.resources[("google_cloudfunctions2_function", "main")]
    [dynamic] = [d["secret_environment_variables"] for d in function["service_config"][0].get("dynamic", [])
                 if "secret_environment_variables" in d]
    assert "local.key_functions" in dynamic["for_each"] and "each.key" in dynamic["for_each"]
    assert not function["service_config"][0].get("secret_environment_variables"), "no unconditional secret"
    # The rule follows the policy files: flipping pro_event to pseudonymise gives the key to the
    # functions that ingest pro_event, and only to them.
    functions = _functions()
    readers = {name for name, fn in functions.items() if "pro_event" in fn["contracts"]}
    assert readers == {"ingest_events", "ingest_file"}


def test_one_service_account_per_function() -> None:
    cfg = config()
    functions = cfg.resources[("google_cloudfunctions2_function", "main")]
    accounts = cfg.resources[("google_service_account", "function")]
    assert set(instances(functions)) == set(instances(accounts))
    config_ = functions["service_config"][0]
    assert config_["service_account_email"] == "${google_service_account.function[each.key].email}"
    assert functions["event_trigger"][0]["service_account_email"] == config_["service_account_email"]
    assert config_["min_instance_count"] == 0, "min instances 0: nothing runs at rest"
    [secrets] = [d["secret_environment_variables"] for d in config_.get("dynamic", [])
                 if "secret_environment_variables" in d]
    assert secrets["content"][0]["key"] == "${secret_environment_variables.value}"
    assert "PSEUDONYMISATION_KEY" in secrets["for_each"]

    # Environment variable names: the ones the contract lists are set, and each one set is
    # read somewhere by the code (a misspelt name would be silently ignored).
    raw = cfg.locals["function_environment"]
    names = set(re.findall(r"""["']([A-Z][A-Z0-9_]+)["']\s*:""", raw)) | {"PSEUDONYMISATION_KEY"}
    assert FUNCTION_ENVIRONMENT <= names, f"function environment lacks {FUNCTION_ENVIRONMENT - names}"
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "functions").rglob("*.py"))
    unread = sorted(n for n in names if f'"{n}"' not in code)
    assert not unread, f"the functions never read {unread}"


def test_variables_are_typed_described_and_sorted() -> None:
    cfg = config()
    assert list(cfg.variable_order) == ["variables.tf"], "declare variables in variables.tf only"
    names = cfg.variable_order["variables.tf"]
    assert names == sorted(names), "variables.tf must be in alphabetical order"
    for name, body in cfg.variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"
        assert "default" in body or name == "project_id", f"variable {name} has no default"


def test_environments_are_complete() -> None:
    envs = sorted(p for p in (INFRA / "environments").iterdir() if p.is_dir())
    assert [p.name for p in envs] == ["production", "staging"]
    declared = set(config().variables)
    for env in envs:
        backend = _load_hcl(env / "backend.hcl")
        assert set(backend) == {"bucket", "prefix"}, f"{env.name}/backend.hcl"
        assert backend["prefix"].endswith(env.name)
        tfvars = _load_hcl(env / "terraform.tfvars")
        unknown = set(tfvars) - declared
        assert not unknown, f"{env.name}/terraform.tfvars sets undeclared variables {unknown}"
        assert tfvars["environment"] == env.name and tfvars.get("project_id")
        sizing = tfvars.get("function_sizing")
        if sizing is not None:
            assert set(sizing) == set(EXPECTED_TRIGGERS), f"{env.name}: function_sizing keys"


def _make_targets() -> set[str]:
    assert MAKEFILE.is_file(), "Makefile is missing"
    targets: set[str] = set()
    for line in MAKEFILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.%/$()-][A-Za-z0-9_.%/$() -]*?)\s*::?(?!=)", line)
        if m and not line.startswith("\t"):
            targets.update(m.group(1).split())
    return targets


def _paths_in(text: str, substitutions: dict[str, str]) -> list[str]:
    """Relative file paths named in a step's command or arguments."""
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    paths = []
    for token in shlex.split(text, comments=False, posix=True):
        for word in re.split(r"[=;|&<>]", token):
            word = word.strip()
            if "/" not in word or "://" in word or "$" in word or word.startswith(("/", "-", "@")):
                continue
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", word):
                paths.append(word)
    return paths


def _flag(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args[:-1]):
        if arg in names:
            return args[i + 1]
    return None


def _assert_pinned(image: str, where: str) -> None:
    name = image.split("/")[-1]
    assert re.search(r"(:\w[\w.-]*|@sha256:[0-9a-f]{64})$", name), f"{where}: {image} is not pinned"
    assert not re.search(r":(latest|stable|slim|alpine)$", name), f"{where}: {image} is a moving tag"


def test_cloudbuild_steps_have_ids_pinned_images_and_existing_references() -> None:
    build = load_yaml(CLOUDBUILD)
    steps = build["steps"]
    ids = [s.get("id") for s in steps]
    assert all(ids), f"every step needs an id: {ids}"
    assert len(ids) == len(set(ids)), f"duplicate step ids: {ids}"
    missing = [i for i in REQUIRED_STEP_IDS if i not in ids]
    assert not missing, f"missing steps: {missing}"
    assert ids.index("tf-plan") < ids.index("tf-apply") and ids.index("bundle") < ids.index("tf-plan")

    substitutions = {k: str(v) for k, v in build.get("substitutions", {}).items()}
    assert (INFRA / "environments" / substitutions["_DEPLOY_ENV"]).is_dir()
    targets = _make_targets()
    built: set[str] = set()  # images built by an earlier step: their Dockerfile is checked instead
    for step in steps:
        image = step["name"]
        if image not in built:
            _assert_pinned(image, step["id"])
        args = [str(a) for a in step.get("args", [])]
        if image.startswith("gcr.io/cloud-builders/docker") and args[:1] == ["build"]:
            built.add(_flag(args, "--tag", "-t"))
            dockerfile = REPO / step.get("dir", "") / (_flag(args, "--file", "-f") or f"{args[-1]}/Dockerfile")
            text = dockerfile.read_text(encoding="utf-8")
            stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))
            for base in re.findall(r"^FROM\s+(\S+)", text, re.M | re.I):
                if base not in stages:
                    _assert_pinned(base, f"{step['id']} ({dockerfile.relative_to(REPO)})")
        workdir = REPO / step.get("dir", "")
        assert workdir.is_dir(), f"{step['id']}: dir {step.get('dir')} does not exist"
        command = " ".join([step.get("entrypoint", "")] + [str(a) for a in step.get("args", [])])
        for target in re.findall(r"(?:^|[\s;&|(])make\s+((?:[\w-]+\s*)+)", command):
            for t in target.split():
                assert t in targets, f"{step['id']}: Makefile has no target {t!r}"
        for relative in _paths_in(command, substitutions):
            full = (workdir / relative).resolve()
            if str(full.relative_to(REPO.resolve())).startswith(GENERATED) or relative.startswith(GENERATED):
                continue
            assert full.exists(), f"{step['id']}: {relative} (from {workdir.relative_to(REPO)}/) does not exist"

    apply = next(s for s in steps if s["id"] == "tf-apply")
    assert "BRANCH_NAME" in json.dumps(apply), "tf-apply must depend on the branch"


# ---------------------------------------------------------------------- operability

PAGES = {"function_errors", "backlog_age", "dead_lettered_messages", "unbalanced_audit", "no_traffic"}
WARNINGS = {"records_dead_lettered"}
RUNBOOK = REPO / "docs" / "runbook.md"


def _runbook_anchors() -> set[str]:
    text = RUNBOOK.read_text(encoding="utf-8")
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}


def test_every_alert_pages_or_warns_and_links_to_its_runbook_section() -> None:
    cfg = config()
    policies = cfg.of_type("google_monitoring_alert_policy")
    assert set(policies) == PAGES | WARNINGS, f"alerts: {sorted(policies)}"
    runbook = evaluate("${local.runbook}")
    anchors = _runbook_anchors()
    for name, body in policies.items():
        [doc] = body["documentation"]
        assert doc["mime_type"] == "text/markdown"
        assert f"${{local.runbook.{name}}}" in doc["content"], f"{name}: its documentation must link local.runbook.{name}"
        url, _, anchor = runbook[name].partition("#")
        assert url == evaluate("${var.runbook_url}") and anchor in anchors, f"{name}: no section #{anchor} in {RUNBOOK}"
        page = name in PAGES
        assert body["severity"] == ("CRITICAL" if page else "WARNING"), name
        channels = "${var.notification_channels}" if page else "${var.warning_notification_channels}"
        assert body["notification_channels"] == channels, name
        assert body["conditions"], name


def test_alert_conditions_watch_what_they_say() -> None:
    cfg = config()
    policies = cfg.of_type("google_monitoring_alert_policy")

    def condition(name: str) -> dict[str, Any]:
        [block] = policies[name]["conditions"]
        return (block.get("condition_threshold") or block["condition_absent"])[0]

    assert 'response_code_class="5xx"' in condition("function_errors")["filter"]
    assert "run.googleapis.com/request_count" in condition("function_errors")["filter"]
    assert "subscription/oldest_unacked_message_age" in condition("backlog_age")["filter"]
    assert condition("backlog_age")["threshold_value"] == "${var.backlog_age_alert_seconds}"
    held = condition("dead_lettered_messages")
    assert "num_undelivered_messages" in held["filter"] and held["threshold_value"] == 0
    assert "${local.hold_subscription_filter}" in held["filter"]
    holds = {f"{topic}-hold" for topic in evaluate("${local.dead_letter_topics}").values()}
    terraform_holds = {evaluate(cfg.resources[("google_pubsub_subscription", "dead_letter")]["name"], each)
                       for each in instances(cfg.resources[("google_pubsub_subscription", "dead_letter")]).values()}
    assert terraform_holds == {f"${{google_pubsub_topic.dead_letter.{k}.name}}-hold" for k in _functions()}, (
        "hold subscriptions are <dead-letter topic>-hold")
    assert holds == {"tracking-events-dead-letter-hold", "backend-logs-dead-letter-hold", "partner-drops-dead-letter-hold"}
    assert "unbalanced_audits" in condition("unbalanced_audit")["filter"]
    assert 'jsonPayload.balanced=false' in cfg.resources[("google_logging_metric", "unbalanced_audits")]["filter"]
    absent = condition("no_traffic")
    assert "topic/send_request_count" in absent["filter"] and absent["duration"] == "${var.no_traffic_alert_window}"
    assert policies["no_traffic"]["for_each"] == "${var.no_traffic_alert_window == null ? {} : local.topics}"
    assert set(instances(policies["no_traffic"])) == {"events", "logs"}


def test_local_and_production_name_dead_letters_the_same() -> None:
    from tools import provision

    functions = _functions()
    local_sources = {"ingest_events": "tracking-events", "ingest_logs": "backend-logs",
                     "ingest_file": provision.PARTNER_DROPS}  # tools/local_run.py's routes
    for name, fn in functions.items():
        assert fn["source_name"] == local_sources[name], name
        production_hold = f"{evaluate('${local.dead_letter_topics}')[name]}-hold"
        assert provision.hold_subscription(local_sources[name]) == production_hold
        assert provision.dead_letter_topic(local_sources[name]) == evaluate("${local.dead_letter_topics}")[name]


def test_log_metrics_read_what_the_code_logs() -> None:
    from ingest.errors import FailureKind
    from ingest.sinks.audit import Counts

    cfg = config()
    assert evaluate("${local.failure_kinds}") == [k.value for k in FailureKind], "one metric per FailureKind"
    counts = set(Counts.__dataclass_fields__)
    assert set(evaluate("${local.ingested_counts}")) <= counts
    assert {"received", "rows_sent", "dead_lettered", "consent_dropped", "pseudonymised"} <= set(
        evaluate("${local.ingested_counts}"))
    pipeline = (REPO / "functions" / "ingest" / "pipeline.py").read_text(encoding="utf-8")
    for event, fields in {"ingested": ("function=", "contract=", "balanced=", "as_row()"),
                          "records_dead_lettered": ("function=", "contract=", "count=", "error_types=")}.items():
        call = re.search(r'log\("\w+", "' + event + r'".*?\n(?:.*\n){0,4}', pipeline)
        assert call and all(f in call.group(0) for f in fields), f"pipeline.py logs {event} with {fields}"
    metrics = cfg.of_type("google_logging_metric")
    for name, body in metrics.items():
        assert "${local.function_log_filter}" in body["filter"], name
        assert set(body["label_extractors"] if isinstance(body.get("label_extractors"), dict) else
                   evaluate(body["label_extractors"])) == {"function", "contract"}, name
    dashboard = cfg.resources[("google_monitoring_dashboard", "main")]
    text = json.dumps(cfg.locals["dashboard_charts"]) + json.dumps(cfg.locals["ingested_promql"]) + json.dumps(
        cfg.locals["dead_lettered_by_kind_promql"])
    assert "local.dashboard_charts" in dashboard["dashboard_json"]
    for used in re.findall(r"user_event_ingestion_(\w+?)_sum", text.replace("${name}", "NAME").replace("${kind}", "KIND")):
        assert used in {"NAME", "dead_lettered_KIND"}, used


def test_the_dead_letter_expires_after_the_same_days_locally_and_in_production() -> None:
    options = json.loads((SCHEMAS / "ingestion_errors" / "table.json").read_text(encoding="utf-8"))
    assert options["partition_expiration_days"] == evaluate("${var.dead_letter_retention_days}") == 30
    expr = config().locals["partition_expiration_ms"]
    assert "local.dead_letter_table ? var.dead_letter_retention_days" in expr, expr
    assert "var.partition_expiration_days" in expr, "the other tables keep the environment's retention"
    others = [p for p in SCHEMAS.glob("*/table.json") if p.parent.name != "ingestion_errors"]
    assert not any("partition_expiration_days" in json.loads(p.read_text()) for p in others), (
        "only the dead letter has a retention of its own")
