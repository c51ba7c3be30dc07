from __future__ import annotations

import asyncio
import logging

import pytest

from tests.unit.monitor.conftest import ACTOR, Lab, bulk_peers
from wgpilot.kernel.driver import NullDriver
from wgpilot.monitor.poller import Poller
from wgpilot.monitor.state import NetworkLive, PeerStatus
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService


async def test_online_means_a_handshake_younger_than_the_threshold(lab: Lab) -> None:
    poller = Poller(lab.ctx, online_threshold=180)
    a, b = lab.peers
    lab.stats(a, rx=10, tx=20, handshake=179)
    lab.stats(b, rx=0, tx=0, handshake=None)
    state, changes = await poller.poll()
    live = state.network(lab.net.id)
    assert live is not None
    assert live.peers[a.id].online and live.peers[a.id].last_handshake == int(lab.clock.now - 179)
    assert not live.peers[b.id].online and live.peers[b.id].last_handshake is None
    assert {s.peer_id for s in changes[lab.net.id]} == {a.id, b.id}  # first sight: everything
    assert live.peers_online == 1 and live.peers_total == 2 and live.interface_up

    lab.clock.advance(1)  # 180 s: no longer online
    state, changes = await poller.poll()
    assert [(s.peer_id, s.online) for s in changes[lab.net.id]] == [(a.id, False)]


