"""``wgpilot setup`` (the first-run wizard in the terminal), ``wgpilot backup`` and
``wgpilot restore``."""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from wgpilot.cli.backend import backend
from wgpilot.cli.options import common, driver_option
from wgpilot.cli.output import EXIT_INPUT, fail, run
from wgpilot.config import Settings
from wgpilot.domain import render
from wgpilot.domain.errors import ValidationError, WgpilotError


def _ask(label: str, default: str | None = None) -> str:
    return str(click.prompt(label, default=default, show_default=default is not None))


def _retry(step: str, fn: Any) -> Any:
    """Ask again while the answer is refused; a refusal names the field."""
    while True:
        try:
            return run(fn)
        except SystemExit as exc:
            if exc.code != EXIT_INPUT or not sys.stdin.isatty():
                raise
            click.echo(f"  ({step}: please try again)")


@click.command()
@common
@driver_option
def setup(settings: Settings) -> None:
    """First-run wizard in the terminal: admin, server identity, first network, first peer."""

    async def status() -> dict[str, Any]:
        async with backend(settings) as b:  # with the kernel: running interfaces are offered for import
            return await b.setup_status()

    st = run(status)
    if st["setup_complete"]:
        click.echo("wgpilot is already set up; manage it with `wgpilot network|peer …` or the web UI")
        return
    steps = st["steps"]
    click.echo("wgpilot setup — four steps; Ctrl-C to stop, run again to resume.")
    if not steps["admin"]:
        click.echo("\n1/4 administrator account")
        username = _ask("username", "admin")
        while True:
            password = getpass.getpass("password (10+ characters): ")
            if password == getpass.getpass("repeat: "):
                break
            click.echo("  the two passwords differ")

        async def admin() -> None:
            async with backend(settings, kernel=False) as b:
                await b.setup_admin(username, password)

        _retry("admin", admin)
    if not steps["server"]:
        click.echo("\n2/4 server identity (what clients connect to)")
        public_ip = _ask("public IP", st.get("detected_public_ip") or None)
        hostname = _ask("host name (optional)", "")
        dns = _ask("DNS servers for clients", "1.1.1.1, 1.0.0.1")

        async def server() -> None:
            async with backend(settings, kernel=False) as b:
                await b.setup_server(
                    {
                        "public_ip": public_ip,
                        "hostname": hostname or None,
                        "dns_servers": [d.strip() for d in dns.split(",") if d.strip()],
                    }
                )

        _retry("server", server)
    existing = st.get("existing_interfaces") or []
    if not steps["network"] and existing:
        steps["network"] = _offer_import(settings, existing)
    if not steps["network"]:
        click.echo("\n3/4 first network")
        fields = {
            "name": _ask("name", "home"),
            "mode": click.prompt(
                "mode", default="gateway", type=click.Choice(["gateway", "site-to-site", "hub-routed"])
            ),
            "subnet": _ask("subnet", "10.8.0.0/24"),
            "listen_port": int(click.prompt("UDP port", default=51820, type=int)),
        }

        async def network() -> None:
            async with backend(settings) as b:
                await b.setup_network(fields)

        _retry("network", network)
    click.echo("\n4/4 first peer")
    name = _ask("device name", "laptop")

    async def peer() -> tuple[dict[str, Any], str]:
        async with backend(settings) as b:
            return await b.setup_peer({"name": name})

    p, config = _retry("peer", peer)
    click.echo(f"\npeer {p['name']} ({p['address']}) — scan with the WireGuard app:\n")
    click.echo(render.qr_terminal(config), nl=False)
    click.echo(f"\nor copy this config:\n\n{config}")
    click.echo("setup complete.")


def _offer_import(settings: Settings, existing: list[dict[str, Any]]) -> bool:
    """Step 3 as the web wizard offers it when WireGuard is already set up here: import
    what was found (running interfaces by name, wg-quick files by path). True when at
    least one network came of it."""
    click.echo("\n3/4 first network: WireGuard is already set up on this server")
    for i in existing:
        where = i["path"] if i["source"] == "file" else "running interface"
        port = f", port {i['listen_port']}" if i.get("listen_port") else ""
        # .get: a server from before these fields may be the one answering
        verdict = "" if i.get("importable", True) else " — cannot be imported as it is"
        click.echo(f"  {i['name']}: {i['peers']} peers{port} ({where}){verdict}")
        for problem in i.get("problems", []):
            click.echo(f"    - {problem}")
    takeable = [i for i in existing if i.get("importable", True)]
    if not takeable:
        click.echo("  none of them can be imported as it is; create a network instead")
        return False
    which = "it" if len(takeable) == 1 else "them"
    if len(takeable) < len(existing):
        which = ", ".join(i["name"] for i in takeable)
    if not click.confirm(f"import {which} (wgpilot owns them afterwards)?", default=True):
        return False
    interfaces = [i["name"] for i in takeable if i["source"] == "kernel"]
    files = [i["path"] for i in takeable if i["source"] == "file" and i.get("path")]

    async def do_import() -> tuple[list[dict[str, Any]], list[str]]:
        async with backend(settings) as b:
            return await b.setup_import(interfaces, files)

    networks, warnings = run(do_import)
    said = {p for i in existing for p in i.get("problems", [])}
    for w in warnings:
        if w not in said:  # each said once: what was listed above is not repeated
            click.echo(f"  note: {w}")
    if not networks:
        click.echo("  nothing could be imported; create a network instead")
        return False
    for n in networks:
        click.echo(f"  imported {n['name']} ({n['interface']}, {n['subnet']}, port {n['listen_port']})")
    return True


@click.command()
@common
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="archive to write (default: <data_dir>/backups/)"
)
def backup(settings: Settings, output: str | None) -> None:
    """Write a consistent online backup (database + master key: keep it as safe as the server)."""

    async def body() -> tuple[str, bytes]:
        async with backend(settings, kernel=False, create=False) as b:
            return await b.backup()

    name, data = run(body)
    if output:
        path = Path(output)
    else:
        path = settings.data_dir / "backups" / name
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    click.echo(f"backup written to {path} ({len(data)} bytes, {time.strftime('%Y-%m-%d %H:%M:%S')})")


@click.command()
@common
@driver_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def restore(settings: Settings, file: str, yes: bool) -> None:
    """Restore a backup (validated first; the current state is kept under backups/)."""
    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to replace the database without confirmation: pass --yes", EXIT_INPUT)
        if not click.confirm(f"Replace the current database with {file}?"):
            fail("aborted", EXIT_INPUT)

    async def body() -> dict[str, Any]:
        async with backend(settings) as b:
            return await b.restore(Path(file))

    try:
        result = run(body)
    except (ValidationError, WgpilotError) as exc:  # pragma: no cover - run() already maps these
        fail(exc.message)
    refused = result.get("kernel_errors") or []
    summary = f"restored: {result['networks']} networks, {result['peers']} peers"
    if not refused:
        click.echo(f"{summary}; kernel reconciled")
        return
    click.echo(f"{summary}; the kernel refused part of it (the next reconcile retries):")
    for error in refused:
        click.echo(f"  {error}")


COMMANDS = [setup, backup, restore]
