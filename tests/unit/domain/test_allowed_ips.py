from __future__ import annotations

import ipaddress
from dataclasses import replace

from wgpilot.domain import allowed_ips
from wgpilot.domain.models import Mode, Network, Peer, Role


def net(mode: Mode, subnet6: str | None = None) -> Network:
    return Network(
        id=1,
        name="n",
        interface="wg0",
        mode=mode,
        subnet=ipaddress.IPv4Network("10.8.0.0/24"),
        subnet6=ipaddress.IPv6Network(subnet6) if subnet6 else None,
        listen_port=51820,
        public_key="x",
        dns_servers=(),
        mtu=None,
        nat_enabled=False,
        inter_peer_routing=False,
        enabled=True,
        created_at=0,
        updated_at=0,
    )


def peer(
    pid: int, role: Role = Role.CLIENT, sites: tuple[str, ...] = (), split: tuple[str, ...] = ()
) -> Peer:
    return Peer(
        id=pid,
        network_id=1,
        name=f"p{pid}",
        email=None,
        public_key=f"k{pid}",
        address=ipaddress.IPv4Address(f"10.8.0.{pid + 1}"),
        address6=None,
        allowed_ips=(),
        client_allowed_ips=split,
        endpoint=None,
        persistent_keepalive=None,
        role=role,
        site_networks=sites,
        enabled=True,
        expires_at=None,
        created_at=0,
        updated_at=0,
    )


def test_server_side_is_the_peer_host_route_plus_its_sites() -> None:
    a4, a6 = ipaddress.IPv4Address("10.8.0.2"), ipaddress.IPv6Address("fd00::2")
    assert allowed_ips.server_side(a4, None, Role.CLIENT, ()) == ("10.8.0.2/32",)
    assert allowed_ips.server_side(a4, a6, Role.CLIENT, ()) == ("10.8.0.2/32", "fd00::2/128")
    assert allowed_ips.server_side(a4, None, Role.SITE_GATEWAY, ("172.16.0.0/24",)) == (
        "10.8.0.2/32",
        "172.16.0.0/24",
    )
    # Site networks only count for site gateways.
    assert allowed_ips.server_side(a4, None, Role.CLIENT, ("172.16.0.0/24",)) == ("10.8.0.2/32",)


def test_gateway_clients_get_a_full_tunnel_or_their_split() -> None:
    assert allowed_ips.client_side(net(Mode.GATEWAY), peer(1), []) == ("0.0.0.0/0", "::/0")
    split = peer(1, split=("192.168.10.0/24",))
    assert allowed_ips.client_side(net(Mode.GATEWAY), split, []) == ("192.168.10.0/24",)


def test_hub_routed_clients_get_the_subnets() -> None:
    assert allowed_ips.client_side(net(Mode.HUB_ROUTED), peer(1), []) == ("10.8.0.0/24",)
    assert allowed_ips.client_side(net(Mode.HUB_ROUTED, "fd00:8::/64"), peer(1), []) == (
        "10.8.0.0/24",
        "fd00:8::/64",
    )


def test_site_to_site_gets_the_other_sites_only() -> None:
    n = net(Mode.SITE_TO_SITE)
    a = peer(1, Role.SITE_GATEWAY, ("172.16.1.0/24",))
    b = peer(2, Role.SITE_GATEWAY, ("172.16.2.0/24", "172.16.3.0/24"))
    laptop = peer(3)
    off = replace(peer(4, Role.SITE_GATEWAY, ("172.16.9.0/24",)), enabled=False)
    everyone = [a, b, laptop, off]
    assert allowed_ips.client_side(n, a, everyone) == ("10.8.0.0/24", "172.16.2.0/24", "172.16.3.0/24")
    assert allowed_ips.client_side(n, laptop, everyone) == (
        "10.8.0.0/24",
        "172.16.1.0/24",
        "172.16.2.0/24",
        "172.16.3.0/24",
    )
