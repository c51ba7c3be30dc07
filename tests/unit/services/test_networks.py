from __future__ import annotations

import ipaddress

import pytest

from tests.conftest import FakeHost
from wgpilot.domain.errors import ConflictError, KernelError, NotFoundError, ValidationError
from wgpilot.domain.models import Actor, Mode
from wgpilot.kernel.fake import FakeDriver, FakeFirewall
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService

ACTOR = Actor(user_id=None, username="tester", ip_address="127.0.0.1")


async def make(ctx: Context, **kw: object):
    args: dict[str, object] = {"name": "office", "subnet": "10.8.0.0/24", "listen_port": 51820}
    args.update(kw)
    return await NetworkService(ctx).create(ACTOR, **args)


async def test_create_brings_the_interface_up_and_audits(ctx: Context) -> None:
    net = await make(ctx, dns_servers=["1.1.1.1"], subnet6="fd00:8::/64")
    assert (net.interface, net.mode, net.nat_enabled, net.inter_peer_routing) == (
        "wg0",
        Mode.GATEWAY,
        True,
        False,
    )
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    dev = driver.devs["wg0"]
    assert dev.marked and dev.up and dev.listen_port == 51820 and dev.mtu == 1420
    assert dev.addresses == {"10.8.0.1/24", "fd00:8::1/64"}
    assert dev.private_key is not None and dev.private_key != net.public_key
    fw: FakeFirewall = ctx.firewall  # type: ignore[assignment]
    assert fw.table is not None and fw.table.rule_counts["postrouting"] == 2
    entries, total = await ctx.audit.query(ctx.db)
    assert total == 1 and entries[0].action == "network.create" and entries[0].username == "tester"
    assert "private_key" not in entries[0].detail and entries[0].ip_address == "127.0.0.1"
    # The key at rest is encrypted; the model never carries it.
    raw = await ctx.db.fetchval("SELECT private_key FROM networks WHERE id = ?", (net.id,))
    assert raw.startswith("v1:") and dev.private_key not in raw


async def test_mode_defaults(ctx: Context) -> None:
    hub = await make(ctx, mode="hub-routed")
    s2s = await make(ctx, name="s", mode="site-to-site", subnet="10.9.0.0/24", listen_port=51821)
    assert (hub.nat_enabled, hub.inter_peer_routing) == (False, True)
    assert (s2s.nat_enabled, s2s.inter_peer_routing) == (False, True)


async def test_interfaces_and_ports_are_picked_when_not_given(ctx: Context) -> None:
    host: FakeHost = ctx.host  # type: ignore[assignment]
    host.busy_ports.add(51820)
    ctx.driver.add_foreign("wg0")  # type: ignore[attr-defined]
    net = await NetworkService(ctx).create(ACTOR, name="a", subnet="10.8.0.0/24")
    assert net.interface == "wg1" and net.listen_port == 51821


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"subnet": "10.8.0.1/24"}, "subnet", "did you mean"),
        ({"subnet": "10.8.0.0/25"}, "subnet", "overlaps the subnet of network 'office'"),
        ({"subnet": "192.168.1.0/25"}, "subnet", "host interface eth0"),
        ({"listen_port": 51820, "subnet": "10.9.0.0/24"}, "listen_port", "already used by network"),
        ({"name": "OFFICE", "subnet": "10.9.0.0/24", "listen_port": 1}, "name", "already exists"),
        ({"mode": "mesh", "subnet": "10.9.0.0/24", "listen_port": 1}, "mode", "must be one of"),
        ({"mtu": 100, "subnet": "10.9.0.0/24", "listen_port": 1}, "mtu", "between"),
        ({"subnet": "10.9.0.0/31", "listen_port": 1}, "subnet", None),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(
    ctx: Context, kw: dict, field: str, text: str | None
) -> None:
    await make(ctx)
    before = await ctx.db.fetchval("SELECT COUNT(*) FROM networks")
    audit_before = await ctx.db.fetchval("SELECT COUNT(*) FROM audit_log")
    ops_before = sum(ctx.driver.ops.values())  # type: ignore[attr-defined]
    args = {"name": "second", **kw}
    try:
        await make(ctx, **args)
    except (ValidationError, ConflictError) as exc:
        assert any(f.field == field for f in exc.fields), exc.as_dict()
        if text:
            assert text in exc.message
    else:
        assert kw.get("subnet") == "10.9.0.0/31"  # /31 is a valid point-to-point network
        return
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM networks") == before
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM audit_log") == audit_before
    assert sum(ctx.driver.ops.values()) == ops_before  # type: ignore[attr-defined]


async def test_port_busy_on_the_host(ctx: Context) -> None:
    ctx.host.busy_ports.add(51820)  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="already in use on this host"):
        await make(ctx)


async def test_kernel_failure_rolls_back_and_removes_the_half_made_interface(ctx: Context) -> None:
    ctx.driver.fail_next["set_link"] = "boom"  # type: ignore[attr-defined]
    with pytest.raises(KernelError, match="boom"):
        await make(ctx)
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM networks") == 0
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM audit_log") == 0
    assert "wg0" not in ctx.driver.devs  # type: ignore[attr-defined]
    assert ctx.firewall.table is None  # type: ignore[attr-defined]


async def test_firewall_failure_rolls_back_too(ctx: Context) -> None:
    ctx.firewall.fail_next = "nft says no"  # type: ignore[attr-defined]
    with pytest.raises(KernelError, match="nft says no"):
        await make(ctx)
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM networks") == 0
    assert "wg0" not in ctx.driver.devs  # type: ignore[attr-defined]


