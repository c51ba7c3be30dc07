from __future__ import annotations

import asyncio

import pytest

from wgpilot.domain import keys
from wgpilot.domain.errors import ConflictError, ExhaustedError, NotFoundError, ValidationError
from wgpilot.domain.models import Actor
from wgpilot.kernel.fake import FakeDriver
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService

ACTOR = Actor.cli()


async def network(ctx: Context, **kw: object):
    args: dict[str, object] = {"name": "office", "subnet": "10.8.0.0/24", "listen_port": 51820}
    args.update(kw)
    return await NetworkService(ctx).create(ACTOR, **args)


async def test_add_peer_is_one_small_kernel_operation(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    for i in range(50):
        await svc.create(ACTOR, net.id, name=f"p{i}")
    driver.ops.clear()
    p = await svc.create(ACTOR, "office", name="one-more", preshared_key=True)
    assert driver.ops["configure"] == 1 and driver.ops["peers_sent"] == 1
    assert driver.ops["device"] == 0 and driver.ops["set_link"] == 0  # no full reconcile
    state = driver.devs["wg0"].peers[p.public_key]
    assert state.allowed_ips == ("10.8.0.52/32",) and state.preshared_key is not None
    assert str(p.address) == "10.8.0.52" and p.has_private_key and p.has_preshared_key


async def test_lowest_free_address_is_reused(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    peers = [await svc.create(ACTOR, net.id, name=f"p{i}") for i in range(4)]
    assert [str(p.address) for p in peers] == ["10.8.0.2", "10.8.0.3", "10.8.0.4", "10.8.0.5"]
    await svc.delete(ACTOR, net.id, peers[1].id)
    again = await svc.create(ACTOR, net.id, name="again")
    assert str(again.address) == "10.8.0.3"
    assert str((await svc.create(ACTOR, net.id, name="next")).address) == "10.8.0.6"


async def test_exhaustion_is_a_clear_conflict(ctx: Context) -> None:
    net = await network(ctx, subnet="10.8.0.0/29")
    svc = PeerService(ctx)
    for i in range(5):
        await svc.create(ACTOR, net.id, name=f"p{i}")
    with pytest.raises(ExhaustedError, match=r"10\.8\.0\.0/29 is full"):
        await svc.create(ACTOR, net.id, name="too-many")
    assert await ctx.peers.count(ctx.db, net.id) == 5


async def test_concurrent_creations_never_share_an_address(ctx: Context) -> None:
    net = await network(ctx, subnet="10.8.0.0/22")
    svc = PeerService(ctx)
    created = await asyncio.gather(*(svc.create(ACTOR, net.id, name=f"p{i}") for i in range(120)))
    addresses = {str(p.address) for p in created}
    assert len(addresses) == 120
    assert len(ctx.driver.devs["wg0"].peers) == 120  # type: ignore[attr-defined]


async def test_brought_key_peer_keeps_no_private_key(ctx: Context) -> None:
    net = await network(ctx)
    _, pub = keys.generate_keypair()
    svc = PeerService(ctx)
    p = await svc.create(ACTOR, net.id, name="byok", public_key=pub)
    assert p.public_key == pub and not p.has_private_key
    _, text = await svc.client_config(net.id, p.id)
    assert "PrivateKey = <paste" in text
    with pytest.raises(ValidationError, match="already uses this public key"):
        await svc.create(ACTOR, net.id, name="dupe", public_key=pub)
    with pytest.raises(ValidationError, match="server's own"):
        await svc.create(ACTOR, net.id, name="srv", public_key=net.public_key)


async def test_client_config_by_mode(ctx: Context) -> None:
    net = await network(ctx, dns_servers=["1.1.1.1"])
    svc = PeerService(ctx)
    p = await svc.create(ACTOR, net.id, name="laptop", persistent_keepalive=0)
    _, text = await svc.client_config("office", "laptop")
    assert "Address = 10.8.0.2/32" in text and "DNS = 1.1.1.1" in text
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in text
    assert f"PublicKey = {net.public_key}" in text
    assert "Endpoint = 203.0.113.7:51820" in text  # detected public address
    assert "PersistentKeepalive" not in text
    async with ctx.db.transaction() as tx:
        await ctx.settings.set(tx, "hostname", "vpn.example.com")
    _, text = await svc.client_config(net.id, p.id)
    assert "Endpoint = vpn.example.com:51820" in text
    split = await svc.create(ACTOR, net.id, name="split", client_allowed_ips=["192.168.50.0/24"])
    _, text = await svc.client_config(net.id, split.id)
    assert "AllowedIPs = 192.168.50.0/24" in text


async def test_site_gateways(ctx: Context) -> None:
    gw_net = await network(ctx)
    s2s = await network(ctx, name="s2s", mode="site-to-site", subnet="10.9.0.0/24", listen_port=51821)
    svc = PeerService(ctx)
    with pytest.raises(ValidationError, match="only allowed in site-to-site"):
        await svc.create(ACTOR, gw_net.id, name="x", role="site-gateway", site_networks=["172.16.0.0/24"])
    with pytest.raises(ValidationError, match="only a site-gateway"):
        await svc.create(ACTOR, s2s.id, name="x", site_networks=["172.16.0.0/24"])
    a = await svc.create(ACTOR, s2s.id, name="a", role="site-gateway", site_networks=["172.16.1.0/24"])
    assert a.allowed_ips == ("10.9.0.2/32", "172.16.1.0/24")
    assert ctx.driver.devs["wg1"].routes == {"172.16.1.0/24"}  # type: ignore[attr-defined]
    for bad, msg in (
        ("172.16.1.128/25", "site networks of peer 'a'"),
        ("10.8.0.0/16", "network 'office'"),
        ("192.168.1.0/24", "host interface eth0"),
        ("0.0.0.0/0", "default route"),
    ):
        with pytest.raises(ValidationError, match=msg) as err:
            await svc.create(ACTOR, s2s.id, name="b", role="site-gateway", site_networks=[bad])
        assert err.value.fields[0].field == "site_networks[0]"
    laptop = await svc.create(ACTOR, s2s.id, name="laptop")
    _, text = await svc.client_config(s2s.id, laptop.id)
    assert "AllowedIPs = 10.9.0.0/24, 172.16.1.0/24" in text
    await svc.update(ACTOR, s2s.id, a.id, site_networks=["172.16.1.0/24", "172.16.7.0/24"])
    assert ctx.driver.devs["wg1"].routes == {"172.16.1.0/24", "172.16.7.0/24"}  # type: ignore[attr-defined]
    await svc.set_enabled(ACTOR, s2s.id, a.id, False)
    assert ctx.driver.devs["wg1"].routes == set()  # type: ignore[attr-defined]


async def test_update_disable_enable_delete(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    p = await svc.create(ACTOR, net.id, name="laptop")
    dev = ctx.driver.devs["wg0"]  # type: ignore[attr-defined]
    await svc.set_enabled(ACTOR, net.id, "laptop", False)
    assert p.public_key not in dev.peers
    await svc.set_enabled(ACTOR, net.id, p.id, True)
    assert p.public_key in dev.peers
    updated = await svc.update(ACTOR, net.id, p.id, name="renamed", preshared_key=True)
    assert updated.name == "renamed" and updated.has_preshared_key
    assert dev.peers[p.public_key].preshared_key is not None
    entries, _ = await ctx.audit.query(ctx.db, action="peer.*")
    assert [e.action for e in entries][:4] == ["peer.update", "peer.enable", "peer.disable", "peer.create"]
    assert "preshared_key" in entries[0].detail["changes"]
    await svc.delete(ACTOR, net.id, p.id)
    assert p.public_key not in dev.peers
    with pytest.raises(NotFoundError):
        await svc.get(net.id, p.id)


async def test_duplicate_names_and_unknown_network(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    await svc.create(ACTOR, net.id, name="laptop")
    with pytest.raises(ValidationError, match="already exists") as err:
        await svc.create(ACTOR, net.id, name="Laptop")
    assert err.value.fields[0].field == "name"
    with pytest.raises(NotFoundError):
        await svc.create(ACTOR, "nope", name="x")


async def test_kernel_refusal_rolls_back_the_peer(ctx: Context) -> None:
    net = await network(ctx)
    ctx.driver.fail_next["configure"] = "daemon said EINVAL"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="EINVAL"):
        await PeerService(ctx).create(ACTOR, net.id, name="laptop")
    assert await ctx.peers.count(ctx.db, net.id) == 0
    assert ctx.driver.devs["wg0"].peers == {}  # type: ignore[attr-defined]


async def test_disabled_network_stores_peers_without_touching_the_kernel(ctx: Context) -> None:
    net = await network(ctx)
    await NetworkService(ctx).set_enabled(ACTOR, net.id, False)
    ctx.driver.ops.clear()  # type: ignore[attr-defined]
    await PeerService(ctx).create(ACTOR, net.id, name="later")
    assert sum(ctx.driver.ops.values()) == 0  # type: ignore[attr-defined]


async def test_expiry_must_be_in_the_future(ctx: Context, clock) -> None:
    net = await network(ctx)
    with pytest.raises(ValidationError, match="future"):
        await PeerService(ctx).create(ACTOR, net.id, name="x", expires_at=int(clock.now) - 1)
    with pytest.raises(ConflictError):
        raise ConflictError("sanity")


async def test_page_json_is_exactly_the_view_of_page(ctx: Context) -> None:
    """SQLite builds the list page's JSON; it must stay identical to views.peer()."""
    import json

    from wgpilot.services import views

    net = await network(ctx, mode="site-to-site", subnet6="fd00:8::/64")
    svc = PeerService(ctx)
    await svc.create(ACTOR, net.id, name="plain")
    await svc.create(
        ACTOR,
        net.id,
        name="Zoë O'Brien (laptop) & co.",
        email="a@example.com",
        preshared_key=True,
        persistent_keepalive=25,
        endpoint="198.51.100.7:51820",
        client_allowed_ips=["10.1.0.0/16", "192.168.5.0/24"],
        expires_at=ctx.now() + 3600,
    )
    await svc.create(ACTOR, net.id, name="gw", role="site-gateway", site_networks=["172.20.0.0/16"])
    await svc.create(ACTOR, net.id, name="own-key", public_key=keys.generate_keypair()[1], enabled=False)
    for i in range(12):  # names out of id order, so every sort shows its own order
        await svc.create(ACTOR, net.id, name=f"{'zyxwvutsrqpo'[i]}-{i}", enabled=i % 3 != 0)
    cases: list[dict[str, object]] = [{}, {"descending": True}, {"search": "o", "limit": 2, "offset": 1}]
    for sort in ("id", "name", "address", "created_at", "enabled"):
        cases += [{"sort": sort, "limit": 7}, {"sort": sort, "descending": True, "offset": 3}]
    for kw in cases:
        page = await svc.page(net.id, **kw)  # type: ignore[arg-type]
        want = {"items": [views.peer(p) for p in page.items], "total": page.total}
        assert json.loads(await svc.page_json(net.id, **kw)) == want  # type: ignore[arg-type]
        assert json.loads(await svc.page_json("office", **kw)) == want  # type: ignore[arg-type]


async def test_page_json_of_an_empty_or_missing_network(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    assert await svc.page_json(net.id) == '{"items":[],"total":0}'
    with pytest.raises(NotFoundError):
        await svc.page_json(net.id + 1)


async def test_group_commit_isolates_a_bad_job_and_commits_each_good_one(ctx: Context) -> None:
    """Concurrent creations share transactions; a job that fails its checks (a name
    taken by another job of the same batch, a key used twice, a bad site network)
    fails alone, and every peer returned is committed and audited."""
    net = await network(ctx, mode="site-to-site", subnet="10.8.0.0/24")
    svc = PeerService(ctx)
    _, key = keys.generate_keypair()
    calls = [svc.create(ACTOR, net.id, name=f"p{i}") for i in range(10)]
    calls += [
        svc.create(ACTOR, net.id, name="P3"),  # NOCASE duplicate of a peer of the same batch
        svc.create(ACTOR, net.id, name="k1", public_key=key),
        svc.create(ACTOR, net.id, name="k2", public_key=key),
        svc.create(ACTOR, net.id, name="s1", role="site-gateway", site_networks=["172.20.0.0/16"]),
        svc.create(ACTOR, net.id, name="s2", role="site-gateway", site_networks=["172.20.5.0/24"]),
        svc.create(ACTOR, "nowhere", name="lost"),
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    good = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert [type(e) for e in errors] == [ValidationError, ValidationError, ValidationError, NotFoundError]
    assert [e.fields[0].field for e in errors[:3]] == ["name", "public_key", "site_networks[0]"]  # type: ignore[attr-defined]
    assert len(good) == 12 and len({str(p.address) for p in good}) == 12  # type: ignore[union-attr]
    committed = {p.id for p in await ctx.peers.query(ctx.db, net.id)}  # the read connection: committed only
    assert {p.id for p in good} == committed  # type: ignore[union-attr]
    entries, _ = await ctx.audit.query(ctx.db, action="peer.create", limit=100)
    assert sorted(e.resource for e in entries) == sorted(f"peer:{p.id}" for p in good)  # type: ignore[union-attr]
    assert len(ctx.driver.devs["wg0"].peers) == 12  # type: ignore[attr-defined]


async def test_group_commit_fills_gaps_without_reusing_an_index(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    peers = [await svc.create(ACTOR, net.id, name=f"p{i}") for i in range(6)]
    for p in (peers[1], peers[2], peers[4]):
        await svc.delete(ACTOR, net.id, p.id)
    created = await asyncio.gather(*(svc.create(ACTOR, net.id, name=f"n{i}") for i in range(5)))
    assert sorted(int(str(p.address).rsplit(".", 1)[1]) for p in created) == [3, 4, 6, 8, 9]


async def test_a_failed_batch_leaves_nothing_and_each_caller_gets_its_own_answer(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    driver: FakeDriver = ctx.driver  # type: ignore[assignment]
    real = driver.configure
    calls = 0

    async def configure(*args: object, **kw: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # the batch of all five fails in the kernel
            from wgpilot.domain.errors import KernelError

            raise KernelError("device busy")
        await real(*args, **kw)  # type: ignore[arg-type]

    driver.configure = configure  # type: ignore[method-assign]
    results = await asyncio.gather(*(svc.create(ACTOR, net.id, name=f"p{i}") for i in range(5)))
    assert calls == 6  # the failed batch of five, then each job alone
    assert len({str(p.address) for p in results}) == 5
    assert await ctx.peers.count(ctx.db, net.id) == 5


async def test_a_preshared_key_unless_the_creator_says_no(ctx: Context) -> None:
    """One default for API, CLI, wizard and UI: DEFAULT_PRESHARED_KEY (on)."""
    from wgpilot.domain.models import DEFAULT_PRESHARED_KEY

    assert DEFAULT_PRESHARED_KEY is True
    await network(ctx)
    svc = PeerService(ctx)
    default = await svc.create(ACTOR, "office", name="default")
    without = await svc.create(ACTOR, "office", name="without", preshared_key=False)
    assert default.has_preshared_key and not without.has_preshared_key
    dev = ctx.driver.devs["wg0"]  # type: ignore[attr-defined]
    assert dev.peers[default.public_key].preshared_key is not None
    assert dev.peers[without.public_key].preshared_key is None


async def test_a_peer_reference_in_other_digits_is_a_name_not_an_id(ctx: Context) -> None:
    net = await network(ctx)
    svc = PeerService(ctx)
    p = await svc.create(ACTOR, net.id, name="laptop")
    assert (await svc.get(net.id, str(p.id))).id == p.id
    named = await svc.create(ACTOR, net.id, name="\u0661")  # a valid name: \w takes any script's digits
    assert (await svc.get(net.id, "\u0661")).id == named.id  # int("\u0661") would have been peer 1
    for ref in ("²", "9" * 19):
        with pytest.raises(NotFoundError):
            await svc.get(net.id, ref)
