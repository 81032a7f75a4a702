"""``ingest``: the command line of the pipeline, for partners and operators.

Each subcommand lives in a module of its own and runs the same code as the functions. Exit
codes: 0 done, 1 the input had problems (reported), 2 a usage or configuration error.
"""

from __future__ import annotations

import sys

import click

from ingest.config import ConfigError, Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Validate, replay, publish and inspect what the pipeline ingests."""


@main.command("settings")
def show_settings() -> None:
    """Print the settings this environment gives, validated as an instance would (secrets hidden)."""
    try:
        current = Settings.from_env()
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    for name, value in vars(current).items():
        click.echo(f"{name} = {'(secret)' if name == 'pseudonymisation_key' and value else value}")


def _register() -> None:
    from ingest.cli.dead_letter import dead_letter
    from ingest.cli.files import replay, validate
    from ingest.cli.publish import publish_command

    for command in (validate, replay, dead_letter, publish_command):
        main.add_command(command)


_register()
