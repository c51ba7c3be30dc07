"""``wgpilot serve``"""

from __future__ import annotations

import logging
import socket
import sys

import click

from wgpilot import locate, logsetup, sdnotify
from wgpilot.cli.options import common, driver_option
from wgpilot.cli.output import run
from wgpilot.config import Settings
from wgpilot.daemon import Daemon
from wgpilot.domain.errors import RuntimeFailure
from wgpilot.monitor import Monitor
from wgpilot.runtime import open_context, settle_heap
from wgpilot.services import metrics_access, setup_state
from wgpilot.tls.manager import DbSettingsStore, TlsError, TlsManager
from wgpilot.update.store import DbVersionStore
from wgpilot.update.updater import UpdateChecker, Updater, has_source
from wgpilot.web import banner
from wgpilot.web.app import create_app
from wgpilot.web.server import WebServer, http_limits
from wgpilot.web.state import WebState

log = logging.getLogger(__name__)

@click.command()
@common
@driver_option
@click.option("--listen", help="HTTPS address HOST:PORT (default :443, falling back to :8443)")
@click.option("--dev", is_flag=True, help="readable text logs at debug level")
def serve(settings: Settings, listen: str | None, dev: bool) -> None:
    """Run the server: HTTPS UI and API, reconcile the kernel with the database and keep it converged."""
    if listen:
        settings = settings.replace(listen=listen)
    logsetup.setup(
        level="debug" if dev else settings["log.level"], fmt="text" if dev else settings["log.format"]
    )

    async def body() -> int:
        async with open_context(settings) as ctx:
            # Shown in the banner once HTTPS is bound: the install token, or what to do.
            pending = await setup_state.pending(ctx)
            token = pending.token if pending is not None else None
            note = pending.message if pending is not None and token is None else None
            await metrics_access.ensure(ctx)  # installs from before the generated token get one now
            daemon = Daemon(settings, ctx)
            state = WebState(ctx, settings)
            tls = TlsManager(settings, DbSettingsStore(ctx.db, ctx.settings))
            try:
                ssl_context = await tls.prepare()
            except TlsError as exc:
                raise RuntimeFailure(str(exc), code="TLS_FAILED") from exc
            state.tls = tls
            state.on_change = daemon.request_reconcile
            if has_source(settings):
                state.updates = UpdateChecker(
                    Updater(settings, DbVersionStore(ctx.db, ctx.settings)), settings["update.check_interval"]
                )
                if settings["update.check_interval"]:
                    daemon.add_task("update-check", state.updates.run)
            # A new hostname or public IP belongs in the self-signed certificate now,
            # not at the next hourly check.
            ctx.on_identity_change(tls.refresh)
            monitor = Monitor(ctx, settings, started_at=state.started_at)
            state.monitor = monitor
            daemon.add_task("monitor", monitor.run, stop=monitor.stop)
            app = create_app(state, record=monitor.record_request)
            web = WebServer(
                app,
                ssl_context,
                settings["listen"],
                locate.control_socket(settings.data_dir),
                http_limits(settings),
            )
            web.on_bound.append(lambda address: setattr(tls, "https_port", address[1]))
            names = [await ctx.settings.get(ctx.db, "hostname") or "", socket.gethostname()]
            try:
                addresses = await ctx.host.addresses()
            except Exception:  # they only add URLs to the banner; the host names still do
                log.warning("could not list local addresses for the start-up banner", exc_info=True)
                addresses = set()
            shown: list[tuple[str, int]] = []

            def announce(address: tuple[str, int]) -> None:
                found = banner.urls(address, hostnames=names, addresses=addresses)
                click.echo(banner.text(found, token=token, note=note, data_dir=settings.data_dir), err=True)
                shown.append(address)

            web.on_bound.append(announce)
            daemon.add_task("tls", tls.run)
            daemon.add_task("web", web.run, stop=web.stop)
            sdnotify.attach(daemon, ready=web.listening.wait)
            settle_heap()
            try:
                return await daemon.run()
            finally:
                if pending is not None and not shown:  # never bound: not lost with the banner
                    click.echo(pending.message, err=True)

    sys.exit(run(body))
