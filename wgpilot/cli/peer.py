"""``wgpilot peer …``"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click

from wgpilot.cli.backend import backend
from wgpilot.cli.options import common, driver_option
from wgpilot.cli.output import EXIT_INPUT, fail, print_json, run, table
from wgpilot.config import Settings
from wgpilot.domain import render
from wgpilot.domain.models import DEFAULT_PRESHARED_KEY
from wgpilot.domain.validate import ascii_int

network_option = click.option(
    "--network", "network_ref", required=True, metavar="NAME|ID", help="the peer's network"
)


@click.group()
def peer() -> None:
    """List, add, remove, enable and disable peers; print their configs."""


@peer.command("list")
@common
@network_option
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def list_(settings: Settings, network_ref: str, as_json: bool) -> None:
    """List the peers of a network."""

    async def body() -> None:
        async with backend(settings, kernel=False, create=False) as b:
            peers = await b.list_peers(network_ref)
        if as_json:
            print_json(peers)
            return
        if not peers:
            click.echo("no peers yet: wgpilot peer add --network NET --name NAME")
            return
        table(
            [
                [
                    p["id"],
                    p["name"],
                    p["address"],
                    p["role"],
                    p["public_key"][:12] + "…",
                    "enabled" if p["enabled"] else "disabled",
                    _when(p["expires_at"]) if p["expires_at"] else "",
                ]
                for p in peers
            ],
            ["ID", "NAME", "ADDRESS", "ROLE", "PUBLIC KEY", "STATE", "EXPIRES"],
        )

    run(body)


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def parse_expiry(value: str) -> int:
    """Unix seconds, an ISO date/time, or a duration like 30d, 12h, 90m."""
    value = value.strip()
    seconds = ascii_int(value)
    if seconds is not None:
        return seconds
    units = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
    count = ascii_int(value[:-1], max_digits=9)
    if count is not None and value[-1:] in units:
        return int(dt.datetime.now().timestamp()) + count * units[value[-1]]
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires: {value!r} is not a timestamp, ISO date or duration like 30d", EXIT_INPUT)
    return int(when.timestamp())


@peer.command("add")
@common
@driver_option
@network_option
@click.option("--name", required=True)
@click.option("--email")
@click.option("--role", type=click.Choice(["client", "site-gateway"]), default="client", show_default=True)
@click.option("--site-networks", help="comma-separated LAN CIDRs behind a site-gateway peer")
@click.option(
    "--allowed-ips", "client_allowed_ips", help="split tunnel: comma-separated CIDRs for the client config"
)
@click.option(
    "--keepalive", "persistent_keepalive", type=int, help="PersistentKeepalive seconds (0 = off; default 25)"
)
@click.option("--public-key", help="use this public key (the device keeps its private key)")
@click.option(
    "--preshared-key/--no-preshared-key",
    default=None,
    help=f"generate a preshared key (default: {'yes' if DEFAULT_PRESHARED_KEY else 'no'}, as in the web UI)",
)
@click.option("--endpoint", help="host:port of a peer the server can reach by itself")
@click.option("--expires", help="unix time, ISO date, or duration (30d, 12h)")
@click.option("--json", "as_json", is_flag=True)
def add(settings: Settings, network_ref: str, as_json: bool, expires: str | None, **fields: Any) -> None:
    """Add a peer (keys and address are generated)."""
    for key in ("site_networks", "client_allowed_ips"):
        if fields.get(key):
            fields[key] = [c.strip() for c in fields[key].split(",") if c.strip()]
    if expires:
        fields["expires_at"] = parse_expiry(expires)
    fields = {k: v for k, v in fields.items() if v is not None}

    async def body() -> None:
        async with backend(settings) as b:
            p = await b.create_peer(network_ref, fields)
        if as_json:
            print_json(p)
        else:
            click.echo(
                f"peer {p['name']} added: {p['address']} (id {p['id']}); "
                f"config: wgpilot peer config --network {network_ref} {p['id']}"
            )

    run(body)


@peer.command("remove")
@common
@driver_option
@network_option
@click.argument("peer_ref", metavar="PEER")
def remove(settings: Settings, network_ref: str, peer_ref: str) -> None:
    """Remove a peer (by name or id)."""

    async def body() -> None:
        async with backend(settings) as b:
            p = await b.delete_peer(network_ref, peer_ref)
        click.echo(f"peer {p['name']} removed")

    run(body)


def _toggle(enabled: bool) -> None:
    verb = "enable" if enabled else "disable"

    @peer.command(
        verb,
        help="Put a peer back on its interface."
        if enabled
        else "Take a peer off its interface (it is kept in the database).",
    )
    @common
    @driver_option
    @network_option
    @click.argument("peer_ref", metavar="PEER")
    def command(settings: Settings, network_ref: str, peer_ref: str) -> None:
        async def body() -> None:
            async with backend(settings) as b:
                p = await b.set_peer_enabled(network_ref, peer_ref, enabled)
            click.echo(f"peer {p['name']} {verb}d")

        run(body)


_toggle(True)
_toggle(False)


@peer.command("config")
@common
@network_option
@click.argument("peer_ref", metavar="PEER")
@click.option(
    "--qr",
    is_flag=True,
    help="print the config as a QR code for the WireGuard app (not for a peer that brought its own key)",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(),
    help="write to this file (mode 0600); a directory gets the file name wg-quick accepts",
)
def config(settings: Settings, network_ref: str, peer_ref: str, qr: bool, output: str | None) -> None:
    """Print a peer's client configuration (contains its private key)."""

    async def body() -> tuple[dict[str, Any], str]:
        async with backend(settings, kernel=False, create=False) as b:
            p, text = await b.peer_config(network_ref, peer_ref)
        if qr and not output:
            render.require_private_key(p["name"], p["has_private_key"])
        return p, text

    p, text = run(body)
    suggested = render.filename(p["name"])
    if output:
        if os.path.isdir(output):
            output = os.path.join(output, suggested)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        click.echo(f"written to {output}", err=True)
    elif qr:
        click.echo(render.qr_terminal(text), nl=False)
    else:
        click.echo(text, nl=False)
        if sys.stdout.isatty():
            click.echo(f"(save it as {suggested}: wg-quick names the interface after the file)", err=True)
