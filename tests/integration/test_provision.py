"""The local stack's dataset from schemas/ (tools/provision.py) on the BigQuery emulator: views
have the columns the docs say, additive schema changes reach an existing table in place (its
rows stay), breaking ones are refused."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from google.cloud import bigquery

from tests.integration.conftest import CFG, REPO
from tools import provision
from tools.catalog import BotList, Catalog


def _shape(fields: list) -> list[tuple]:
    legacy = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
    out = []
    for f in fields:
        f = f if isinstance(f, dict) else f.to_api_repr()
        out.append((f["name"], legacy.get(f["type"], f["type"]), _shape(f.get("fields", []))))
    return out


def test_views_have_the_columns_their_docs_list(bq: bigquery.Client, names) -> None:
    for view in Catalog().views():
        table = bq.get_table(f"{CFG.project}.{names.dataset}.{view.name}")
        assert table.table_type == "VIEW"
        assert _shape(table.schema) == _shape(view.fields), view.name


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", copy)
    return copy


def _edit(schemas: Path, table: str, change) -> None:
    path = schemas / table / "bigquery.json"
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_an_additive_change_reaches_an_existing_table_and_keeps_its_rows(bq: bigquery.Client, schemas_copy) -> None:
    dataset = f"it_schema_{uuid.uuid4().hex[:6]}"
    provision.create_dataset(bq, dataset, schemas_copy)
    table = f"{CFG.project}.{dataset}.pro_log"
    row = {"message": "Offer has been created", "log_timestamp": "2026-11-10T10:00:00Z", "partition_date": "2026-11-10",
           "row_id": "r1", "ingested_at": "2026-11-10T10:00:01Z"}
    assert bq.insert_rows_json(table, [row]) == []
    created = bq.get_table(table).created
    last = bq.get_table(table).schema[-1].name

    _edit(schemas_copy, "pro_log", lambda fields: fields + [{"name": "added_later", "type": "JSON", "mode": "NULLABLE",
                                                               "description": "a new column"}])
    provision.create_dataset(bq, dataset, schemas_copy)
    after = bq.get_table(table)
    assert [f.name for f in after.schema][-2:] == [last, "added_later"]
    assert after.created == created, "updated in place, not recreated"
    [kept] = bq.query(f"SELECT row_id, added_later FROM `{table}` WHERE partition_date = '2026-11-10'").result()
    assert (kept["row_id"], kept["added_later"]) == ("r1", None)
    view = bq.get_table(f"{CFG.project}.{dataset}.pro_log_deduplicated")
    assert [f.name for f in view.schema][-1] == "added_later", "the views over it see the new column"


def test_a_breaking_change_is_refused_and_the_table_is_left_alone(bq: bigquery.Client, schemas_copy) -> None:
    dataset = f"it_schema_{uuid.uuid4().hex[:6]}"
    provision.create_dataset(bq, dataset, schemas_copy)
    table = f"{CFG.project}.{dataset}.pro_log"
    before = [f.name for f in bq.get_table(table).schema]
    _edit(schemas_copy, "pro_log", lambda fields: [f for f in fields if f["name"] != "device_id"])
    with pytest.raises(provision.SchemaChangeError, match="device_id"):
        provision.create_dataset(bq, dataset, schemas_copy)
    assert [f.name for f in bq.get_table(table).schema] == before


def test_the_bot_list_leaves_listed_browsers_and_clients_out(bq: bigquery.Client) -> None:
    dataset = f"it_bots_{uuid.uuid4().hex[:6]}"
    provision.create_dataset(bq, dataset, REPO / "schemas", bots=BotList(("Ghost Browser",), ("monitor-1",)))

    def row(n: int, user: str, browser: str, device: str = "desktop") -> dict:
        return {"event_name": "page_view", "user_pseudo_id": user, "event_date": "2026-11-10",
                "event_timestamp": "2026-11-10T10:00:00Z", "user_web_browser": browser,
                "user_device_category": device, "row_id": f"b{n}", "ingested_at": "2026-11-10T10:00:01Z"}

    rows = [row(1, "person", "Chrome"), row(2, "person-2", "Ghost Browser"), row(3, "monitor-1", "Chrome"),
            row(4, "crawler", "Googlebot", device="bot"), row(5, "no-browser", None, device=None)]
    assert bq.insert_rows_json(f"{CFG.project}.{dataset}.pro_event", rows) == []
    kept = [r["user_pseudo_id"] for r in bq.query(
        f"SELECT user_pseudo_id FROM `{CFG.project}.{dataset}.pro_event_humans` "
        f"WHERE event_date = '2026-11-10' ORDER BY user_pseudo_id").result()]
    assert kept == ["no-browser", "person"]
