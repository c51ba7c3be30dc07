"""``wgpilot network …``"""

from __future__ import annotations

import sys
from typing import Any

import click

from wgpilot.cli.backend import backend
from wgpilot.cli.options import common, driver_option
from wgpilot.cli.output import EXIT_INPUT, fail, print_json, run, table
from wgpilot.config import Settings


@click.group()
def network() -> None:
    """List, create, delete, enable and disable networks."""


@network.command("list")
@common
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def list_(settings: Settings, as_json: bool) -> None:
    """List networks."""

    async def body() -> None:
        async with backend(settings, kernel=False, create=False) as b:
            nets = await b.list_networks()
        if as_json:
            print_json(nets)
            return
        if not nets:
            click.echo("no networks yet: wgpilot network create --name NAME --subnet CIDR --port PORT")
            return
        table(
            [
                [
                    n["id"],
                    n["name"],
                    n["interface"],
                    n["mode"],
                    n["subnet"] + (f" {n['subnet6']}" if n["subnet6"] else ""),
                    n["listen_port"],
                    "yes" if n["nat_enabled"] else "no",
                    "enabled" if n["enabled"] else "disabled",
                ]
                for n in nets
            ],
            ["ID", "NAME", "IFACE", "MODE", "SUBNET", "PORT", "NAT", "STATE"],
        )

    run(body)


@network.command("create")
@common
@driver_option
@click.option("--name", required=True, help="network name")
@click.option(
    "--mode",
    type=click.Choice(["gateway", "site-to-site", "hub-routed"]),
    default="gateway",
    show_default=True,
)
@click.option("--subnet", required=True, help="IPv4 subnet, e.g. 10.8.0.0/24")
@click.option("--subnet6", help="optional IPv6 (ULA) subnet, e.g. fd00:8::/64")
@click.option("--port", "listen_port", type=int, help="UDP listen port (default: first free from 51820)")
@click.option(
    "--nat/--no-nat",
    "nat_enabled",
    default=None,
    help="masquerade peers' traffic (default: on in gateway mode)",
)
@click.option(
    "--inter-peer/--no-inter-peer",
    "inter_peer_routing",
    default=None,
    help="let peers reach each other (default: off in gateway mode, on otherwise)",
)
@click.option(
    "--dns",
    "dns_servers",
    help="comma-separated DNS servers for client configs (default: the server's default DNS; '' for none)",
)
@click.option("--mtu", type=int, help="interface MTU (1280-9000; default 1420)")
@click.option("--interface", help="interface name (default: wg0, wg1, …)")
@click.option("--json", "as_json", is_flag=True)
def create(settings: Settings, as_json: bool, **fields: Any) -> None:
    """Create a network and bring its interface up."""
    fields = {k: v for k, v in fields.items() if v is not None}
    if "dns_servers" in fields:
        fields["dns_servers"] = [d.strip() for d in fields["dns_servers"].split(",") if d.strip()]

    async def body() -> None:
        async with backend(settings) as b:
            net = await b.create_network(fields)
        if as_json:
            print_json(net)
        else:
            click.echo(
                f"network {net['name']} created: {net['interface']} {net['subnet']} "
                f"port {net['listen_port']} (id {net['id']})"
            )

    run(body)


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail("refusing to delete without confirmation: pass --yes", EXIT_INPUT)
    if not click.confirm(question):
        fail("aborted", EXIT_INPUT)


@network.command("delete")
@common
@driver_option
@click.argument("network_ref", metavar="NETWORK")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def delete(settings: Settings, network_ref: str, yes: bool) -> None:
    """Delete a network, its peers, its interface and its firewall rules."""
    _confirm(yes, f"Delete network {network_ref!r} with all its peers?")

    async def body() -> None:
        async with backend(settings) as b:
            net = await b.delete_network(network_ref)
        click.echo(f"network {net['name']} deleted ({net['interface']} removed)")

    run(body)


def _toggle(enabled: bool) -> Any:
    verb = "enable" if enabled else "disable"

    @network.command(verb)
    @common
    @driver_option
    @click.argument("network_ref", metavar="NETWORK")
    def command(settings: Settings, network_ref: str) -> None:
        async def body() -> None:
            async with backend(settings) as b:
                net = await b.set_network_enabled(network_ref, enabled)
            click.echo(f"network {net['name']} {verb}d")

        run(body)

    command.__doc__ = (
        "Bring a network's interface up again."
        if enabled
        else "Take a network's interface down (peers and settings are kept)."
    )
    command.help = command.__doc__
    return command


_toggle(True)
_toggle(False)
