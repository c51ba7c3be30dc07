"""``peer_counts`` (migration 0005) is kept by triggers; allocation and page totals
trust it, so it must equal COUNT(*) after every kind of change, including for a
database that had peers before the migration existed."""

from __future__ import annotations

import asyncio

from wgpilot.domain.models import Actor
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.storage import migrate as migrate_mod

ACTOR = Actor.cli()


async def _assert_counts(ctx: Context) -> None:
    real = dict(
        await ctx.db.fetchall(
            "SELECT id, (SELECT COUNT(*) FROM peers p WHERE p.network_id = n.id) FROM networks n"
        )
    )
    kept = dict(await ctx.db.fetchall("SELECT network_id, peers FROM peer_counts"))
    assert kept == real
    for network_id, count in real.items():
        assert await ctx.peers.count(ctx.db, network_id) == count
        assert (await ctx.peers.index_run(ctx.db, network_id))[0] == count


async def test_counts_follow_every_change(ctx: Context) -> None:
    nets, peers = NetworkService(ctx), PeerService(ctx)
    a = await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    b = await nets.create(ACTOR, name="b", subnet="10.9.0.0/24", listen_port=51821)
    await _assert_counts(ctx)  # new networks start at 0
    made = [await peers.create(ACTOR, a.id, name=f"p{i}") for i in range(5)]
    await peers.create(ACTOR, b.id, name="q")
    await _assert_counts(ctx)
    await peers.delete(ACTOR, a.id, made[2].id)
    await _assert_counts(ctx)
    # The group commit inserts a batch in one statement: each row counts.
    await asyncio.gather(*(peers.create(ACTOR, b.id, name=f"r{i}") for i in range(12)))
    await _assert_counts(ctx)
    await nets.delete(ACTOR, a.id)  # peers go with their network (cascade)
    await _assert_counts(ctx)
    assert await ctx.db.fetchval("SELECT COUNT(*) FROM peer_counts WHERE network_id = ?", (a.id,)) == 0


async def test_a_database_from_before_the_counts_gets_them_filled(ctx: Context) -> None:
    nets, peers = NetworkService(ctx), PeerService(ctx)
    net = await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    for i in range(7):
        await peers.create(ACTOR, net.id, name=f"p{i}")
    async with ctx.db.transaction() as tx:  # back to schema 4, peers and all
        await tx.execute("DROP TABLE alert_deliveries")  # migration 0007
        await tx.execute("ALTER TABLE peers DROP COLUMN adopted")  # migration 0006
        for trigger in ("network", "insert", "delete", "move"):
            await tx.execute(f"DROP TRIGGER peer_counts_{trigger}")
        await tx.execute("DROP TABLE peer_counts")
        await tx.execute("DELETE FROM schema_migrations WHERE version >= 5")
    assert 5 in await migrate_mod.migrate(ctx.db)
    await _assert_counts(ctx)
    assert await ctx.peers.count(ctx.db, net.id) == 7


async def test_a_missing_counts_row_falls_back_to_counting(ctx: Context) -> None:
    nets, peers = NetworkService(ctx), PeerService(ctx)
    net = await nets.create(ACTOR, name="a", subnet="10.8.0.0/24", listen_port=51820)
    for i in range(3):
        await peers.create(ACTOR, net.id, name=f"p{i}")
    async with ctx.db.transaction() as tx:  # a hand-edited database
        await tx.execute("DELETE FROM peer_counts WHERE network_id = ?", (net.id,))
    assert await ctx.peers.count(ctx.db, net.id) == 3
    assert (await ctx.peers.index_run(ctx.db, net.id))[0] == 3
    fourth = await peers.create(ACTOR, net.id, name="p3")  # allocation still finds a free address
    assert str(fourth.address) == "10.8.0.5"
