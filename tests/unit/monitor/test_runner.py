"""Monitor: the loops under ``wgpilot serve`` and what the web layer asks of it."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.monitor.conftest import ACTOR, Lab, settings
from wgpilot.domain.errors import NotFoundError
from wgpilot.kernel.driver import NullDriver
from wgpilot.monitor import Monitor
from wgpilot.monitor.health import DbProbe
from wgpilot.services.peers import PeerService


async def test_run_polls_until_stop_and_cleans_up(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings(monitor__poll_interval=0.01))
    task = asyncio.create_task(monitor.run())
    async with asyncio.timeout(5):
        while monitor.poller.polls < 3:
            await asyncio.sleep(0.005)
    assert monitor._on_change in lab.ctx.listeners
    monitor.stop()
    async with asyncio.timeout(2):
        await task
    assert monitor._on_change not in lab.ctx.listeners
    assert monitor.history.ticks == 1  # the fake clock stands still: one aligned tick
    assert await lab.ctx.db.fetchval("SELECT COUNT(*) FROM peer_snapshots") == 2


async def test_run_can_be_cancelled(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings(monitor__poll_interval=0.01))
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert monitor._on_change not in lab.ctx.listeners


async def test_a_new_peer_shows_up_in_the_next_poll(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    monitor.attach()
    await monitor.tick()
    p = await PeerService(lab.ctx).create(ACTOR, lab.net.id, name="new")
    await monitor.tick()
    status = await monitor.status()
    assert p.id in [s["peer_id"] for s in status["peers"]]
    assert status["networks"][0]["peers_total"] == 3


async def test_a_change_brings_the_next_poll_forward(lab: Lab) -> None:
    """With a 60 s interval, a new peer still reaches subscribers within about a second,
    and a burst of changes costs one extra poll, not one per change."""
    monitor = Monitor(lab.ctx, settings(monitor__poll_interval=60.0))
    task = asyncio.create_task(monitor.run())
    try:
        async with asyncio.timeout(5):
            while monitor.poller.polls < 1:
                await asyncio.sleep(0.01)
        sub = await monitor.subscribe(lab.net.id)
        events = aiter(sub)
        snapshot = await anext(events)
        assert snapshot.event == "snapshot"
        svc = PeerService(lab.ctx)
        added = [await svc.create(ACTOR, lab.net.id, name=f"burst{i}") for i in range(5)]
        async with asyncio.timeout(3):
            event = await anext(events)
            while event.event == "changed":  # the database news comes first, then the poll's
                event = await anext(events)
        assert event.event == "status"
        assert {p["peer_id"] for p in event.json()["peers"]} == {p.id for p in added}
        assert monitor.poller.polls == 2
        await asyncio.sleep(1.5)
        assert monitor.poller.polls == 2  # no change since: back to the 60 s rhythm
    finally:
        monitor.stop()
        async with asyncio.timeout(2):
            await task


async def test_status_has_the_api_shape(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    lab.stats(lab.peers[0], rx=5, tx=6, handshake=1)
    await monitor.tick()
    st = await monitor.status()
    assert set(st) == {"driver", "kernel_enabled", "networks", "peers", "diagnostics", "foreign_interfaces"}
    assert st["networks"][0] == {
        "id": lab.net.id,
        "name": "office",
        "interface": "wg0",
        "mode": "gateway",
        "enabled": True,
        "listen_port": 51820,
        "interface_present": True,
        "interface_up": True,
        "healthy": True,
        "peers_total": 2,
        "peers_enabled": 2,
        "peers_online": 1,
        "rx_bytes": 5,
        "tx_bytes": 6,
        "error": None,
    }


async def test_health(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    await monitor.tick()
    doc = await monitor.health()
    assert doc["status"] == "healthy" and doc["reasons"] == []
    assert doc["networks"] == {"total": 1, "enabled": 1, "healthy": 1}
    assert doc["database"] == "ok" and doc["driver"] == "fake" and doc["last_poll"] == int(lab.clock.now)

    lab.driver.devs[lab.net.interface].up = False
    await monitor.tick()
    doc = await monitor.health()
    assert doc["status"] == "degraded" and doc["reasons"] == ["network_unhealthy"]
    assert doc["networks"]["healthy"] == 0
    assert "office" not in str(doc)  # public endpoint: no names

    lab.ctx.driver = NullDriver()
    monitor = Monitor(lab.ctx, settings())
    await monitor.tick()
    doc = await monitor.health()
    assert doc["driver"] == "none" and "no_driver" in doc["reasons"]


class ReadOnlyDb:
    """Stands in for a database that refuses write transactions."""

    def __init__(self) -> None:
        self.pings = 0

    async def ping(self) -> bool:
        self.pings += 1
        return False


async def test_health_sees_an_unwritable_database_and_probes_it_sparingly(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    await monitor.tick()
    db = ReadOnlyDb()
    monitor.probe = DbProbe(db, ttl=60)  # type: ignore[arg-type]
    for _ in range(5):
        doc = await monitor.health()
    assert doc["database"] == "error" and "database_not_writable" in doc["reasons"]
    assert db.pings == 1  # /health is public: a flood of requests is not a flood of write locks


async def test_stats_checks_network_and_peer(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    with pytest.raises(NotFoundError):
        await monitor.stats(99)
    with pytest.raises(NotFoundError) as err:
        await monitor.stats(lab.net.id, peer_id=999)
    assert err.value.code == "PEER_NOT_FOUND"
    out = await monitor.stats(lab.net.id, granularity="raw", peer_id=lab.peers[0].id)
    assert out["granularity"] == "raw" and out["series"]