async def test_update_changes_port_and_mtu_in_the_kernel(ctx: Context) -> None:
    net = await make(ctx)
    svc = NetworkService(ctx)
    new = await svc.update(
        ACTOR, net.id, listen_port=51900, mtu=1380, nat_enabled=False, dns_servers=["9.9.9.9"]
    )
    dev = ctx.driver.devs["wg0"]  # type: ignore[attr-defined]
    assert (new.listen_port, dev.listen_port, dev.mtu) == (51900, 51900, 1380)
    assert ctx.firewall.table.rule_counts["postrouting"] == 0  # type: ignore[attr-defined]
    entries, _ = await ctx.audit.query(ctx.db, action="network.update")
    assert entries[0].detail["changes"]["listen_port"] == {"from": 51820, "to": 51900}
    # No-op update: nothing written.
    again = await svc.update(ACTOR, net.id, listen_port=51900)
    assert again.updated_at == new.updated_at
    with pytest.raises(ValidationError, match="cannot be changed"):
        await svc.update(ACTOR, net.id, subnet="10.99.0.0/24")


async def test_adding_ipv6_later_readdresses_peers(ctx: Context) -> None:
    from wgpilot.services.peers import PeerService

    net = await make(ctx)
    peer = await PeerService(ctx).create(ACTOR, net.id, name="p")
    await NetworkService(ctx).update(ACTOR, net.id, subnet6="fd00:8::/64")
    p = await ctx.peers.get(ctx.db, peer.id)
    assert p is not None and p.address6 == ipaddress.IPv6Address("fd00:8::2")
    assert p.allowed_ips == ("10.8.0.2/32", "fd00:8::2/128")
    dev = ctx.driver.devs["wg0"]  # type: ignore[attr-defined]
    assert set(dev.peers[p.public_key].allowed_ips) == {"10.8.0.2/32", "fd00:8::2/128"}
    assert "fd00:8::1/64" in dev.addresses


async def test_disable_enable_delete(ctx: Context) -> None:
    net = await make(ctx)
    svc = NetworkService(ctx)
    await svc.set_enabled(ACTOR, "office", False)
    assert "wg0" not in ctx.driver.devs  # type: ignore[attr-defined]
    assert ctx.firewall.table is None  # type: ignore[attr-defined]
    await svc.set_enabled(ACTOR, "wg0", True)
    assert "wg0" in ctx.driver.devs  # type: ignore[attr-defined]
    await svc.delete(ACTOR, net.id)
    assert "wg0" not in ctx.driver.devs  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        await svc.get(net.id)


async def test_a_foreign_interface_with_the_same_name_is_never_touched(ctx: Context) -> None:
    ctx.driver.add_foreign("wg5")  # type: ignore[attr-defined]
    with pytest.raises(ConflictError, match="not managed by wgpilot") as err:
        await make(ctx, interface="wg5")
    assert [f.field for f in err.value.fields] == ["interface"]
    assert not ctx.driver.devs["wg5"].marked  # type: ignore[attr-defined]


async def test_a_name_held_by_a_daemon_in_another_namespace_is_taken(ctx: Context) -> None:
    """/var/run/wireguard is shared by every network namespace: a live wg0.sock there
    makes wg0 taken even though no wg0 link exists in this namespace."""
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    driver.add_foreign_socket("wg0")
    net = await make(ctx)
    assert net.interface == "wg1" and "wg1" in driver.devs and "wg0" not in driver.devs
    ops = sum(driver.ops.values())
    with pytest.raises(ConflictError) as err:
        await make(ctx, name="second", subnet="10.9.0.0/24", listen_port=51821, interface="wg0")
    assert err.value.code == "INTERFACE_IN_USE"
    assert [f.field for f in err.value.fields] == ["interface"]
    assert "outside this network namespace" in err.value.fields[0].message
    assert "not managed by wgpilot" in err.value.fields[0].message
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM networks") == 1
    assert sum(driver.ops.values()) == ops  # the kernel was not asked for anything


async def test_an_interface_name_of_another_network_is_bad_input_like_its_port(ctx: Context) -> None:
    await make(ctx)
    with pytest.raises(ValidationError, match="already used by network 'office'") as err:
        await make(ctx, name="second", subnet="10.9.0.0/24", listen_port=51820, interface="wg0")
    assert [f.field for f in err.value.fields] == ["interface", "listen_port"]  # both, at once


async def test_the_default_dns_applies_when_the_caller_names_none(ctx: Context) -> None:
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, "default_dns", '["9.9.9.9", "corp.example"]')
    given = await make(ctx, dns_servers=["1.1.1.1"])
    default = await make(ctx, name="b", subnet="10.9.0.0/24", listen_port=51821)
    none = await make(ctx, name="c", subnet="10.10.0.0/24", listen_port=51822, dns_servers=[])
    assert given.dns_servers == ("1.1.1.1",)
    assert default.dns_servers == ("9.9.9.9", "corp.example")
    assert none.dns_servers == ()  # an explicit empty list means no DNS line


async def test_a_reference_in_other_digits_is_a_name_not_an_id(ctx: Context) -> None:
    from wgpilot.services.common import resolve_network

    net = await make(ctx)
    assert (await resolve_network(ctx, ctx.db, str(net.id))).id == net.id
    # "²" passed isdigit() and made int() raise; "\u0661" (Arabic-Indic one) was read as id 1;
    # 19 digits overflowed SQLite's integer.
    for ref in ("²", "\u0661", "9" * 19):
        with pytest.raises(NotFoundError):
            await resolve_network(ctx, ctx.db, ref)
