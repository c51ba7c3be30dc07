"""Adopting existing WireGuard setups: wg-quick files and running interfaces. Whatever
a file holds, the import never fails with an exception: a bad value is a warning naming
the file's key, and nothing half-imported stays behind."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from wgpilot.domain import keys
from wgpilot.domain.errors import ValidationError
from wgpilot.domain.models import Actor, Mode
from wgpilot.kernel.driver import PeerState
from wgpilot.kernel.fake import FakeDriver
from wgpilot.monitor.history import History
from wgpilot.services import importer
from wgpilot.services.context import Context
from wgpilot.services.peers import PeerService

ACTOR = Actor.cli()


def _key() -> tuple[str, str]:
    return keys.generate_keypair()


def _has(warnings: list[str], *parts: str) -> bool:
    return any(all(p in w for p in parts) for w in warnings)


async def test_a_wg_quick_file_is_imported_with_its_names(ctx: Context, conf_dir: Path) -> None:
    server, _ = _key()
    (_, p1), (_, p2) = _key(), _key()
    psk = keys.generate_preshared_key()
    (conf_dir / "wg0.conf").write_text(
        f"""[Interface]
PrivateKey = {server}
Address = 10.20.0.1/24, fd20::1/64
ListenPort = 51830
DNS = 1.1.1.1, corp.example
MTU = 1380
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
# Client: Anna's laptop
PublicKey = {p1}
PresharedKey = {psk}
AllowedIPs = 10.20.0.2/32, fd20::2/128

# Name = phone
[Peer]
PublicKey = {p2}
AllowedIPs = 10.20.0.3/32
Endpoint = 198.51.100.7:51820
PersistentKeepalive = 25
"""
    )
    found = await importer.discover(ctx)
    assert found == [
        {
            "name": "wg0",
            "peers": 2,
            "listen_port": 51830,
            "source": "file",
            "path": str(conf_dir / "wg0.conf"),
            "importable": True,
            # said before the import, as the import will say it
            "problems": ["wg0: postup is not imported (wgpilot manages routing and firewall itself)"],
        }
    ]
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wg0"]
    net = nets[0]
    assert (net.name, net.listen_port, str(net.subnet), str(net.subnet6)) == (
        "wg0",
        51830,
        "10.20.0.0/24",
        "fd20::/64",
    )
    assert net.dns_servers == ("1.1.1.1", "corp.example") and net.mtu == 1380 and net.mode is Mode.GATEWAY
    assert _has(warnings, "postup is not imported") and _has(warnings, "disable wg-quick@wg0")
    peers = {p.name: p for p in (await PeerService(ctx).page(net.id)).items}
    assert set(peers) == {"Anna's laptop", "phone"}
    assert (
        str(peers["Anna's laptop"].address) == "10.20.0.2"
        and str(peers["Anna's laptop"].address6) == "fd20::2"
    )
    assert peers["Anna's laptop"].has_preshared_key and not peers["Anna's laptop"].has_private_key
    assert peers["phone"].endpoint == "198.51.100.7:51820" and peers["phone"].persistent_keepalive == 25
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    assert driver.devs["wg0"].marked and set(driver.devs["wg0"].peers) == {p1, p2}
    assert driver.devs["wg0"].peers[p1].preshared_key == psk
    # Imported once: the file is no longer offered, and importing again adds nothing.
    assert await importer.discover(ctx) == []
    again, _ = await importer.import_all(ctx, ACTOR, None, [str(conf_dir / "wg0.conf")])
    assert again == []
    # A file's peers have counters that start when wgpilot brings the interface up.
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM peers WHERE adopted = 1") == 0


async def test_bad_values_are_warnings_naming_the_key(ctx: Context, conf_dir: Path) -> None:
    server, server_pub = _key()
    good, psk_bad, cidr_bad, outside, same_addr, named = (_key()[1] for _ in range(6))
    (conf_dir / "wg1.conf").write_text(f"[Interface]\nPrivateKey = {server}\nAddress = not-an-address\n")
    (conf_dir / "wg2.conf").write_text(
        f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.31.0.1/24\nListenPort = 99999\n"
    )
    (conf_dir / "wg4.conf").write_text("[Interface]\nPrivateKey = c2hvcnQ=\nAddress = 10.34.0.1/24\n")
    (conf_dir / "wg5.conf").write_text(f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.35.0.7/24\n")
    (conf_dir / "this-is-far-too-long.conf").write_text(
        f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.36.0.1/24\n"
    )
    (conf_dir / "wg3.conf").write_text(
        f"""[Interface]
