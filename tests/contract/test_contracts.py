"""The schema files are the source of truth: examples, table options and emitted rows agree."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import orjson
import pytest

from ingest import contracts
from ingest.config import Settings
from ingest.decode import decode_line
from ingest.pipeline import prepare
from ingest.records import SourceRef
from ingest.transform.pro_event import DERIVED_COLUMNS
from tests.support.rowcheck import row_problems

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
SETTINGS = Settings(schemas_dir=SCHEMAS, pseudonymisation_key="test-key-0123456789")
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _examples(kind: str) -> list[tuple[str, Path]]:
    return [(path.parent.parent.name, path) for path in sorted(SCHEMAS.glob(f"*/examples/*.{kind}.json"))]


@pytest.mark.parametrize("contract,path", _examples("pass"), ids=lambda v: getattr(v, "name", v))
def test_pass_example_validates_and_emits_a_row_that_fits_the_table(contract: str, path: Path) -> None:
    record = decode_line(path.read_bytes(), SourceRef(kind="gcs", bucket="b", object=path.name, generation=1), 10**6)
    assert contracts.input_validator(SCHEMAS, contract).errors(record.value) == []
    prepared = prepare(contract, [record], SETTINGS, received_at=RECEIVED)
    assert len(prepared.dead_letter) == 0 and len(prepared.rows) == 1, prepared.dead_letter.take()
    table = contracts.table_schema(SCHEMAS, contract)
    assert row_problems(table, orjson.loads(prepared.rows[0][1])) == []


@pytest.mark.parametrize("contract,path", _examples("fail"), ids=lambda v: getattr(v, "name", v))
def test_fail_example_is_rejected_with_every_reason(contract: str, path: Path) -> None:
    value = orjson.loads(path.read_bytes())
    reasons = contracts.input_validator(SCHEMAS, contract).errors(value)
    assert len(reasons) >= 2, reasons
    assert all(reason.path.startswith("$") and reason.message for reason in reasons)


def test_every_contract_has_examples_of_both_kinds() -> None:
    for contract in contracts.CONTRACTS:
        assert list((SCHEMAS / contract / "examples").glob("*.pass.json")), contract
        assert list((SCHEMAS / contract / "examples").glob("*.fail.json")), contract


@pytest.mark.parametrize("name", sorted(p.parent.name for p in SCHEMAS.glob("*/table.json")))
def test_table_options_point_at_real_columns(name: str) -> None:
    table = contracts.table_schema(SCHEMAS, name)
    assert table.table_id == name
    partition = table.options["time_partitioning"]["field"]
    assert table.columns[partition].type in ("DATE", "TIMESTAMP")
    assert table.columns[partition].mode == "REQUIRED"
    assert set(table.options.get("clustering", [])) <= set(table.columns)
    assert all(field.get("description") for field in table.raw_fields), "every column is documented"


def test_every_input_schema_is_valid_draft7() -> None:
    for contract in contracts.CONTRACTS:
        jsonschema.Draft7Validator.check_schema(orjson.loads((SCHEMAS / contract / "input.schema.json").read_bytes()))


def test_contract_tables_carry_every_seed_column() -> None:
    """Seed 000 and 001 column lists are the contract: none may go missing from the tables."""
    seeds = Path(__file__).resolve().parents[3] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    for contract, seed in (("pro_event", "000_"), ("pro_log", "001_")):
        text = next(seeds.glob(f"{seed}*.txt")).read_text().split("name data_type description", 1)[1]
        names = {line.split(" ", 1)[0] for line in text.splitlines() if line.strip() and line[0].islower()}
        names = {n for n in names if n.replace("_", "").isalnum() and n == n.lower()}
        missing = names - set(contracts.table_schema(SCHEMAS, contract).columns)
        assert not missing, f"{contract} lacks seed columns {sorted(missing)}"


def test_the_row_check_catches_unknown_columns_and_wrong_types() -> None:
    """The guard above must be able to fail: a stray column or a mistyped value is reported."""
    table = contracts.table_schema(SCHEMAS, "pro_event")
    row = {"event_name": "x", "event_date": "2026-11-23", "event_timestamp": "2026-11-23T10:00:00.000000Z",
           "user_pseudo_id": "u", "row_id": "r", "ingested_at": "2026-11-23T10:00:00.000000Z"}
    assert row_problems(table, row) == []
    assert row_problems(table, {**row, "offerId": "1"}) == ["offerId: no such column in pro_event"]
    assert row_problems(table, {**row, "session_number": "3"}) == ["session_number: '3' is not a INT64"]
    assert row_problems(table, {**row, "is_edition": 1}) == ["is_edition: 1 is not a BOOL"]
    assert row_problems(table, {k: v for k, v in row.items() if k != "event_date"}) == [
        "event_date: REQUIRED column missing"]


def test_columns_the_event_transform_derives_are_columns_of_its_table() -> None:
    # A typo in DERIVED_COLUMNS would let an event parameter fill that column again.
    table = contracts.table_schema(SCHEMAS, "pro_event")
    assert DERIVED_COLUMNS <= set(table.columns), DERIVED_COLUMNS - set(table.columns)


def test_the_settings_page_is_generated_from_the_settings_table() -> None:
    from tools import settings_doc

    assert settings_doc.main(["--check"]) == 0, "docs/settings.md is stale: run `python -m tools.settings_doc`"


def test_the_dead_letter_documents_every_failure_kind() -> None:
    from ingest.errors import FailureKind

    field = next(f for f in contracts.table_schema(SCHEMAS, "ingestion_errors").raw_fields if f["name"] == "error_type")
    listed = {word.strip(" .,()") for word in field["description"].split(":", 1)[1].split("(")[0].split(",")}
    assert listed == {kind.value for kind in FailureKind}


def test_every_contract_table_has_the_pipeline_columns() -> None:
    for contract in contracts.CONTRACTS:
        table = contracts.table_schema(SCHEMAS, contract)
        assert contracts.PIPELINE_COLUMNS | {contracts.UNMAPPED_COLUMN} <= set(table.columns), contract
        assert table.identity_kind in ("content", "emission")
        assert table.identity_exclude <= set(table.columns), table.identity_exclude - set(table.columns)
