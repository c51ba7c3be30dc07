"""Prometheus metrics on wgpilot's own ``CollectorRegistry`` (never the global one, so
tests and several apps in one process do not collide).

Network series are rendered at scrape time from the poller's latest state by
``LiveCollector``: nothing to keep in sync, no mutable children, every scrape shows
one consistent poll. Only things that accumulate in the process (HTTP requests, poll
durations, alert deliveries) are ordinary metric objects.

The per-peer families (three samples per peer: 30 000 lines at 10 000 peers) are
written by ``peer_exposition`` in the same text format, in slices with a yield between
them: prometheus-client's generic renderer needs ~250 ms of CPU for them and would
hold the event loop (or, in a thread, the GIL) that long. The output is checked with
prometheus-client's own parser in the tests.

    metrics = Metrics(lambda: poller.state)
    create_app(state, record=metrics.record_request)     # per request, by route template
    body = await metrics.render()                          # bytes, CONTENT_TYPE
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from wgpilot.monitor.state import LiveState
from wgpilot.version import info as version_info

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
POLL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


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
        for net in state.networks:
            name = net.network.name
            total.add_metric([name], net.peers_total)
            online.add_metric([name], net.peers_online)
            up.add_metric([name, net.network.interface], 1.0 if net.interface_up else 0.0)
        yield from (total, online, up)
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
        self._source = source

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Call once per HTTP request with the route TEMPLATE (bounded label values)."""
        method = method if method in METHODS else "OTHER"
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def render_sync(self) -> bytes:
        """The whole exposition in one go (tests, small states)."""
        state = self._source()
        lines: list[str] = []
        for _ in _peer_lines(state, lines):
            pass
        return generate_latest(self.registry) + "".join(lines).encode()

    async def render(self) -> bytes:
        """The whole exposition, yielding to the event loop while writing peer lines."""
        state = self._source()
        lines: list[str] = []
        for _ in _peer_lines(state, lines):
            await asyncio.sleep(0)
        return generate_latest(self.registry) + "".join(lines).encode()


_FAMILIES = (
    ("wgpilot_peer_rx_bytes_total", "counter", "Bytes received from the peer"),
    ("wgpilot_peer_tx_bytes_total", "counter", "Bytes sent to the peer"),
    (
        "wgpilot_peer_last_handshake_seconds",
        "gauge",
        "Unix time of the peer's latest handshake, 0 when it never completed one",
    ),
)
SLICE = 1000  # peers written between two yields


def _label(value: str) -> str:
    """A label value escaped as the text format wants it."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _peer_lines(state: LiveState, out: list[str]) -> Iterator[None]:
    """Append the per-peer families (labels network, peer, public_key) to ``out``;
    yields every ``SLICE`` peers so the caller can give the event loop a turn."""
    rx: list[str] = []
    tx: list[str] = []
    hs: list[str] = []
    count = 0
    for net in state.networks:
        network = _label(net.network.name)
        labels = net.labels
        for p in net.peers.values():
            label = labels.get(p.peer_id)
            peer = _label(label.name) if label is not None else str(p.peer_id)
            ident = f'{{network="{network}",peer="{peer}",public_key="{_label(p.public_key)}"}} '
            rx.append(f"wgpilot_peer_rx_bytes_total{ident}{p.rx_bytes}\n")
            tx.append(f"wgpilot_peer_tx_bytes_total{ident}{p.tx_bytes}\n")
            hs.append(f"wgpilot_peer_last_handshake_seconds{ident}{p.last_handshake or 0}\n")
            count += 1
            if count % SLICE == 0:
                yield
    for (name, kind, doc), samples in zip(_FAMILIES, (rx, tx, hs), strict=True):
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n")
        out.extend(samples)