PrivateKey = {server}
Address = 10.33.0.1/24
DNS = 9.9.9.9, $(reboot), bad`id`
MTU = 70000

[Peer]
# Name = good one
PublicKey = {good}
AllowedIPs = 10.33.0.2/32
Endpoint = evil
PersistentKeepalive = 99999

[Peer]
PublicKey = {good}
AllowedIPs = 10.33.0.9/32

[Peer]
PublicKey = {psk_bad}
PresharedKey = not-a-key
AllowedIPs = 10.33.0.3/32

[Peer]
PublicKey = {cidr_bad}
AllowedIPs = 10.33.0.4/32, 300.1.2.3/8

[Peer]
PublicKey = {outside}
AllowedIPs = 192.0.2.5/32

[Peer]
PublicKey = {same_addr}
AllowedIPs = 10.33.0.2/32

[Peer]
PublicKey = {server_pub}
AllowedIPs = 10.33.0.20/32

[Peer]
# Name = bob `id` $(x) ${{IFS}}
PublicKey = {named}
AllowedIPs = 10.33.0.5/32

[Peer]
PublicKey = not-a-key
AllowedIPs = 10.33.0.6/32
"""
    )
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wg3"]
    assert _has(warnings, "wg1", "Address 'not-an-address'", "skipped")
    assert _has(warnings, "wg2", "ListenPort", "65535", "skipped")
    assert _has(warnings, "wg4", "PrivateKey is not a WireGuard key")
    assert _has(warnings, "wg5", "not the first usable address")
    assert _has(warnings, "this-is-far-too-long", "not a valid interface name")
    assert _has(warnings, "wg3", "DNS entry '$(reboot)'") and _has(warnings, "wg3", "DNS entry 'bad`id`'")
    assert _has(warnings, "wg3", "MTU 70000")
    assert _has(warnings, "Endpoint 'evil' left out") and _has(warnings, "PersistentKeepalive 99999 left out")
    assert _has(warnings, f"{good[:8]}", "appears twice")
    assert _has(warnings, f"{psk_bad[:8]}", "PresharedKey is not a WireGuard key")
    assert _has(warnings, f"{cidr_bad[:8]}", "'300.1.2.3/8' is not a CIDR")
    assert _has(warnings, f"{outside[:8]}", "no address inside 10.33.0.0/24")
    assert _has(warnings, f"{same_addr[:8]}", "10.33.0.2, already taken")
    assert _has(warnings, f"{server_pub[:8]}", "appears twice (or is the server)")
    net = nets[0]
    assert net.dns_servers == ("9.9.9.9",) and net.mtu is None
    peers = {p.name: p for p in (await PeerService(ctx).page(net.id)).items}
    assert set(peers) == {"good one", "bob id (x) IFS"}
    assert peers["good one"].endpoint is None and peers["good one"].persistent_keepalive is None
    assert {str(p.address) for p in peers.values()} == {"10.33.0.2", "10.33.0.5"}
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    assert set(driver.devs["wg3"].peers) == {good, named}
    assert not ({"wg1", "wg2", "wg4", "wg5"} & set(driver.devs))


async def test_only_conf_files_of_the_directory_and_unmanaged_interfaces(
    ctx: Context, conf_dir: Path
) -> None:
    (conf_dir.parent / "outside.conf").write_text("[Interface]\n")
    for i, path in enumerate(
        ["/etc/passwd", str(conf_dir / ".." / "outside.conf"), str(conf_dir / "none.conf")]
    ):
        with pytest.raises(ValidationError) as err:
            await importer.import_all(ctx, ACTOR, [], ["/etc/wireguard/wg0.conf", path][1:] if i else [path])
        assert err.value.fields[0].field == "files[0]"
    with pytest.raises(ValidationError) as err:
        await importer.import_all(ctx, ACTOR, ["wg7"], [])
    assert err.value.fields[0].field == "interfaces[0]"


async def test_a_running_interface_is_adopted_with_its_counters_as_baseline(
    ctx: Context, conf_dir: Path
) -> None:
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    server, _ = _key()
    driver.add_foreign("wg9", private_key=server, port=51900)
    driver.devs["wg9"].addresses = {"10.40.0.1/24"}
    driver.devs["wg9"].mtu = 1380  # a PPPoE or cloud link: converging must not reset it
    pub, other = _key()[1], _key()[1]
    before = 5_000_000_000  # moved before wgpilot ever saw the peer
    driver.devs["wg9"].peers[pub] = PeerState(
        pub, None, ("10.40.0.2/32",), None, None, 0.0, before, before // 2
    )
    driver.devs["wg9"].peers[other] = PeerState(other, None, ("10.40.0.3/32",), None, None, 0.0, 0, 0)
    # Its wg-quick file lends names and DNS; the kernel is the truth for the rest (MTU too).
    (conf_dir / "wg9.conf").write_text(
        f"[Interface]\nPrivateKey = {server}\nAddress = 10.40.0.1/24\nDNS = 10.40.0.1\nMTU = 1400\n\n"
        f"[Peer]\n# Name = desk\nPublicKey = {other}\nAllowedIPs = 10.40.0.3/32\n"
    )
    assert [d["source"] for d in await importer.discover(ctx)] == ["kernel"]  # the file is not offered too
    nets, _ = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wg9"] and driver.devs["wg9"].marked
    assert nets[0].dns_servers == ("10.40.0.1",) and nets[0].mtu == 1380 == driver.devs["wg9"].mtu
    assert driver.devs["wg9"].peers[pub].rx_bytes == before  # the running peer was not replaced
    desk, peer = sorted((await PeerService(ctx).page(nets[0].id)).items, key=lambda p: p.name)
    assert desk.name == "desk" and str(desk.address) == "10.40.0.3"
    assert peer.address == ipaddress.IPv4Address("10.40.0.2") and peer.name.startswith("peer-")
    assert await ctx.db.fetchval("SELECT adopted FROM peers WHERE id = ?", (peer.id,)) == 1

    history = History(ctx.db, clock=ctx.clock, interval=30)
    t0 = history._tick(ctx.now()) + 30
    async with ctx.db.transaction() as tx:
        await history.repo.insert(
            tx,
            [(peer.id, t0, before, before // 2, 1), (peer.id, t0 + 30, before + 700, before // 2 + 300, 1)],
        )
    raw = await history.series(nets[0].id, start=t0, end=t0 + 30, granularity="raw", peer_id=peer.id)
    assert [(p["rx_bytes"], p["tx_bytes"]) for p in raw["series"]] == [(0, 0), (700, 300)]


@pytest.mark.parametrize(
    "change",
    ["peer outside the subnet", "second address", "route into another network", "default route", "MTU"],
)
async def test_a_running_interface_is_taken_whole_or_left_as_it_is(
    ctx: Context, conf_dir: Path, change: str
) -> None:
    # Converging an adopted interface removes whatever the import left out; on a live
    # interface that cuts tunnels. So it is imported whole, or not at all and untouched.
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    await importer.import_all(ctx, ACTOR, [], [])  # nothing yet
    if change == "route into another network":
        net_a = conf_dir / "wg1.conf"
        net_a.write_text(
            f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.41.0.1/24\nListenPort = 51901\n"
        )
        nets, _ = await importer.import_all(ctx, ACTOR, [], [str(net_a)])
        assert [n.interface for n in nets] == ["wg1"]
    server, _ = _key()
    driver.add_foreign("wg9", private_key=server, port=51900)
    dev = driver.devs["wg9"]
    dev.addresses = {"10.40.0.1/24"}
    good, odd = _key()[1], _key()[1]
    dev.peers[good] = PeerState(good, None, ("10.40.0.2/32",), None, None, 0.0, 0, 0)
    odd_ips = {
        "peer outside the subnet": ("192.168.7.2/32",),
        "second address": ("10.40.0.3/32",),
        "route into another network": ("10.40.0.3/32", "10.41.0.0/24"),
        "default route": ("10.40.0.3/32", "0.0.0.0/0"),
        "MTU": ("10.40.0.3/32",),
    }[change]
    dev.peers[odd] = PeerState(odd, None, odd_ips, None, None, 0.0, 0, 0)
    if change == "second address":
        dev.addresses.add("172.16.5.1/24")
    if change == "MTU":
        dev.mtu = 1200  # below what wgpilot accepts: adopting would reset the link to 1420
    before = (set(dev.addresses), dict(dev.peers), dev.mtu)

    (found,) = [d for d in await importer.discover(ctx) if d["name"] == "wg9"]
    assert not found["importable"] and _has(found["problems"], "wg9: left running as it is")
    nets, warnings = await importer.import_all(ctx, ACTOR, ["wg9"], [])
    assert nets == [] and warnings == found["problems"]
    if change == "default route":  # said as what the live interface would lose
        assert _has(warnings, "AllowedIPs 0.0.0.0/0 would be lost (a default route is not a site)")
    if change == "MTU":
        assert _has(warnings, "wg9: MTU 1200 would be reset: ")
    assert _has(warnings, "wg9: left running as it is, not imported"), warnings
    assert (set(dev.addresses), dict(dev.peers), dev.mtu) == before and not dev.marked
    assert "wg9" not in [n.interface for n in await ctx.networks.all(ctx.db)]

    # Made to fit, it is adopted with every peer.
    dev.addresses = {"10.40.0.1/24"}
    dev.mtu = 1420
    dev.peers[odd] = PeerState(odd, None, ("10.40.0.3/32",), None, None, 0.0, 0, 0)
    nets, warnings = await importer.import_all(ctx, ACTOR, ["wg9"], [])
    assert [n.interface for n in nets] == ["wg9"] and dev.marked, warnings
    assert set(dev.peers) == {good, odd}


async def test_offers_are_checked_as_importing_them_in_turn_would_check_them(
    ctx: Context, conf_dir: Path
) -> None:
    for name, subnet in (("wg0", "10.60.0.1/24"), ("wg1", "10.61.0.1/24")):
        (conf_dir / f"{name}.conf").write_text(
            f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = {subnet}\nListenPort = 51860\n"
        )
    found = {d["name"]: d for d in await importer.discover(ctx)}
    assert found["wg0"]["importable"] and found["wg0"]["problems"] == []
    assert not found["wg1"]["importable"]
    assert found["wg1"]["problems"] == ["wg1: subnet or port clashes with wg0 (offered above); skipped"]
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wg0"]
    assert "wg1: subnet or port clashes with network 'wg0'; skipped" in warnings


async def test_a_candidate_that_cannot_be_checked_does_not_hide_the_others(
    ctx: Context, conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, subnet in (("wg0", "10.62.0.1/24"), ("wg1", "10.63.0.1/24")):
        (conf_dir / f"{name}.conf").write_text(
            f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = {subnet}\nListenPort = 5187{name[-1]}\n"
        )
    real = importer._plan

    def flaky(iface: importer.ParsedInterface, warnings: list[str]) -> importer._Plan | None:
        if iface.name == "wg0":
            raise RuntimeError("a bug")
        return real(iface, warnings)

    monkeypatch.setattr(importer, "_plan", flaky)
    found = {d["name"]: d for d in await importer.discover(ctx)}
    assert not found["wg0"]["importable"] and "could not be checked" in found["wg0"]["problems"][0]
    assert found["wg1"]["importable"]


async def test_comments_that_hold_settings_or_keys_never_become_names(ctx: Context, conf_dir: Path) -> None:
    server = _key()[0]
    a, b, c = (_key()[1] for _ in range(3))
    (conf_dir / "wg0.conf").write_text(
        f"""# my server
