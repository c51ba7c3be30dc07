"""Prometheus metrics on wgpilot's own ``CollectorRegistry`` (never the global one, so
tests and several apps in one process do not collide).

Peer and network series are rendered at scrape time from the poller's latest state
by ``LiveCollector``: nothing to keep in sync, no thousands of mutable children, and
every scrape shows one consistent poll. Only process-level things that accumulate
(HTTP requests, poll durations, alert deliveries) are ordinary metric objects.

    metrics = Metrics(lambda: poller.state)
    create_app(state, record=metrics.record_request)     # per request, by route template
    body = await metrics.render()                          # bytes, CONTENT_TYPE
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from wgpilot.monitor.state import LiveState
from wgpilot.version import info as version_info

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
POLL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PEER_LABELS = ["network", "peer", "public_key"]


class LiveCollector(Collector):
    """Networks and peers as the last poll saw them."""

    def __init__(self, source: Callable[[], LiveState], subscribers: Callable[[], int] | None = None) -> None:
        self._source = source
        self._subscribers = subscribers

    def collect(self) -> Iterator[Metric]:
        state = self._source()
        total = GaugeMetricFamily(
            "wgpilot_network_peers", "Peers configured in the network", labels=["network"]
        )
        online = GaugeMetricFamily(
            "wgpilot_network_peers_online",
            "Peers with a handshake within the online threshold",
            labels=["network"],
        )
        up = GaugeMetricFamily(
            "wgpilot_interface_up",
            "1 when the network's WireGuard interface is up",
            labels=["network", "interface"],
        )
        rx = CounterMetricFamily("wgpilot_peer_rx_bytes", "Bytes received from the peer", labels=PEER_LABELS)
        tx = CounterMetricFamily("wgpilot_peer_tx_bytes", "Bytes sent to the peer", labels=PEER_LABELS)
        hs = GaugeMetricFamily(
            "wgpilot_peer_last_handshake_seconds",
            "Unix time of the peer's latest handshake, 0 when it never completed one",
            labels=PEER_LABELS,
        )
        for net in state.networks:
            name = net.network.name
            total.add_metric([name], net.peers_total)
            online.add_metric([name], net.peers_online)
            up.add_metric([name, net.network.interface], 1.0 if net.interface_up else 0.0)
            labels = net.labels
            for p in net.peers.values():
                label = labels.get(p.peer_id)
                values = [name, label.name if label is not None else str(p.peer_id), p.public_key]
                rx.add_metric(values, p.rx_bytes)
                tx.add_metric(values, p.tx_bytes)
                hs.add_metric(values, p.last_handshake or 0)
        yield from (total, online, up, rx, tx, hs)
        last = GaugeMetricFamily(
            "wgpilot_last_poll_timestamp_seconds", "Unix time of the latest completed poll (0 = none yet)"
        )
        last.add_metric([], state.polled_at or 0)
        yield last
        if self._subscribers is not None:
            yield GaugeMetricFamily(
                "wgpilot_live_subscribers", "Open live-event (SSE) streams", value=self._subscribers()
            )


class Metrics:
    def __init__(
        self, source: Callable[[], LiveState], *, subscribers: Callable[[], int] | None = None
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        v = version_info()
        build = Gauge(
            "wgpilot_build_info", "Build of the running wgpilot", ["version", "commit", "date"], registry=r
        )
        build.labels(v["version"], v["commit"], v["date"]).set(1)
        self.http_requests = Counter(
            "wgpilot_http_requests",
            "HTTP requests by route template",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "wgpilot_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_duration = Histogram(
            "wgpilot_poll_duration_seconds",
            "Time to read and process every device",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.poll_errors = Counter("wgpilot_poll_errors", "Polls that failed", registry=r)
        self.snapshot_duration = Histogram(
            "wgpilot_snapshot_duration_seconds",
            "Time to store one snapshot tick",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.alert_deliveries = Counter(
            "wgpilot_alert_deliveries",
            "Alert notifications by channel and outcome",
            ["channel", "result"],
            registry=r,
        )
        r.register(LiveCollector(source, subscribers))

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Call once per HTTP request with the route TEMPLATE (bounded label values)."""
        method = method if method in METHODS else "OTHER"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def render_sync(self) -> bytes:
        return generate_latest(self.registry)

    async def render(self) -> bytes:
        """The exposition text, rendered in a worker thread (10 000 peers are ~30 000
        samples; the state it reads is immutable, so this is safe)."""
        return await asyncio.to_thread(generate_latest, self.registry)


def token_ok(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header satisfies ``metrics.token`` (empty = open)."""
    if not token:
        return True
    if not authorization or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
