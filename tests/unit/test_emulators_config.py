"""StackConfig: defaults, environment overrides and the client environment (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.emulators import ENV_OVERRIDES, REPO_ROOT, StackConfig


def test_defaults_match_the_documented_stack() -> None:
    cfg = StackConfig.from_env({})

    assert (cfg.pubsub_port, cfg.gcs_port, cfg.bigquery_port, cfg.bigquery_grpc_port) == (8085, 4443, 9050, 9060)
    assert (cfg.project, cfg.bucket, cfg.notification_topic) == ("local-dev", "partner-drops", "partner-drops-notifications")
    assert cfg.state_dir == REPO_ROOT / ".local" / "stack"
    assert cfg.logs_dir == cfg.state_dir / "logs"


def test_every_field_can_be_overridden_from_the_environment(tmp_path: Path) -> None:
    env = {
        "PUBSUB_PORT": "18085",
        "GCS_PORT": "14443",
        "BIGQUERY_PORT": "19050",
        "BIGQUERY_GRPC_PORT": " 19060 ",
        "GCP_PROJECT": "proj-x",
        "PARTNER_BUCKET": "bucket-x",
        "GCS_NOTIFICATION_TOPIC": "topic-x",
        "LOCAL_STACK_DIR": str(tmp_path),
    }

    cfg = StackConfig.from_env(env)

    assert cfg == StackConfig(18085, 14443, 19050, 19060, "proj-x", "bucket-x", "topic-x", tmp_path)
    assert set(env) == set(ENV_OVERRIDES.values())


def test_empty_variables_keep_defaults_and_relative_state_dir_is_under_the_repo() -> None:
    cfg = StackConfig.from_env({"PUBSUB_PORT": "", "GCP_PROJECT": "  ", "LOCAL_STACK_DIR": ".local/ci-stack"})

    assert cfg.pubsub_port == 8085
    assert cfg.project == "local-dev"
    assert cfg.state_dir == REPO_ROOT / ".local" / "ci-stack"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GCS_PORT": "http"}, "GCS_PORT='http' is not a port number"),
        ({"BIGQUERY_PORT": "70000"}, "bigquery_port=70000 is not a TCP port"),
        ({"BIGQUERY_GRPC_PORT": "9050"}, "ports must differ"),
    ],
)
def test_invalid_overrides_are_rejected_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.from_env(env)


def test_client_env_points_the_google_libraries_at_the_stack() -> None:
    cfg = StackConfig.from_env({"PUBSUB_PORT": "18085", "GCS_PORT": "14443", "BIGQUERY_PORT": "19050", "GCP_PROJECT": "p1"})

    assert cfg.client_env() == {
        "PUBSUB_EMULATOR_HOST": "127.0.0.1:18085",
        "STORAGE_EMULATOR_HOST": "http://127.0.0.1:14443",
        "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:19050",
        "BIGQUERY_GRPC_EMULATOR_HOST": "127.0.0.1:9060",
        "GCP_PROJECT": "p1",
        "GOOGLE_CLOUD_PROJECT": "p1",
    }
    assert cfg.bigquery_grpc_target == "127.0.0.1:9060"