[Interface]
# old PrivateKey = {server}
PrivateKey = {server}
Address = 10.60.0.1/24

[Peer]
PublicKey = {a}
AllowedIPs = 10.60.0.2/32

# {_key()[0]}
[Peer]
PublicKey = {b}
AllowedIPs = 10.60.0.3/32

### begin anna-phone ###
[Peer]
PublicKey = {c}
AllowedIPs = 10.60.0.4/32
### end anna-phone ###
"""
    )
    (net,), _ = await importer.import_all(ctx, ACTOR, None, None)
    names = {str(p.address): p.name for p in (await PeerService(ctx).page(net.id)).items}
    short = {k: "peer-" + "".join(ch for ch in k if ch.isalnum())[:8] for k in (a, b)}
    assert names == {"10.60.0.2": short[a], "10.60.0.3": short[b], "10.60.0.4": "anna-phone"}
    assert server[:20] not in repr(names)


@pytest.mark.parametrize("value", ["²", "1" * 4400, "0x10", "-5"])
async def test_numbers_are_ascii_digits(ctx: Context, conf_dir: Path, value: str) -> None:
    (conf_dir / "wg0.conf").write_text(
        f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.61.0.1/24\nListenPort = {value}\nMTU = {value}\n\n"
        f"[Peer]\nPublicKey = {_key()[1]}\nAllowedIPs = 10.61.0.2/32\nPersistentKeepalive = {value}\n"
    )
    assert [d["name"] for d in await importer.discover(ctx)] == ["wg0"]  # the setup status still loads
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert nets == []
    assert _has(warnings, "wg0: ListenPort", "is not a number") and _has(
        warnings, "wg0", "ListenPort", "skipped"
    )
    assert _has(warnings, "wg0: MTU", "is not a number") and _has(
        warnings, "PersistentKeepalive", "not a number"
    )


async def test_odd_paths_are_refused_by_field(ctx: Context, conf_dir: Path) -> None:
    for path in (f"{conf_dir}/x\x00/y.conf", f"{conf_dir}/wg0.conf\x00", "\x00"):
        with pytest.raises(ValidationError) as err:
            await importer.import_all(ctx, ACTOR, [], [path])
        assert err.value.fields[0].field == "files[0]"


async def test_an_unreadable_file_is_a_warning(ctx: Context, conf_dir: Path) -> None:
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    driver.add_foreign("wg9", private_key=_key()[0], port=51900)
    driver.devs["wg9"].addresses = {"10.40.0.1/24"}
    (conf_dir / "wg9.conf").mkdir()  # reading it fails, as a root-only file does for the service
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wg9"]
    assert _has(warnings, "wg9: cannot read", "peer names and DNS not taken", "sudo wgpilot setup")
    (conf_dir / "wg5.conf").mkdir()  # a file of its own that cannot be read: offered, with why
    (offer,) = await importer.discover(ctx)
    assert (offer["name"], offer["source"], offer["importable"]) == ("wg5", "file", False)
    assert _has(offer["problems"], "wg5: cannot read", "sudo wgpilot setup")


async def test_sites_are_checked_as_the_api_checks_them(ctx: Context, conf_dir: Path) -> None:
    from wgpilot.services.networks import NetworkService

    await NetworkService(ctx).create(ACTOR, name="lab", subnet="172.20.0.0/24", listen_port=51999)
    gw1, gw2, road = (_key()[1] for _ in range(3))
    (conf_dir / "wg5.conf").write_text(
        f"""[Interface]
