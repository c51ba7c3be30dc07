"""The netlink driver against the real WireGuard module (run inside the VM): links and
marking, device keys and port, peer upsert/remove/replace, dumps equal to what was
set (cross-checked with wireguard-tools), 10 000 peers, and a real handshake."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time

import pytest

from tests.vm.guest.conftest import Names, sh
from wgpilot.domain import keys
from wgpilot.domain.errors import KernelError
from wgpilot.kernel.driver import DeviceState, PeerConfig
from wgpilot.kernel.netlink import NetlinkDriver

pytestmark = pytest.mark.vm


def pub() -> str:
    return keys.generate_keypair()[1]


def wg_dump(iface: str) -> tuple[list[str], dict[str, list[str]]]:
    """``wg show <iface> dump``: the interface row and public key → the peer's fields."""
    rows = [line.split("\t") for line in sh("wg", "show", iface, "dump").strip().splitlines()]
    return rows[0], {r[0]: r[1:] for r in rows[1:]}


def same_as_wg(dev: DeviceState) -> None:
    """Our reading of the device equals what wireguard-tools reads."""
    head, peers = wg_dump(dev.name)
    assert head[:3] == [dev.private_key or "(none)", dev.public_key or "(none)", str(dev.listen_port)]
    assert set(peers) == set(dev.peers)
    for key, (psk, endpoint, allowed, handshake, rx, tx, keepalive) in peers.items():
        p = dev.peers[key]
        assert (p.preshared_key or "(none)") == psk
        assert (p.endpoint or "(none)") == endpoint
        assert set(p.allowed_ips) == (set(allowed.split(",")) if allowed != "(none)" else set())
        assert (int(p.last_handshake), p.rx_bytes, p.tx_bytes) == (int(handshake), int(rx), int(tx))
        assert str(p.persistent_keepalive or "off") == keepalive


def random_peers(n: int, seed: int = 7) -> list[PeerConfig]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ips = [f"10.{i >> 8 & 255}.{i & 255}.{rnd.randrange(1, 255)}/32"]
        if rnd.random() < 0.5:
            ips.append(str(ipaddress.ip_network(f"fd{rnd.randrange(256):02x}:{i:x}::/64")))
        if rnd.random() < 0.2:
            ips.append(f"100.{64 + (i >> 8)}.{i & 255}.0/24")
        endpoint = None
        if rnd.random() < 0.5:
            endpoint = f"192.0.2.{rnd.randrange(1, 255)}:{rnd.randrange(1, 65535)}"
        elif rnd.random() < 0.3:
            endpoint = f"[2001:db8::{i:x}]:{rnd.randrange(1, 65535)}"
        out.append(
            PeerConfig(
                pub(),
                keys.generate_preshared_key() if rnd.random() < 0.5 else None,
                tuple(ips),
                endpoint,
                rnd.choice([None, 25, 60]),
            )
        )
    return out


def assert_peers_equal(dev: DeviceState, want: list[PeerConfig]) -> None:
    assert set(dev.peers) == {p.public_key for p in want}
    for p in want:
        have = dev.peers[p.public_key].config()
        assert have == p, (have, p)


