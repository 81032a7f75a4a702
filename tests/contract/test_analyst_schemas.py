"""The analyst layer's schema files: generated table docs up to date, views and the activity
table consistent with the tables they are built from."""

from __future__ import annotations

from tools import table_docs
from tools.catalog import Catalog, Identity


def test_checked_in_table_docs_are_what_schemas_give() -> None:
    assert table_docs.stale() == [], "docs/tables/ is stale: run `make docs`"


def test_every_generated_page_carries_the_do_not_edit_banner() -> None:
    pages = sorted(table_docs.OUT.glob("*.md"))
    assert pages
    for page in pages:
        assert page.read_text(encoding="utf-8").startswith(table_docs.BANNER + "\n"), page.name


def test_every_object_has_a_page_and_every_column_a_description() -> None:
    catalog = Catalog()
    names = {p.stem for p in table_docs.OUT.glob("*.md")} - {"README"}
    assert names == set(catalog.objects)
    for obj in catalog.objects.values():
        assert obj.description, obj.name
        for name, field in table_docs._columns(obj.fields):
            assert field.get("description"), f"{obj.name}.{name} has no description"


def test_activity_origin_is_the_event_origin_record() -> None:
    catalog = Catalog()

    def shape(fields: list[dict]) -> list[tuple]:
        return [(f["name"], f["type"], f.get("mode", "NULLABLE")) for f in fields]

    [traffic_origin] = [f for f in catalog.objects["pro_event"].fields if f["name"] == "traffic_origin"]
    [origin] = [f for f in catalog.objects["user_activity"].fields if f["name"] == "origin"]
    assert shape(origin["fields"]) == shape(traffic_origin["fields"]), "user_activity.origin drifted from traffic_origin"


def test_views_read_objects_that_exist_and_take_their_columns_from_one_they_read() -> None:
    catalog = Catalog()
    for view in catalog.views():
        assert set(view.reads) <= set(catalog.objects), view.name
        assert view.options["columns_from"] in view.reads, view.name
        assert catalog.filter_column(view), f"{view.name}: no partitioning column to filter on"


def test_tables_with_a_deduplicated_view_have_the_columns_its_template_uses() -> None:
    catalog = Catalog()
    deduplicated = [v for v in catalog.views() if v.template and v.template.name == "deduplicated_view.sql"]
    assert {v.name for v in deduplicated} == {"pro_event_deduplicated", "pro_log_deduplicated",
                                              "userpilot_event_deduplicated", "ingestion_audit_deduplicated",
                                              "ingestion_errors_deduplicated"}
    for view in deduplicated:
        table = catalog.objects[view.options["columns_from"]]
        identity = Identity.of(table)
        columns = {f["name"]: f for f in table.fields}
        assert {identity.column, *identity.copies_by, identity.partition} <= set(columns), table.name
        assert columns[identity.column]["mode"] == "REQUIRED", f"{table.name}: every copy has its {identity.column}"
        assert catalog.prunes(view) == identity.prunes == (identity.partition not in identity.copies_by), table.name


def test_only_the_sinks_deduplicate_on_their_arrival_time() -> None:
    """The contracts' partitioning columns come from the record (copies share them, the views
    prune); the audit's and the dead letter's are when each copy was made (the views cannot)."""
    catalog = Catalog()
    identities = {t.name: Identity.of(t) for t in catalog.tables() if "identity" in t.options}
    assert {name: (i.column, i.prunes, i.keep) for name, i in identities.items()} == {
        "pro_event": ("row_id", True, "first"), "pro_log": ("row_id", True, "first"),
        "userpilot_event": ("row_id", True, "first"), "ingestion_errors": ("error_id", False, "first"),
        "ingestion_audit": ("audit_id", False, "latest")}  # a message re-run after a fix: its latest audit
