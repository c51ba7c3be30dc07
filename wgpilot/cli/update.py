"""``wgpilot update [--check] [--version V]``"""

from __future__ import annotations

import sys

import click

from wgpilot.cli.options import common
from wgpilot.cli.output import EXIT_RUNTIME, fail, run
from wgpilot.config import Settings
from wgpilot.update import restart as restart_mod
from wgpilot.update.manifest import UpdateError
from wgpilot.update.store import open_store
from wgpilot.update.updater import Updater, check_writable, running_binary


@click.command()
@common
@click.option("--check", "check_only", is_flag=True, help="only say whether an update is available")
@click.option(
    "--version",
    "version",
    metavar="V",
    help="install exactly this version, also an older one (<release_url>/download/vV/)",
)
@click.option(
    "--restart",
    type=click.Choice(["auto", "signal", "none"]),
    default="auto",
    show_default=True,
    help="signal: ask the running server to exit with code 75, which its supervisor (the systemd unit) "
    "restarts on; none: only replace the file; auto: signal when a server is running",
)
@click.option(
    "--health-timeout",
    type=float,
    default=restart_mod.HEALTH_TIMEOUT,
    show_default=True,
    help="seconds to wait for /health",
)
def update(
    settings: Settings, check_only: bool, version: str | None, restart: str, health_timeout: float
) -> None:
    """Verified self-update from the signed release manifest, with rollback."""

    async def body() -> int:
        async with open_store(settings) as store:
            updater = Updater(settings, store, say=lambda m: click.echo(m, err=True))
            try:
                plan = await updater.plan(version)
                if check_only:
                    state = "update available" if plan.available else "up to date"
                    click.echo(f"current {plan.current}, latest {plan.manifest.version}: {state}")
                    return 0
                target = running_binary()
                check_writable(target)
                restarter = restart_mod.choose(restart, settings.data_dir / "wgpilot.pid")
                message = await updater.apply(
                    plan,
                    explicit=version is not None,
                    target=target,
                    restarter=restarter,
                    health_timeout=health_timeout,
                )
            except UpdateError as exc:
                fail(str(exc), EXIT_RUNTIME)
            click.echo(message)
            return 0

    sys.exit(run(body))
