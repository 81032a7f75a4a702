"""tools/catalog.py: settings validated with the variable named, templates filled strictly."""

from __future__ import annotations

import pytest

from tools.catalog import BotList, Catalog, SettingsError, SqlSettings, render


@pytest.mark.parametrize("env, variable", [
    ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE"),
    ({"ACTIVITY_INACTIVITY_MINUTES": "0"}, "ACTIVITY_INACTIVITY_MINUTES"),
    ({"ACTIVITY_INACTIVITY_MINUTES": "half an hour"}, "ACTIVITY_INACTIVITY_MINUTES"),
    ({"ACTIVITY_LOOKBACK_DAYS": "400"}, "ACTIVITY_LOOKBACK_DAYS"),
    ({"BQ_DATASET": "my-dataset"}, "BQ_DATASET"),
    ({"GCP_PROJECT": "Not A Project"}, "GCP_PROJECT"),
])
def test_an_invalid_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        SqlSettings.from_env(env)


def test_defaults_are_seed_002s_and_the_functions_time_zone() -> None:
    settings = SqlSettings.from_env({})
    assert (settings.project, settings.dataset, settings.time_zone) == ("local-dev", "analytics", "Europe/Paris")
    assert (settings.inactivity_minutes, settings.lookback_days) == (30, 3)


def test_bot_lists_become_sql_array_literals() -> None:
    settings = SqlSettings(project="local-dev", dataset="d", bots=BotList(("Ghost \"Browser\"",), ("mon-1", "é")))
    variables = settings.variables()
    assert variables["bot_browsers"] == '["Ghost \\"Browser\\""]'
    assert variables["bot_user_pseudo_ids"] == '["mon-1", "\\u00e9"]'
    sql = Catalog().objects["pro_event_humans"].sql(settings)
    assert 'IN UNNEST(ARRAY<STRING>["mon-1", "\\u00e9"])' in sql and "`local-dev.d.pro_event_deduplicated`" in sql


def test_a_placeholder_without_a_value_is_an_error(tmp_path) -> None:
    template = tmp_path / "view.sql"
    template.write_text("SELECT * FROM `${project}.${dataset}.${missing}`")
    with pytest.raises(SettingsError, match="missing"):
        render(template, SqlSettings(project="local-dev", dataset="d"))


def test_objects_come_after_what_they_read() -> None:
    order = list(Catalog().objects)
    for obj in Catalog().objects.values():
        for read in obj.reads:
            assert order.index(read) < order.index(obj.name), f"{obj.name} before {read}"
