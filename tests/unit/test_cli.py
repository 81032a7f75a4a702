"""The ``ingest`` command, driven through click's runner (same code as the installed script)."""

from click.testing import CliRunner

from ingest.cli import main


def test_settings_are_shown_validated_and_without_secrets(monkeypatch):
    monkeypatch.setenv("PSEUDONYMISATION_KEY", "a-secret-key-0123456789")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 0 and "time_zone = Europe/Paris" in result.output
    assert "a-secret-key" not in result.output and "pseudonymisation_key = (secret)" in result.output


def test_a_bad_setting_is_a_usage_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("FILE_BATCH_LINES", "0")
    result = CliRunner().invoke(main, ["settings"])
    assert result.exit_code == 2 and "FILE_BATCH_LINES=0 must be between 1 and 100000" in result.output
