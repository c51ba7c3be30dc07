"""Adopting a running WireGuard setup: a wg-quick interface (wireguard-go here, kernel
WireGuard in the VM stage) with a client already talking through it is imported
through the setup API; the tunnel keeps working, the interface keeps its MTU, wgpilot
owns it from then on, and a restart reconciles it without losing the peer. A second
running interface that adopting would change (a peer outside its subnet) is offered
as not importable and left exactly as it is."""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.system.conftest import SERVER_LAN, Site
from tests.system.netns import USERSPACE_ENV, ApiAgent, client_up, drivers_under_test, peers_of
from wgpilot.domain import keys

# wg-quick takes kernel WireGuard where there is some (the VM stage, netlink driver),
# wireguard-go here.
pytestmark = [pytest.mark.system, pytest.mark.parametrize("driver", drivers_under_test())]
BASE = f"https://{SERVER_LAN}:8443"
PASSWORD = "correct horse battery"
IFACE = "wgimp0"
ODD = "wgimp1"  # has a peer outside its subnet: wgpilot would have to drop it


def test_a_running_wg_quick_interface_is_adopted_with_its_tunnel_up(site: Site) -> None:
    server_priv, server_pub = keys.generate_keypair()
    client_priv, client_pub = keys.generate_keypair()
    # The operator's existing setup: wg-quick on the server, one client connected.
    conf = site.server.write(
        f"{IFACE}.conf",
        f"[Interface]\nPrivateKey = {server_priv}\nAddress = 10.90.0.1/24\nListenPort = 51890\n\n"
        f"[Peer]\nPublicKey = {client_pub}\nAllowedIPs = 10.90.0.2/32\n",
    )
    site.server.run("wg-quick", "up", str(conf), env=USERSPACE_ENV)
    site.server.ip("link", "set", IFACE, "mtu", "1380")  # e.g. a PPPoE uplink
    odd_peer = keys.generate_keypair()[1]
    odd = site.server.write(
        f"{ODD}.conf",
        f"[Interface]\nPrivateKey = {keys.generate_private_key()}\nAddress = 10.91.0.1/24\nListenPort = 51891\n\n"
        f"[Peer]\nPublicKey = {odd_peer}\nAllowedIPs = 172.30.0.2/32\n",
    )
    site.server.run("wg-quick", "up", str(odd), env=USERSPACE_ENV)
    c1 = site.client("c1")
    client_up(
        c1,
        "wgc1",
        f"[Interface]\nPrivateKey = {client_priv}\nAddress = 10.90.0.2/32\n\n"
        f"[Peer]\nPublicKey = {server_pub}\nEndpoint = {SERVER_LAN}:51890\nAllowedIPs = 10.90.0.0/24\n"
        "PersistentKeepalive = 5\n",
    )
    assert c1.can_reach("10.90.0.1"), "the pre-existing tunnel does not work"
    rx_before = int(peers_of(site.server, IFACE)[client_pub][4])
    assert rx_before > 0

    wg = site.wgpilot
    token = re.search(r"one-time install token: (\S+)", wg.cli("init").stdout).group(1)  # type: ignore[union-attr]
    wg.env.update(
        {
            "WGPILOT_LISTEN": f"{SERVER_LAN}:8443",
            "WGPILOT_TLS_HTTP_PORT": "0",
            "WGPILOT_AUTH_BCRYPT_COST": "4",
        }
    )
    wg.start()
    api = ApiAgent(c1, BASE)
    try:
        r = api.call(
            "POST", "/api/setup/admin", {"install_token": token, "username": "admin", "password": PASSWORD}
        )
        assert r["status"] == 201, r
        existing = api.call("GET", "/api/setup/status")["json"]["existing_interfaces"]  # type: ignore[index]
        (offer,) = [i for i in existing if i["name"] == IFACE]
        got = {k: offer[k] for k in ("peers", "listen_port", "source", "path", "importable")}
        assert got == {"peers": 1, "listen_port": 51890, "source": "kernel", "path": None, "importable": True}
        (refused,) = [i for i in existing if i["name"] == ODD]
        assert not refused["importable"]
        assert any("has no address inside 10.91.0.0/24" in p for p in refused["problems"]), refused
        r = api.call("POST", "/api/setup/import", {"interfaces": [IFACE, ODD], "files": []})
        assert r["status"] == 201, r
        assert any(w.startswith(f"{ODD}: left running as it is") for w in r["json"]["warnings"]), r  # type: ignore[index]
        (net,) = r["json"]["networks"]  # type: ignore[index]
        assert (net["interface"], net["subnet"], net["listen_port"]) == (IFACE, "10.90.0.0/24", 51890)
        peers = api.call("GET", f"/api/networks/{net['id']}/peers")["json"]["items"]  # type: ignore[index]
        assert [(p["public_key"], p["address"]) for p in peers] == [(client_pub, "10.90.0.2")]
    finally:
        api.close()
    # Owned now (marked), its MTU kept, the same peer in the device, and the tunnel never went down.
    link = site.server.ip("link", "show", IFACE).stdout
    assert "alias wgpilot" in link and " mtu 1380 " in link, link
    odd_link = site.server.ip("link", "show", ODD).stdout
    assert "wgpilot" not in odd_link and set(peers_of(site.server, ODD)) == {odd_peer}
    assert set(peers_of(site.server, IFACE)) == {client_pub}
    assert c1.can_reach("10.90.0.1")
    with sqlite3.connect(wg.data_dir / "data.db") as db:
        assert db.execute("SELECT adopted FROM peers WHERE public_key = ?", (client_pub,)).fetchone() == (1,)

    # A restart reconciles the adopted interface to the database: nothing is lost.
    assert wg.stop() == 0
    wg.start()
    try:
        assert set(peers_of(site.server, IFACE)) == {client_pub}
        assert " mtu 1380 " in site.server.ip("link", "show", IFACE).stdout
        assert c1.can_reach("10.90.0.1")
        assert set(peers_of(site.server, ODD)) == {odd_peer}  # never touched
    finally:
        assert wg.stop() == 0
