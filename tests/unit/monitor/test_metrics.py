from __future__ import annotations

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.monitor.conftest import Lab, settings
from wgpilot.monitor import Monitor
from wgpilot.monitor.metrics import Metrics
from wgpilot.monitor.state import LiveState


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_peer_and_network_series_come_from_the_last_poll(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    a, b = lab.peers
    lab.stats(a, rx=123_456, tx=654_321, handshake=30)
    lab.driver.devs[lab.net.interface].peers[b.public_key] = (
        lab.driver.devs[lab.net.interface].peers[b.public_key]._replace(endpoint="198.51.100.9:4444")
    )
    await monitor.tick()
    got = samples(await monitor.render_metrics())
    labels_a = (("network", "office"), ("peer", "peer0"), ("public_key", a.public_key))
    assert got[("wgpilot_peer_rx_bytes_total", labels_a)] == 123_456
    assert got[("wgpilot_peer_tx_bytes_total", labels_a)] == 654_321
    assert got[("wgpilot_peer_last_handshake_seconds", labels_a)] == int(lab.clock.now - 30)
    labels_b = (("network", "office"), ("peer", "peer1"), ("public_key", b.public_key))
    assert got[("wgpilot_peer_last_handshake_seconds", labels_b)] == 0
    assert got[("wgpilot_network_peers", (("network", "office"),))] == 2
    assert got[("wgpilot_network_peers_online", (("network", "office"),))] == 1
    assert got[("wgpilot_interface_up", (("interface", "wg0"), ("network", "office")))] == 1
    assert got[("wgpilot_poll_duration_seconds_count", ())] == 1
    assert got[("wgpilot_last_poll_timestamp_seconds", ())] == lab.clock.now
    assert got[("wgpilot_live_subscribers", ())] == 0
    assert [k for k in got if k[0] == "wgpilot_build_info"]


async def test_a_scrape_follows_the_state_without_stale_children(lab: Lab) -> None:
    monitor = Monitor(lab.ctx, settings())
    await monitor.tick()
    del lab.driver.devs[lab.net.interface]
    await monitor.tick()
    got = samples(await monitor.render_metrics())
    assert not [k for k in got if k[0].startswith("wgpilot_peer_")]  # peers gone with the interface
    assert got[("wgpilot_interface_up", (("interface", "wg0"), ("network", "office")))] == 0


def test_http_requests_by_route_template_with_bounded_labels() -> None:
    metrics = Metrics(lambda: LiveState(driver="fake"))
    metrics.record_request("GET", "/api/networks/{network_id:id}", 200, 0.004)
    metrics.record_request("GET", "/api/networks/{network_id:id}", 200, 0.2)
    metrics.record_request("BREW", "/api/*", 405, 0.001)
    got = samples(metrics.render_sync())
    route = (("method", "GET"), ("route", "/api/networks/{network_id:id}"))
    assert got[("wgpilot_http_requests_total", (*route, ("status", "200")))] == 2
    assert got[("wgpilot_http_request_duration_seconds_count", route)] == 2
    assert got[("wgpilot_http_request_duration_seconds_bucket", (("le", "0.005"), *route))] == 1
    assert (
        got[("wgpilot_http_requests_total", (("method", "OTHER"), ("route", "/api/*"), ("status", "405")))]
        == 1
    )


def test_metrics_live_in_their_own_registry() -> None:
    Metrics(lambda: LiveState(driver="fake"))
    Metrics(lambda: LiveState(driver="fake"))  # twice in one process: no duplicate registration
    assert b"wgpilot_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


def test_label_values_are_escaped_for_the_parser() -> None:
    from types import MappingProxyType

    from wgpilot.monitor.state import NetworkLive, PeerLabel, PeerStatus

    class Net:
        id, name, interface, enabled = 1, 'we"ird\\net', "wg0", True

    live = NetworkLive(
        network=Net(),  # type: ignore[arg-type]
        polled_at=1.0,
        peers=MappingProxyType({7: PeerStatus(7, 1, "K=", True, 5, 1, 2, 0.0, 0.0, None)}),
        labels=MappingProxyType({7: PeerLabel(7, 'a "b"\nc', True)}),
    )
    metrics = Metrics(lambda: LiveState(driver="fake", networks=(live,)))
    got = samples(metrics.render_sync())
    key = (("network", 'we"ird\\net'), ("peer", 'a "b"\nc'), ("public_key", "K="))
    assert got[("wgpilot_peer_rx_bytes_total", key)] == 1
    assert got[("wgpilot_peer_last_handshake_seconds", key)] == 5
