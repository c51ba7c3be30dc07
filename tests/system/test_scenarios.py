"""The core scenarios with real packets, under every driver in ``WGPILOT_TEST_DRIVER``:
wgpilot drives WireGuard (wireguard-go through the userspace driver on this host; kernel
WireGuard through the netlink driver in the VM stage, tests/vm/test_vm.py) and nftables
in a server namespace; clients bring up the .conf that `wgpilot peer config` printed
with wg-quick (which takes kernel WireGuard when the kernel has it)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.system.conftest import INTERNET, SERVER_UPLINK, Site
from tests.system.netns import (
    Host,
    ask_source,
    client_down,
    client_up,
    drivers_under_test,
    dump,
    interfaces,
    nft_json,
    peers_of,
    serve_source_echo,
    strip_handles,
    wait_for,
)

# The `driver` fixture (conftest.py) is what the server runs: one scenario suite, each driver.
pytestmark = [pytest.mark.system, pytest.mark.parametrize("driver", drivers_under_test())]


def add_client(site: Site, network: str, peer: str, host: Host, iface: str, *extra: str) -> dict:
    p = site.wgpilot.json("peer", "add", "--network", network, "--name", peer, *extra)
    client_up(host, iface, site.wgpilot.config(network, peer))
    return p  # type: ignore[return-value]


def link_kind(host: Host, iface: str) -> str:
    """``wireguard`` for a kernel WireGuard link, ``tun`` for wireguard-go's."""
    details = host.ip("-d", "-o", "link", "show", iface).stdout
    return "wireguard" if " wireguard " in details else "tun" if " tun " in details else details


def test_gateway_clients_reach_the_internet_through_nat(site: Site, driver: str) -> None:
    wg = site.wgpilot
    wg.cli(
        "network",
        "create",
        "--name",
        "gw",
        "--subnet",
        "10.91.0.0/24",
        "--port",
        "51901",
        "--interface",
        "wgpgw0",
    )
    # The driver under test made the interface: kernel WireGuard for netlink, a TUN for userspace.
    assert link_kind(site.server, "wgpgw0") == ("wireguard" if driver == "netlink" else "tun")
    c1 = site.client("c1")
    add_client(site, "gw", "laptop", c1, "wgc1")

    assert c1.can_reach("10.91.0.1"), "client cannot ping the server's tunnel address"
    serve_source_echo(site.internet, INTERNET, 8080)
    # Full tunnel: the client reaches the "internet" host only through the server,
    # and the far end sees the server's uplink address, not the tunnel address.
    assert ask_source(c1, INTERNET, 8080) == SERVER_UPLINK
    # Counters moved on the server side for exactly this peer.
    (row,) = peers_of(site.server, "wgpgw0").values()
    assert int(row[4]) > 0 and int(row[5]) > 0


def test_hub_routed_peers_reach_each_other_but_gateway_peers_do_not(site: Site) -> None:
    wg = site.wgpilot
    wg.cli(
        "network",
        "create",
        "--name",
        "hub",
        "--mode",
        "hub-routed",
        "--subnet",
        "10.92.0.0/24",
        "--port",
        "51902",
        "--interface",
        "wgphub0",
    )
    wg.cli(
        "network",
        "create",
        "--name",
        "gw",
        "--subnet",
        "10.93.0.0/24",
        "--port",
        "51903",
        "--interface",
        "wgpgw1",
    )
    a, b, c, d = (site.client(n) for n in ("a", "b", "c", "d"))
    add_client(site, "hub", "a", a, "wga")
    pb = add_client(site, "hub", "b", b, "wgb")
    add_client(site, "gw", "c", c, "wgc")
    pd = add_client(site, "gw", "d", d, "wgd")

    assert b.can_reach("10.92.0.1")  # b's handshake is up, so a → hub → b can work
    assert a.can_reach(pb["address"]), "hub-routed: peer a cannot reach peer b through the hub"

    assert d.can_reach("10.93.0.1") and c.can_reach("10.93.0.1")
    assert not c.can_reach(pd["address"], timeout=3), "gateway without inter-peer routing let c reach d"


def test_site_to_site_client_reaches_a_lan_behind_a_site_gateway(site: Site) -> None:
    wg = site.wgpilot
    wg.cli(
        "network",
        "create",
        "--name",
        "s2s",
        "--mode",
        "site-to-site",
        "--subnet",
        "10.94.0.0/24",
        "--port",
        "51904",
        "--interface",
        "wgps2s0",
    )
    branch = site.client("branch")
    lanhost = site.lab.host("lanhost")
    site.lab.link(branch, lanhost, "172.20.5.1/24", "172.20.5.10/24")
    lanhost.ip("route", "add", "default", "via", "172.20.5.1")
    branch.sysctl("net.ipv4.ip_forward", "1")
    add_client(
        site, "s2s", "branch-gw", branch, "wgbr", "--role", "site-gateway", "--site-networks", "172.20.5.0/24"
    )
    laptop = site.client("laptop")
    conf_peer = add_client(site, "s2s", "laptop", laptop, "wglap")

    assert "172.20.5.0/24" in site.wgpilot.config("s2s", "laptop")
    assert branch.can_reach("10.94.0.1")
    assert laptop.can_reach("172.20.5.10"), "client cannot reach the LAN host behind the site gateway"
    # The server routes the site network into its interface with wgpilot's route protocol.
    routes = site.server.ip("route", "show", "dev", "wgps2s0").stdout
    assert "172.20.5.0/24" in routes and "proto 241" in routes
    assert conf_peer["role"] == "client"