async def test_create_marks_and_delete_removes(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt0")
    await driver.create(name)
    await driver.create(name)  # already ours: nothing to do
    [link] = [link for link in await driver.links() if link.name == name]
    assert link.kind == "wireguard" and link.marked and not link.up
    dev = await driver.device(name)
    assert (dev.private_key, dev.public_key, dev.listen_port, dev.peers) == (None, None, 0, {})
    await driver.delete(name)
    assert name not in {link.name for link in await driver.links()}
    await driver.delete(name)  # gone already: fine


async def test_unmarked_link_is_never_deleted_or_taken_over(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgforeign")
    sh("ip", "link", "add", name, "type", "wireguard")
    [link] = [link for link in await driver.links() if link.name == name]
    assert not link.marked
    with pytest.raises(KernelError, match="not managed by wgpilot; refusing to delete"):
        await driver.delete(name)
    with pytest.raises(KernelError, match="exists and is not managed by wgpilot"):
        await driver.create(name)
    assert name in sh("ip", "link", "show", name)
    await driver.mark(name)
    assert [link.marked for link in await driver.links() if link.name == name] == [True]
    await driver.unmark(name)
    assert [link.marked for link in await driver.links() if link.name == name] == [False]
    with pytest.raises(KernelError, match="refusing"):
        await driver.delete(name)


async def test_non_wireguard_links_are_not_listed_nor_read(driver: NetlinkDriver, names: Names) -> None:
    sh("ip", "link", "add", names.link("dummyt0"), "type", "dummy")
    assert "dummyt0" not in {link.name for link in await driver.links()}
    with pytest.raises(KernelError, match="dummyt0 is not a WireGuard interface"):
        await driver.device("dummyt0")
    with pytest.raises(KernelError, match="interface nosuch0 does not exist"):
        await driver.device("nosuch0")
    with pytest.raises(KernelError, match="interface nosuch0 does not exist"):
        await driver.configure("nosuch0", listen_port=1)


async def test_key_and_port(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt1")
    await driver.create(name)
    priv = keys.generate_private_key()
    await driver.configure(name, private_key=priv, listen_port=51999)
    dev = await driver.device(name)
    assert (dev.private_key, dev.public_key, dev.listen_port, dev.fwmark) == (
        priv,
        keys.public_key(priv),
        51999,
        0,
    )
    await driver.configure(name, listen_port=52000)  # the key stays
    dev = await driver.device(name)
    assert (dev.private_key, dev.listen_port) == (priv, 52000)
    same_as_wg(dev)


async def test_port_in_use_is_named(driver: NetlinkDriver, names: Names) -> None:
    a, b = names.link("wgta"), names.link("wgtb")
    for n in (a, b):
        await driver.create(n)
    await driver.configure(a, private_key=keys.generate_private_key(), listen_port=51820)
    await driver.set_link(a, addresses=["10.77.0.1/24"], mtu=1420, up=True)
    # Up: the kernel binds at once and refuses the change.
    await driver.set_link(b, addresses=[], mtu=1420, up=True)
    with pytest.raises(KernelError, match=f"{b}: listen port 51820 is already in use"):
        await driver.configure(b, listen_port=51820)
    # Down: the device only stores the port; bringing it up is what fails.
    await driver.set_link(b, addresses=[], mtu=1420, up=False)
    await driver.configure(b, listen_port=51820)
    with pytest.raises(KernelError, match=f"{b}: listen port 51820 is already in use"):
        await driver.set_link(b, addresses=[], mtu=1420, up=True)


async def test_link_settings_and_routes(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt2")
    await driver.create(name)
    await driver.set_link(name, addresses=["10.78.0.1/24", "fd78::1/64"], mtu=1380, up=True)
    [link] = [link for link in await driver.links() if link.name == name]
    assert (link.up, link.mtu, set(link.addresses)) == (True, 1380, {"10.78.0.1/24", "fd78::1/64"})
    await driver.set_routes(name, ["192.168.50.0/24", "fd99::/48"])
    assert set(await driver.routes(name)) == {"192.168.50.0/24", "fd99::/48"}
    await driver.set_routes(name, [])
    assert await driver.routes(name) == []


async def test_upsert_replaces_allowed_ips_psk_and_keepalive(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt3")
    await driver.create(name)
    psk = keys.generate_preshared_key()
    a = PeerConfig(pub(), psk, ("10.0.0.2/32", "fd00::2/128"), "192.0.2.1:51820", 25)
    b = PeerConfig(pub(), None, ("10.0.0.3/32",), "[2001:db8::5]:4500")
    await driver.configure(name, peers=[a, b])
    assert_peers_equal(await driver.device(name), [a, b])
    # New allowed IPs replace the old ones; a missing psk / keepalive clears them.
    a2 = PeerConfig(a.public_key, None, ("10.0.0.9/32",), "192.0.2.1:51820", None)
    b2 = PeerConfig(b.public_key, psk, ("10.0.1.0/24", "10.0.2.0/24"), "[2001:db8::5]:4500", 15)
    await driver.configure(name, peers=[a2, b2])
    dev = await driver.device(name)
    assert_peers_equal(dev, [a2, b2])
    same_as_wg(dev)


async def test_endpoint_host_names_are_resolved(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt4")
    await driver.create(name)
    p = PeerConfig(pub(), allowed_ips=("10.0.0.2/32",), endpoint="localhost:51820")
    await driver.configure(name, peers=[p])
    assert (await driver.device(name)).peers[p.public_key].endpoint in {"127.0.0.1:51820", "[::1]:51820"}
    with pytest.raises(KernelError, match="cannot resolve endpoint"):
        await driver.configure(name, peers=[PeerConfig(pub(), endpoint="no-such-host.invalid:1")])


async def test_remove_and_replace(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt5")
    await driver.create(name)
    first = random_peers(50, seed=1)
    await driver.configure(name, peers=first)
    await driver.configure(name, remove=[p.public_key for p in first[:10]] + [pub()])  # unknown key: no-op
    assert_peers_equal(await driver.device(name), first[10:])
    # Removal and upsert of one key in one call: it ends up set, as with the UAPI.
    await driver.configure(name, peers=[first[0]], remove=[first[0].public_key, first[11].public_key])
    assert_peers_equal(await driver.device(name), [first[0], first[10], *first[12:]])
    second = random_peers(30, seed=2)
    await driver.configure(name, peers=second, replace_peers=True)
    assert_peers_equal(await driver.device(name), second)
    await driver.configure(name, replace_peers=True)
    assert (await driver.device(name)).peers == {}


async def test_invalid_configuration_is_a_kernel_error_and_changes_nothing(
    driver: NetlinkDriver, names: Names
) -> None:
    name = names.link("wgt6")
    await driver.create(name)
    good = PeerConfig(pub(), allowed_ips=("10.0.0.2/32",))
    await driver.configure(name, peers=[good])
    for bad in (PeerConfig("not-a-key"), PeerConfig(pub(), allowed_ips=("10.0.0.0/40",))):
        with pytest.raises(KernelError, match="invalid device configuration"):
            await driver.configure(name, peers=[good, bad], replace_peers=True)
    assert_peers_equal(await driver.device(name), [good])


async def test_dump_equals_what_was_set(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt7")
    await driver.create(name)
    priv = keys.generate_private_key()
    peers = random_peers(400)
    await driver.configure(name, private_key=priv, listen_port=51777, peers=peers, replace_peers=True)
    dev = await driver.device(name)
    assert (dev.private_key, dev.listen_port) == (priv, 51777)
    assert_peers_equal(dev, peers)
    same_as_wg(dev)


async def test_ten_thousand_peers_and_a_peer_spanning_messages(driver: NetlinkDriver, names: Names) -> None:
    name = names.link("wgt8")
    await driver.create(name)
    peers = random_peers(10_000, seed=3)
    # One peer with more allowed IPs than fit in one message, either way.
    big = PeerConfig(pub(), None, tuple(f"100.{i >> 8}.{i & 255}.0/24" for i in range(3000)), None, None)
    await driver.configure(
        name,
        private_key=keys.generate_private_key(),
        listen_port=51888,
        peers=[*peers, big],
        replace_peers=True,
    )

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    ticks = 0
    try:
        dev = await driver.device(name)
    finally:
        task.cancel()
    assert ticks > 0, "the event loop was stalled by the dump"
    assert len(dev.peers) == 10_001
    assert dev.peers[big.public_key].allowed_ips == big.allowed_ips
    assert_peers_equal(dev, [*peers, big])
    same_as_wg(dev)
    # Removing 1 000 of them, then the device (emptied first, so it goes at once).
    await driver.configure(name, remove=[p.public_key for p in peers[:1000]])
    assert_peers_equal(await driver.device(name), [*peers[1000:], big])
    await driver.delete(name)
    assert name not in {link.name for link in await driver.links()}


async def test_handshake_and_ping_between_two_interfaces(driver: NetlinkDriver, names: Names) -> None:
    """Two devices born in this namespace (their UDP sockets stay here), each moved into
    its own namespace: a ping between the namespaces needs a real handshake."""
    a, b = names.link("wgpa"), names.link("wgpb")
    ns_a, ns_b = names.ns("wgt-ns-a"), names.ns("wgt-ns-b")
    ka, kb = keys.generate_keypair(), keys.generate_keypair()
    psk = keys.generate_preshared_key()
    for n in (a, b):
        await driver.create(n)
    await driver.configure(
        a, private_key=ka[0], listen_port=41001,
        peers=[PeerConfig(kb[1], psk, ("10.99.0.2/32",), "127.0.0.1:41002", 1)],
    )  # fmt: skip
    await driver.configure(
        b, private_key=kb[0], listen_port=41002,
        peers=[PeerConfig(ka[1], psk, ("10.99.0.1/32",), "127.0.0.1:41001")],
    )  # fmt: skip
    for n, ns, addr in ((a, ns_a, "10.99.0.1/24"), (b, ns_b, "10.99.0.2/24")):
        sh("ip", "link", "set", n, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", addr, "dev", n)
        sh("ip", "-n", ns, "link", "set", n, "up")
    names.links.clear()  # they go with their namespaces
    out = sh("ip", "netns", "exec", ns_a, "ping", "-c", "3", "-W", "5", "10.99.0.2")
    assert " 0% packet loss" in out or ", 0% packet" in out
    # Read the counters back through our driver, from inside the namespace.
    probe = (
        "import asyncio, json; from wgpilot.kernel.netlink import NetlinkDriver\n"
        "async def m():\n"
        "    d = NetlinkDriver(); p = (await d.device('wgpa')).peers\n"
        "    await d.close(); print(json.dumps({k: [v.last_handshake, v.rx_bytes, v.tx_bytes] for k, v in p.items()}))\n"
        "asyncio.run(m())\n"
    )
    import json

    seen = json.loads(sh("ip", "netns", "exec", ns_a, "python", "-c", probe))
    handshake, rx, tx = seen[kb[1]]
    assert abs(handshake - time.time()) < 120 and rx > 0 and tx > 0
