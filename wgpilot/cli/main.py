"""``wgpilot`` command line: parse, call a backend or service, print. No logic here."""

from __future__ import annotations

import sys

import click

from wgpilot import config as config_mod
from wgpilot import unpacked
from wgpilot.cli.output import EXIT_INPUT, fail
from wgpilot.version import info as version_info


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """wgpilot — self-hosted WireGuard management.

    Run `wgpilot serve` for the server, or manage networks and peers from here.
    Mutating commands go through the running server when there is one, else
    straight to the database and kernel.
    """


@cli.command()
def version() -> None:
    """Print version, commit and build date."""
    v = version_info()
    click.echo(f"wgpilot {v['version']} (commit {v['commit']}, built {v['date']})")


@cli.group(name="config")
def config_group() -> None:
    """Configuration file tools."""


@config_group.command("check")
@click.option("--config", "config", type=click.Path(dir_okay=False), help="config file to check")
def config_check(config: str | None) -> None:
    """Validate the configuration (file + environment); names the bad key and value."""
    try:
        settings = config_mod.load(config)
    except config_mod.ConfigError as exc:
        fail(str(exc), EXIT_INPUT)
    source = settings.config_file or "defaults and environment only"
    click.echo(f"configuration OK ({source})")


@config_group.command("default")
def config_default() -> None:
    """Print a commented config file with every option at its default."""
    click.echo(config_mod.default_toml(), nl=False)


def _register() -> None:
    from wgpilot.cli import admin, admin_setup, network, peer, serve, update

    cli.add_command(network.network)
    cli.add_command(peer.peer)
    cli.add_command(serve.serve)
    cli.add_command(update.update)
    for command in [*admin.COMMANDS, *admin_setup.COMMANDS]:
        cli.add_command(command)


_register()


def main() -> None:
    unpacked.hold_own_copy()
    try:
        cli.main(prog_name="wgpilot", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # click itself failed: still one line
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


__all__ = ["cli", "main"]