def test_reconcile_heals_tampering_and_leaves_foreign_state_alone(site: Site, driver: str) -> None:
    wg, srv = site.wgpilot, site.server
    wg.cli(
        "network",
        "create",
        "--name",
        "one",
        "--subnet",
        "10.95.0.0/24",
        "--port",
        "51905",
        "--interface",
        "wgprc1",
    )
    wg.cli(
        "network",
        "create",
        "--name",
        "two",
        "--mode",
        "hub-routed",
        "--subnet",
        "10.96.0.0/24",
        "--port",
        "51906",
        "--interface",
        "wgprc2",
    )
    for net in ("one", "two"):
        for i in range(3):
            wg.cli("peer", "add", "--network", net, "--name", f"p{i}", "--preshared-key")
    # A WireGuard interface wgpilot does not own (of the kind its driver sees and lists),
    # and a foreign nftables table.
    if driver == "netlink":
        srv.ip("link", "add", "wgforeign", "type", "wireguard")
    else:
        srv.run("wireguard-go", "wgforeign")
    key = srv.run("wg", "genkey").stdout.strip()
    keyfile = srv.write("foreign.key", key + "\n")
    srv.run(
        "wg",
        "set",
        "wgforeign",
        "private-key",
        str(keyfile),
        "listen-port",
        "51990",
        "peer",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=",
        "allowed-ips",
        "10.250.0.2/32",
    )
    srv.run(
        "nft",
        "add table inet foreign; add chain inet foreign guard "
        "{ type filter hook forward priority 10; policy accept; }; "
        "add rule inet foreign guard ip saddr 10.1.2.3 counter",
    )
    foreign_dump = dump(srv, "wgforeign")
    foreign_table = strip_handles(nft_json(srv, "table", "inet", "foreign"))

    want = {iface: dump(srv, iface) for iface in ("wgprc1", "wgprc2")}
    want_fw = strip_handles(nft_json(srv, "table", "inet", "wgpilot"))

    # Tamper while wgpilot is not running.
    srv.ip("link", "del", "wgprc1")
    wait_for(lambda: "wgprc1" not in interfaces(srv), what="wgprc1 to disappear")
    srv.run(
        "wg",
        "set",
        "wgprc2",
        "listen-port",
        "51999",
        "peer",
        "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBE=",
        "allowed-ips",
        "10.96.0.200/32",
    )
    srv.run("nft", "flush chain inet wgpilot forward")

    wg.start()
    try:
        for iface, rows in want.items():
            got = dump(srv, iface)
            assert got[0][:3] == rows[0][:3], f"{iface}: keys/port not restored"
            assert sorted(r[:4] for r in got[1:]) == sorted(r[:4] for r in rows[1:]), f"{iface}: peers differ"
        assert strip_handles(nft_json(srv, "table", "inet", "wgpilot")) == want_fw
        assert dump(srv, "wgforeign") == foreign_dump
        assert strip_handles(nft_json(srv, "table", "inet", "foreign")) == foreign_table
        addrs = srv.ip("-o", "addr", "show", "dev", "wgprc1").stdout
        assert "10.95.0.1/24" in addrs

        # A second pass (SIGHUP triggers one) changes nothing: same rule handles.
        handles = nft_json(srv, "table", "inet", "wgpilot")
        assert wg.server is not None
        wg.server.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert nft_json(srv, "table", "inet", "wgpilot") == handles
        assert "reconcile" not in wg.log.read_text().split("configuration reloaded")[-1]
    finally:
        assert wg.stop() == 0


def test_disable_peer_stops_traffic_and_delete_network_removes_everything(site: Site) -> None:
    wg, srv = site.wgpilot, site.server
    wg.cli(
        "network",
        "create",
        "--name",
        "gw",
        "--subnet",
        "10.97.0.0/24",
        "--port",
        "51907",
        "--interface",
        "wgpdel0",
    )
    wg.cli(
        "network",
        "create",
        "--name",
        "other",
        "--subnet",
        "10.98.0.0/24",
        "--port",
        "51908",
        "--interface",
        "wgpdel1",
    )
    c1 = site.client("c1")
    peer = add_client(site, "gw", "laptop", c1, "wgc1")
    assert c1.can_reach("10.97.0.1")

    wg.cli("peer", "disable", "--network", "gw", "laptop")
    assert peer["public_key"] not in peers_of(srv, "wgpdel0")
    assert not c1.can_reach("10.97.0.1", timeout=3), "a disabled peer still gets through"

    wg.cli("peer", "enable", "--network", "gw", "laptop")
    assert peer["public_key"] in peers_of(srv, "wgpdel0")
    # The client still holds its old session, which the server dropped; WireGuard
    # re-handshakes only after REKEY_AFTER_TIME (2 min), so restart the client side.
    client_down(c1, "wgc1")
    client_up(c1, "wgc1", wg.config("gw", "laptop"))
    assert c1.can_reach("10.97.0.1"), "re-enabled peer cannot reach the server"

    rules_before = srv.run("nft", "list", "table", "inet", "wgpilot").stdout
    assert "wgpdel0" in rules_before
    wg.cli("network", "delete", "gw", "--yes")
    assert "wgpdel0" not in interfaces(srv)
    assert not (srv.wgdir / "wgpdel0.sock").exists()
    rules_after = srv.run("nft", "list", "table", "inet", "wgpilot").stdout
    assert "wgpdel0" not in rules_after and "10.97.0.0" not in rules_after
    assert "wgpdel1" in rules_after

    wg.cli("network", "delete", "other", "--yes")
    assert srv.run("nft", "list", "table", "inet", "wgpilot", check=False).returncode != 0
    client_down(c1, "wgc1")