async def test_transitions_are_logged_as_structured_events(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    poller = Poller(lab.ctx, online_threshold=180)
    a, _ = lab.peers
    lab.stats(a, handshake=5)
    caplog.set_level(logging.INFO, logger="wgpilot.monitor.poller")
    await poller.poll()
    lab.clock.advance(200)
    await poller.poll()
    events = [(r.msg, getattr(r, "event", None), getattr(r, "peer", None)) for r in caplog.records]
    assert events == [("peer online", "peer.online", "peer0"), ("peer offline", "peer.offline", "peer0")]
    offline = caplog.records[-1]
    assert offline.network == "office" and offline.peer_id == a.id and offline.public_key == a.public_key  # type: ignore[attr-defined]


async def test_rates_come_from_deltas_and_a_reset_is_zero_never_negative(lab: Lab) -> None:
    poller = Poller(lab.ctx)
    a, _ = lab.peers
    lab.stats(a, rx=1000, tx=500, handshake=1)
    await poller.poll()
    lab.clock.advance(5)
    lab.stats(a, rx=6000, tx=1500, handshake=1)
    _, changes = await poller.poll()
    (s,) = changes[lab.net.id]
    assert (s.rx_rate, s.tx_rate) == (1000.0, 200.0)

    lab.clock.advance(5)
    lab.stats(a, rx=300, tx=1600, handshake=1)  # rx counter reset (interface recreated)
    _, changes = await poller.poll()
    (s,) = changes[lab.net.id]
    assert (s.rx_bytes, s.rx_rate, s.tx_rate) == (300, 0.0, 20.0)

    lab.clock.advance(5)  # idle now: the rates drop to zero once, then nothing changes
    _, changes = await poller.poll()
    assert [(c.rx_rate, c.tx_rate) for c in changes[lab.net.id]] == [(0.0, 0.0)]
    lab.clock.advance(5)
    _, changes = await poller.poll()
    assert changes == {}


async def test_only_changed_peers_are_published_to_subscribers(lab: Lab) -> None:
    poller = Poller(lab.ctx)
    got: list[tuple[int, list[PeerStatus]]] = []

    def listener(net: NetworkLive, changed: list[PeerStatus]) -> None:
        got.append((net.network.id, changed))

    poller.subscribe(listener)
    _, b = lab.peers
    await poller.poll()
    got.clear()
    lab.clock.advance(5)
    await poller.poll()
    assert got == []
    lab.stats(b, rx=1, tx=1, handshake=0)
    lab.clock.advance(5)
    await poller.poll()
    assert [(nid, [s.peer_id for s in changed]) for nid, changed in got] == [(lab.net.id, [b.id])]


async def test_a_missing_interface_is_down_and_its_peers_go_offline(
    lab: Lab, caplog: pytest.LogCaptureFixture
) -> None:
    poller = Poller(lab.ctx)
    a, b = lab.peers
    lab.stats(a, rx=5, tx=5, handshake=1)
    await poller.poll()
    del lab.driver.devs[lab.net.interface]
    lab.clock.advance(5)
    caplog.set_level(logging.WARNING, logger="wgpilot.monitor.poller")
    state, changes = await poller.poll()
    live = state.network(lab.net.id)
    assert live is not None and live.down and live.down_since == lab.clock.now and not live.healthy
    assert live.error == "wg0 is missing" and live.peers == {}
    assert {(s.peer_id, s.online, s.rx_bytes) for s in changes[lab.net.id]} == {
        (a.id, False, 5),
        (b.id, False, 0),
    }
    assert [getattr(r, "event", None) for r in caplog.records] == ["interface.down"]
    first = live.down_since
    lab.clock.advance(5)
    state, _ = await poller.poll()
    assert state.network(lab.net.id).down_since == first  # type: ignore[union-attr]


async def test_an_interface_that_is_not_up_is_down(lab: Lab) -> None:
    lab.driver.devs[lab.net.interface].up = False
    state, _ = await Poller(lab.ctx).poll()
    live = state.network(lab.net.id)
    assert live is not None and live.interface_present and live.down


async def test_a_disabled_network_is_not_read_and_not_down(lab: Lab) -> None:
    await NetworkService(lab.ctx).set_enabled(ACTOR, lab.net.id, False)
    lab.driver.ops.clear()
    state, _ = await Poller(lab.ctx).poll()
    live = state.network(lab.net.id)
    assert live is not None and not live.down and live.healthy and live.peers == {}
    assert lab.driver.ops["device"] == 0


async def test_no_driver_means_no_kernel_reads(lab: Lab) -> None:
    lab.ctx.driver = NullDriver()
    state, _ = await Poller(lab.ctx).poll()
    assert state.driver == "none" and not state.kernel_enabled
    assert "kernel layer disabled" in state.diagnostics[0]
    assert not state.networks[0].down


async def test_a_failed_device_read_keeps_the_last_known_peers(lab: Lab) -> None:
    poller = Poller(lab.ctx)
    lab.stats(lab.peers[0], rx=1, tx=1, handshake=1)
    await poller.poll()
    lab.driver.fail_next["device"] = "daemon did not answer"
    state, changes = await poller.poll()
    live = state.network(lab.net.id)
    assert live is not None and live.error == "daemon did not answer" and len(live.peers) == 2
    assert changes == {}


async def test_new_peers_appear_after_invalidation_and_deleted_ones_vanish(lab: Lab) -> None:
    poller = Poller(lab.ctx)
    await poller.poll()
    svc = PeerService(lab.ctx)
    p = await svc.create(ACTOR, lab.net.id, name="late")
    state, _ = await poller.poll()
    assert p.id not in state.network(lab.net.id).peers  # type: ignore[union-attr]  # cached names
    poller.invalidate(lab.net.id)
    state, changes = await poller.poll()
    assert p.id in state.network(lab.net.id).peers  # type: ignore[union-attr]
    await svc.delete(ACTOR, lab.net.id, p.id)
    poller.invalidate(lab.net.id)
    state, changes = await poller.poll()
    assert p.id not in state.network(lab.net.id).peers  # type: ignore[union-attr]
    assert [(s.peer_id, s.online) for s in changes[lab.net.id]] == [(p.id, False)]


async def test_state_is_swapped_not_mutated(lab: Lab) -> None:
    poller = Poller(lab.ctx)
    before, _ = await poller.poll()
    lab.stats(lab.peers[0], rx=99, tx=1, handshake=1)
    after, _ = await poller.poll()
    assert before.network(lab.net.id).peers[lab.peers[0].id].rx_bytes == 0  # type: ignore[union-attr]
    assert after.network(lab.net.id).peers[lab.peers[0].id].rx_bytes == 99  # type: ignore[union-attr]
    assert before is not after


async def test_a_big_poll_yields_to_the_event_loop(lab: Lab) -> None:
    """10 000 peers: other coroutines get to run during the poll (counted, not timed)."""
    await bulk_peers(lab.ctx, lab.net, 10_000)
    poller = Poller(lab.ctx)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    ticks = 0
    state, changes = await poller.poll()
    stop.set()
    await task
    assert len(state.network(lab.net.id).peers) == 10_002  # type: ignore[union-attr]
    assert len(changes[lab.net.id]) == 10_002
    assert ticks >= 20  # the diff alone yields every 500 peers
