from __future__ import annotations

from wgpilot.domain import keys
from wgpilot.domain.models import Actor
from wgpilot.kernel.driver import PeerConfig
from wgpilot.kernel.fake import FakeDriver
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.services.reconcile import Reconciler

ACTOR = Actor.cli()


async def setup_two(ctx: Context) -> None:
    nets = NetworkService(ctx)
    peers = PeerService(ctx)
    a = await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    b = await nets.create(ACTOR, name="b", mode="hub-routed", subnet="10.9.0.0/24", listen_port=51821)
    for net in (a, b):
        for i in range(5):
            await peers.create(ACTOR, net.id, name=f"p{i}", preshared_key=bool(i % 2))


async def test_a_converged_system_needs_nothing(ctx: Context) -> None:
    await setup_two(ctx)
    rec = Reconciler(ctx)
    report = await rec.reconcile_all()
    assert report.actions == [] and report.errors == []
    report = await rec.reconcile_all()
    assert report.actions == []


async def test_reconcile_heals_everything_it_owns_and_nothing_else(ctx: Context) -> None:
    await setup_two(ctx)
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    before = {
        n: (d.private_key, d.listen_port, dict(d.peers), set(d.addresses)) for n, d in driver.devs.items()
    }
    driver.add_foreign("wgx", private_key=keys.generate_private_key(), port=40000)
    foreign_before = driver.devs["wgx"]

    del driver.devs["wg0"]  # interface deleted by hand
    dev = driver.devs["wg1"]
    stray = keys.generate_keypair()[1]
    await driver.configure(
        "wg1", peers=[PeerConfig(stray, allowed_ips=("10.9.0.200/32",))], listen_port=59999
    )
    victim = next(iter(dev.peers))
    await driver.configure("wg1", remove=[victim])
    dev.addresses = {"10.9.0.77/24"}
    await driver.create("wgstale")  # a marked interface with no network

    report = await Reconciler(ctx).reconcile_all()
    assert report.errors == []
    assert "wgstale" not in driver.devs
    for name, (priv, port, peers, addrs) in before.items():
        d = driver.devs[name]
        assert (d.private_key, d.listen_port, set(d.addresses)) == (priv, port, addrs)
        assert {k: (p.allowed_ips, p.preshared_key) for k, p in d.peers.items()} == {
            k: (p.allowed_ips, p.preshared_key) for k, p in peers.items()
        }
    assert driver.devs["wgx"] is foreign_before and not driver.devs["wgx"].marked
    assert (await Reconciler(ctx).reconcile_all()).actions == []


async def test_only_the_difference_is_sent(ctx: Context) -> None:
    await setup_two(ctx)
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    victim = next(iter(driver.devs["wg0"].peers))
    await driver.configure("wg0", remove=[victim])
    driver.ops.clear()
    await Reconciler(ctx).reconcile_all()
    assert driver.ops["peers_sent"] == 1 and driver.ops["create"] == 0 and driver.ops["set_link"] == 0


async def test_expired_peers_are_disabled_and_removed(ctx: Context, clock) -> None:
    nets, peers = NetworkService(ctx), PeerService(ctx)
    net = await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    temp = await peers.create(ACTOR, net.id, name="guest", expires_at=int(clock.now) + 60)
    keep = await peers.create(ACTOR, net.id, name="staff")
    clock.advance(61)
    report = await Reconciler(ctx).reconcile_all()
    assert "1 expired peers disabled" in report.actions
    p = await ctx.peers.get(ctx.db, temp.id)
    assert p is not None and not p.enabled
    dev = ctx.driver.devs["wg0"]  # type: ignore[attr-defined]
    assert temp.public_key not in dev.peers and keep.public_key in dev.peers
    entries, _ = await ctx.audit.query(ctx.db, action="peer.expire")
    assert entries and entries[0].username == "system"


async def test_a_foreign_interface_blocking_a_network_is_reported(ctx: Context) -> None:
    nets = NetworkService(ctx)
    await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    del driver.devs["wg0"]
    driver.add_foreign("wg0")
    report = await Reconciler(ctx).reconcile_all()
    assert report.errors and "not managed by wgpilot" in report.errors[0]
    assert not driver.devs["wg0"].marked