PrivateKey = {_key()[0]}
Address = 10.70.0.1/24, fd70::5/64

[Peer]
PublicKey = {gw1}
AllowedIPs = 10.70.0.2/32, fd70::2/128, 192.168.50.0/24, 0.0.0.0/0, 10.70.0.0/25, 172.20.0.0/16

[Peer]
PublicKey = {gw2}
AllowedIPs = 10.70.0.3/32, 192.168.50.128/25, 192.168.60.0/24

[Peer]
PublicKey = {road}
AllowedIPs = 10.70.0.4/32, fd70::4/128
"""
    )
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert len(nets) == 1, warnings
    net = nets[0]
    assert _has(warnings, "IPv6 address fd70::5/64 not imported", "first usable address")
    assert _has(warnings, "0.0.0.0/0 left out (a default route is not a site)")
    assert _has(warnings, "10.70.0.0/25 left out (inside the network itself)")
    assert _has(warnings, "172.20.0.0/16 overlaps another network of wgpilot")
    assert _has(warnings, f"{gw2[:8]}", "192.168.50.128/25 overlaps a site of")
    assert not _has(warnings, "fd70::2") and not _has(warnings, "fd70::4")  # their addresses: warned once
    assert net.mode is Mode.SITE_TO_SITE and net.subnet6 is None
    peers = {p.public_key: p for p in (await PeerService(ctx).page(net.id)).items}
    assert peers[gw1].site_networks == ("192.168.50.0/24",) and peers[gw2].site_networks == (
        "192.168.60.0/24",
    )
    assert peers[road].site_networks == () and peers[road].address6 is None


async def test_one_interface_failing_does_not_stop_the_others(
    ctx: Context, conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wgpilot.services.reconcile import Reconciler

    for i, name in enumerate(("wga", "wgb")):
        (conf_dir / f"{name}.conf").write_text(
            f"[Interface]\nPrivateKey = {_key()[0]}\nAddress = 10.8{i}.0.1/24\nListenPort = 5184{i}\n"
        )
    real = Reconciler.converge_network

    async def broken(self: Reconciler, conn: object, net: object, report: object) -> None:
        if getattr(net, "interface", "") == "wga":
            raise RuntimeError("a bug")
        await real(self, conn, net, report)  # type: ignore[arg-type]

    monkeypatch.setattr(Reconciler, "converge_network", broken)
    nets, warnings = await importer.import_all(ctx, ACTOR, None, None)
    assert [n.interface for n in nets] == ["wgb"]
    assert _has(warnings, "wga: import failed (an internal error, see the log); nothing of it imported")
    assert [n.interface for n in await ctx.networks.all(ctx.db)] == ["wgb"]
