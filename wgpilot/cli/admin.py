"""``wgpilot init`` and ``wgpilot status``."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import click

from wgpilot.cli.backend import backend
from wgpilot.cli.options import common
from wgpilot.cli.output import human_bytes, print_json, run, table
from wgpilot.config import Settings
from wgpilot.domain import validate
from wgpilot.runtime import open_context
from wgpilot.services import metrics_access, setup_state


@click.command()
@common
@click.option("--install-token", help="use this one-time token instead of generating one")
@click.option("--public-ip", help="address clients connect to (default: detected from the default route)")
@click.option("--hostname", help="DNS name clients connect to (preferred over the IP in client configs)")
def init(settings: Settings, install_token: str | None, public_ip: str | None, hostname: str | None) -> None:
    """Create the database and print a new one-time install token for the setup wizard
    (none once the administrator exists: sign in and finish the wizard instead)."""

    async def body() -> tuple[str, str | None, str | None]:
        """(what to say: complete, admin or token; the token; the address to open)."""
        async with open_context(settings, kernel=False) as ctx:
            identity = {}
            if public_ip is not None:
                identity["public_ip"] = validate.public_ip(public_ip, "--public-ip")
            if hostname is not None:
                identity["hostname"] = validate.hostname(hostname, "--hostname")
            if identity:
                async with ctx.db.transaction() as tx:
                    for key, value in identity.items():
                        await ctx.settings.set(tx, key, value)
            await metrics_access.ensure(ctx)
            if await setup_state.is_complete(ctx):
                return "complete", None, None
            address = identity.get("hostname") or identity.get("public_ip") or await ctx.host.public_address()
            if await setup_state.admin_exists(ctx):
                return "admin", None, address  # a token could do nothing now
            return "token", await setup_state.issue_install_token(ctx, install_token), address

    state, token, address = run(body)
    if state == "complete":
        click.echo(f"wgpilot is already set up ({settings.db_path}); log in with your admin account")
        return
    url = f"https://{address or '<this server>'}/"
    click.echo(f"database ready: {settings.db_path}")
    if token is None:
        click.echo(f"the administrator exists: sign in at {url} and finish the setup wizard")
        return
    click.echo(f"one-time install token: {token}")
    click.echo(f"open {url} and enter it in the setup wizard")


def _server_info(settings: Settings) -> dict[str, Any] | None:
    """The running server's pid file, if that process is alive."""
    path = settings.data_dir / "wgpilot.pid"
    try:
        doc = json.loads(path.read_text())
        os.kill(int(doc["pid"]), 0)
        return doc
    except (OSError, ValueError, KeyError):
        return None


@click.command()
@common
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(settings: Settings, as_json: bool) -> None:
    """Networks, interfaces, peers online, driver and server uptime."""

    async def body() -> dict[str, Any]:
        async with backend(settings, create=False) as b:
            return await b.status()

    st = run(body)
    server = st.get("server") or _server_info(settings)
    if server and "started_at" in server and "uptime" not in server:
        server = {**server, "uptime": int(dt.datetime.now().timestamp() - server["started_at"])}
    st["server"] = server
    if as_json:
        print_json(st)
        return
    if server:
        pid = f"pid {server['pid']}, " if server.get("pid") else ""
        where = f", data in {server['data_dir']}" if server.get("data_dir") else ""
        click.echo(f"server:  running ({pid}up {_duration(server.get('uptime', 0))}{where})")
    else:
        click.echo(f"server:  not running (database {settings.db_path})")
    driver = st["driver"]
    if driver == "none":
        click.echo(
            click.style("driver:  NONE — kernel layer disabled, changes are NOT applied", fg="red", bold=True)
        )
    else:
        click.echo(f"driver:  {driver}")
    if st["networks"]:
        table(
            [
                [
                    n["name"],
                    n["interface"],
                    _iface_state(n),
                    f"{n['peers_online']}/{n['peers_enabled']}",
                    human_bytes(n["rx_bytes"]),
                    human_bytes(n["tx_bytes"]),
                    n["error"] or "",
                ]
                for n in st["networks"]
            ],
            ["NETWORK", "IFACE", "STATE", "ONLINE", "RX", "TX", "PROBLEM"],
        )
    else:
        click.echo("no networks")
    for name in st.get("foreign_interfaces", []):
        click.echo(f"note: WireGuard interface {name} is not managed by wgpilot (left untouched)")
    for note in st.get("diagnostics", []):
        click.echo(f"warning: {note}")


def _iface_state(n: dict[str, Any]) -> str:
    if not n["enabled"]:
        return "disabled"
    if not n["interface_present"]:
        return "missing"
    return "up" if n["interface_up"] else "down"


def _duration(seconds: int) -> str:
    d, rem = divmod(int(seconds), 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return f"{d}d {h}h {m}m" if d else f"{h}h {m}m {s}s" if h else f"{m}m {s}s"


COMMANDS = [init, status]
