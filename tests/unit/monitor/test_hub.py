from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from tests.conftest import Clock
from tests.unit.monitor.conftest import Lab, settings
from wgpilot.domain.errors import NotFoundError, RateLimitedError, UnavailableError
from wgpilot.kernel.driver import DeviceState
from wgpilot.kernel.fake import FakeDriver
from wgpilot.monitor import Event, Hub, Monitor
from wgpilot.monitor.hub import ALL, Subscription
from wgpilot.monitor.state import NetworkLive, PeerStatus


def status(pid: int, rx: int) -> PeerStatus:
    return PeerStatus(pid, 1, f"key{pid}", True, 1, rx, 0, 0.0, 0.0, None)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)
    assert predicate(), what


async def collect(sub: Subscription, into: list[Event]) -> None:
    async for event in sub:
        into.append(event)


async def test_a_subscriber_gets_the_snapshot_then_only_changes(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    a, b = lab.peers
    lab.stats(a, rx=1, tx=1, handshake=1)
    await monitor.tick()
    events: list[Event] = []
    task = asyncio.create_task(collect(await monitor.subscribe(lab.net.id), events))
    await until(lambda: len(events) == 1, "the snapshot")
    snap = events[0]
    assert snap.event == "snapshot"
    assert sorted(p["peer_id"] for p in snap.json()["peers"]) == [a.id, b.id]
    assert set(snap.json()["peers"][0]) == {
        "peer_id",
        "network_id",
        "public_key",
        "online",
        "last_handshake",
        "rx_bytes",
        "tx_bytes",
        "rx_rate",
        "tx_rate",
        "endpoint",
    }
    lab.clock.advance(5)
    lab.stats(b, rx=7, tx=3, handshake=1)
    await monitor.tick()
    await until(lambda: len(events) == 2, "one status event")
    assert events[1].event == "status"
    assert [(p["peer_id"], p["rx_bytes"]) for p in events[1].json()["peers"]] == [(b.id, 7)]
    monitor.hub.heartbeat()
    await until(lambda: len(events) == 3, "a heartbeat")
    assert events[2].event == "heartbeat" and events[2].json() == {"ts": int(lab.clock.now)}
    assert events[2].sse() == {"event": "heartbeat", "data": events[2].data}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert monitor.hub.subscribers() == 0  # a disconnected client is released


async def test_an_unknown_network_is_not_found(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    with pytest.raises(NotFoundError):
        await monitor.subscribe(999)


class TrafficDriver(FakeDriver):
    """Every read shows new traffic on the first peer: each poll is one change."""

    async def device(self, name: str) -> DeviceState:
        dev = self.devs[name]
        key = next(iter(dev.peers))
        p = dev.peers[key]
        dev.peers[key] = p._replace(rx_bytes=p.rx_bytes + 100, last_handshake=1.0)
        return await super().device(name)


async def test_one_hundred_clients_share_one_poll_and_all_get_every_change(lab: Lab) -> None:
    driver = TrafficDriver()
    driver.devs = lab.driver.devs
    lab.ctx.driver = driver
    monitor = Monitor(lab.ctx, settings(monitor__poll_interval=0.01))
    received: list[list[Event]] = [[] for _ in range(100)]
    clients = [
        asyncio.create_task(collect(await monitor.subscribe(lab.net.id), received[i])) for i in range(100)
    ]
    await until(lambda: monitor.hub.subscribers(lab.net.id) == 100, "100 subscribers")
    runner = asyncio.create_task(monitor.run())
    await until(lambda: monitor.poller.polls >= 10, "ten polls")
    polls_seen = monitor.hub.published
    await until(
        lambda: all(sum(e.event == "status" for e in r) >= polls_seen for r in received),
        "every client to receive every change",
    )
    monitor.stop()
    await runner
    await asyncio.gather(*clients)
    # One device read per poll, however many clients listen.
    assert driver.ops["device"] == monitor.poller.polls
    published = monitor.hub.published
    for events in received:
        statuses = [e for e in events if e.event == "status"]
        assert events[0].event == "snapshot"
        assert len(statuses) >= polls_seen and len(statuses) <= published
        assert statuses[0] is received[0][1]  # encoded once, shared by every client
    assert monitor.hub.subscribers() == 0


async def test_a_slow_client_is_dropped_without_slowing_the_others() -> None:
    hub = Hub(lambda nid: None, clock=Clock(), queue_size=4)
    fast: list[Event] = []
    slow_sub = hub.subscribe(1)
    slow = slow_sub.__aiter__()
    assert (await anext(slow)).event == "snapshot"  # then it stops reading
    fast_task = asyncio.create_task(collect(hub.subscribe(1), fast))
    await until(lambda: hub.subscribers(1) == 2, "two subscribers")
    for i in range(10):
        await hub.publish(1, [status(1, i)])
        await asyncio.sleep(0)
    assert hub.subscribers(1) == 1 and slow_sub.dropped
    await until(lambda: len(fast) == 11, "all ten changes for the fast client")
    with pytest.raises(StopAsyncIteration):
        await anext(slow)  # its stream ends: the browser reconnects and gets a fresh snapshot
    hub.close()
    await fast_task


async def test_snapshots_are_encoded_once_per_state() -> None:
    peers = {i: status(i, i) for i in range(1, 4)}
    live = NetworkLive(network=None, polled_at=0, peers=peers)  # type: ignore[arg-type]
    hub = Hub(lambda nid: live, clock=Clock())
    first = await anext(hub.subscribe(1).__aiter__())
    second = await anext(hub.subscribe(1).__aiter__())
    assert first is second and [p["rx_bytes"] for p in json.loads(first.data)["peers"]] == [1, 2, 3]


async def test_one_stream_for_every_network() -> None:
    """subscribe(ALL): every network's peers in the snapshot, then every network's changes
    (the same Event objects the per-network subscribers get); a per-network stream still
    sees only its own network."""

    def net(nid: int, pids: range) -> NetworkLive:
        peers = {i: PeerStatus(i, nid, f"key{i}", False, None, 0, 0, 0.0, 0.0, None) for i in pids}
        return NetworkLive(network=None, polled_at=0, peers=peers)  # type: ignore[arg-type]

    nets = {1: net(1, range(1, 3)), 2: net(2, range(3, 6))}
    hub = Hub(nets.get, clock=Clock(), everything=lambda: tuple(nets.values()))
    everything = hub.subscribe(ALL).__aiter__()
    only_one = hub.subscribe(1).__aiter__()
    snap = await anext(everything)
    assert snap.event == "snapshot"
    assert [(p["peer_id"], p["network_id"]) for p in snap.json()["peers"]] == [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 2),
    ]
    assert [p["peer_id"] for p in (await anext(only_one)).json()["peers"]] == [1, 2]
    assert await hub.publish(2, [PeerStatus(4, 2, "key4", True, 1, 9, 9, 0.0, 0.0, None)]) == 1
    assert await hub.publish(1, [status(1, 7)]) == 2
    got = [await anext(everything), await anext(everything)]
    assert [e.json()["peers"][0]["peer_id"] for e in got] == [4, 1]
    mine = await anext(only_one)
    assert mine is got[1]  # encoded once for both kinds of subscriber
    assert hub.subscribers(ALL) == 1 and hub.subscribers() == 2
    # A new poll state (other peer maps) gives a new snapshot, the same one gives the cached one.
    again = await anext(hub.subscribe(ALL).__aiter__())
    assert again is snap
    nets[2] = net(2, range(3, 4))
    fresh = await anext(hub.subscribe(ALL).__aiter__())
    assert [p["peer_id"] for p in fresh.json()["peers"]] == [1, 2, 3]
    hub.close()


async def test_a_stream_ends_at_its_max_age() -> None:
    """The browser reconnects (and its session is checked again) instead of a stream
    outliving a logout forever."""
    hub = Hub(lambda nid: None, clock=Clock(), max_age=0.2)
    events = hub.subscribe(1).__aiter__()
    assert (await anext(events)).event == "snapshot"
    await hub.publish(1, [status(1, 1)])
    assert (await anext(events)).event == "status"
    async with asyncio.timeout(2):
        with pytest.raises(StopAsyncIteration):
            await anext(events)
    assert hub.subscribers() == 0


async def test_nothing_is_encoded_without_subscribers() -> None:
    hub = Hub(lambda nid: None, clock=Clock())
    assert await hub.publish(1, [status(1, 1)]) == 0
    assert hub.published == 0


async def test_too_many_streams_are_refused() -> None:
    hub = Hub(lambda nid: None, clock=Clock(), max_subscribers=2)
    streams = [hub.subscribe(1).__aiter__() for _ in range(2)]
    for s in streams:
        await anext(s)
    with pytest.raises(UnavailableError) as err:  # the server is full: 503, not a client's 429
        hub.subscribe(2)
    assert err.value.code == "SERVER_BUSY" and err.value.retry_after
    for s in streams:
        await s.aclose()  # type: ignore[attr-defined]
    assert hub.subscribers() == 0
    hub.subscribe(2)


async def test_every_announced_change_reaches_its_streams(lab: Lab) -> None:
    """A service change (any entry point: API, CLI through the server, expiry) is a
    ``changed`` event on the network's streams and the ALL streams, at once."""
    from tests.unit.monitor.conftest import ACTOR
    from wgpilot.services.networks import NetworkService
    from wgpilot.services.peers import PeerService

    monitor = Monitor(lab.ctx, settings())
    monitor.attach()
    await monitor.tick()
    other = await NetworkService(lab.ctx).create(ACTOR, name="other", subnet="10.9.0.0/24")
    await monitor.tick()
    mine: list[Event] = []
    everything: list[Event] = []
    theirs: list[Event] = []
    tasks = [
        asyncio.create_task(collect(await monitor.subscribe(lab.net.id), mine)),
        asyncio.create_task(collect(await monitor.subscribe_all(), everything)),
        asyncio.create_task(collect(await monitor.subscribe(other.id), theirs)),
    ]
    await until(lambda: len(mine) == len(everything) == len(theirs) == 1, "three snapshots")
    peers = PeerService(lab.ctx)
    added = await peers.create(ACTOR, lab.net.id, name="added")
    await peers.set_enabled(ACTOR, lab.net.id, added.id, False)
    await peers.delete(ACTOR, lab.net.id, lab.peers[0].id)
    await until(lambda: len(mine) == 4 and len(everything) == 4, "three changed events")
    want = {"kind": "peers", "network_id": lab.net.id}
    assert [(e.event, e.json()) for e in mine[1:]] == [("changed", want)] * 3
    assert [(e.event, e.json()) for e in everything[1:]] == [("changed", want)] * 3
    # The next poll finds the same changes in the rows: announced already, not again.
    await monitor.tick()
    await until(lambda: len(mine) == 5, "the poll's status event")
    assert mine[4].event == "status" and theirs[1:] == []
    lab.ctx.changed("restore")  # the whole database was replaced: every stream hears it
    await until(lambda: len(theirs) == 2, "the restore")
    assert theirs[1].json() == {"kind": "restore", "network_id": None}
    await monitor.tick()
    # Nothing more came of that poll: a heartbeat sent after it is the next event everywhere.
    monitor.hub.heartbeat()
    await until(lambda: mine[-1].event == theirs[-1].event == "heartbeat", "the heartbeat")
    assert [e.event for e in mine[5:]] == ["changed", "heartbeat"]
    assert [e.event for e in theirs[2:]] == ["heartbeat"]
    monitor.hub.close()
    await asyncio.gather(*tasks)


async def test_a_write_by_another_process_is_announced_too(lab: Lab) -> None:
    """A row written to the database by another process (no ctx.changed here) is found by
    the poller's comparison and announced: the network at the next poll, its peers once
    their directory is re-read."""
    from wgpilot.monitor.poller import DIRECTORY_TTL

    monitor = Monitor(lab.ctx, settings())
    monitor.attach()
    await monitor.tick()
    events: list[Event] = []
    task = asyncio.create_task(collect(await monitor.subscribe_all(), events))
    await until(lambda: len(events) == 1, "the snapshot")
    async with lab.ctx.db.transaction() as tx:
        await tx.execute("UPDATE peers SET name = 'renamed', enabled = 0 WHERE id = ?", (lab.peers[1].id,))
    lab.clock.advance(1)
    await monitor.tick()
    # Peer names are cached for up to a minute: that poll announced nothing, so a
    # heartbeat sent after it is the next event.
    monitor.hub.heartbeat()
    await until(lambda: events[-1].event == "heartbeat", "the heartbeat")
    assert [e.event for e in events[1:]] == ["heartbeat"]
    lab.clock.advance(DIRECTORY_TTL)
    await monitor.tick()
    await until(lambda: any(e.event == "changed" for e in events), "the changed event")
    assert [e.json() for e in events if e.event == "changed"] == [{"kind": "peers", "network_id": lab.net.id}]
    async with lab.ctx.db.transaction() as tx:
        await tx.execute("UPDATE networks SET name = 'elsewhere' WHERE id = ?", (lab.net.id,))
    lab.clock.advance(1)
    await monitor.tick()
    await until(lambda: sum(e.event == "changed" for e in events) == 2, "the network's change")
    assert events[-1].json() == {"kind": "networks", "network_id": lab.net.id}
    monitor.hub.close()
    await task


async def test_streams_are_capped_per_client_and_unstarted_ones_give_their_place_back() -> None:
    import gc

    hub = Hub(lambda nid: None, clock=Clock(), max_subscribers=3, max_per_client=2)
    mine = [hub.subscribe(1, "192.0.2.7").__aiter__() for _ in range(2)]
    for s in mine:
        await anext(s)
    with pytest.raises(RateLimitedError, match=r"monitor\.max_streams_per_ip"):
        hub.subscribe(1, "192.0.2.7")
    # Counted from subscribe on: a burst cannot pass the check before any stream starts.
    unstarted = hub.subscribe(1, "192.0.2.8")
    with pytest.raises(UnavailableError, match=r"monitor\.max_streams\)"):
        hub.subscribe(1, "192.0.2.9")
    del unstarted  # a response that never began
    gc.collect()
    hub.subscribe(1, "192.0.2.9")
    await mine[0].aclose()  # type: ignore[attr-defined]
    hub.subscribe(1, "192.0.2.7")
    hub.subscribe(1, None)  # not counted per client (the local CLI, in-process users)
