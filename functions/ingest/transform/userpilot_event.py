"""userpilot_event: one line of Userpilot's raw export → one row, interaction names parsed."""

from __future__ import annotations

from typing import Any

from ingest.contracts import PIPELINE_COLUMNS, UNMAPPED_COLUMN
from ingest.enrich.useragent import parse_user_agent
from ingest.transform.coerce import RowBuilder
from ingest.transform.context import TransformContext
from ingest.transform.timeutil import event_time

_DERIVED = frozenset({"inserted_at", "metadata", "interaction_entity_type", "interaction_entity_id",
                      "interaction_status", UNMAPPED_COLUMN}) | PIPELINE_COLUMNS


def to_row(event: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
    row = RowBuilder(ctx.table)
    for column in ctx.table.columns:
        if column not in _DERIVED:
            row.set(column, event.get(column), f"$.{column}")
    row.set("inserted_at", event_time(event["inserted_at"], "$.inserted_at", ctx.received_at))
    if event.get("metadata") is not None:
        row.set("metadata", event["metadata"], "$.metadata")
    if event["event_type"] == "interaction":
        entity_type, entity_id, status = event["event_name"].split(":")
        row.set("interaction_entity_type", entity_type)
        row.set("interaction_entity_id", entity_id)
        row.set("interaction_status", status)
    if event.get("user_agent") and not (event.get("device_type") and event.get("operating_system")
                                        and event.get("browser")):
        device = parse_user_agent(event["user_agent"])
        row.set("device_type", event.get("device_type") or device.category)
        row.set("operating_system", event.get("operating_system") or device.operating_system)
        row.set("browser", event.get("browser") or device.browser)
    if not ctx.input_fields.issuperset(event):
        row.set(UNMAPPED_COLUMN, {name: value for name, value in event.items() if name not in ctx.input_fields})
    return row.build()
