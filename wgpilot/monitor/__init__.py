"""Live monitoring (SPEC §9): poller, SSE fan-out, transfer history, Prometheus
metrics, alerts and health. ``Monitor`` (runner.py) wires them for ``wgpilot serve``.

    poller.py    reads devices, keeps the live state, publishes changes
    state.py     the immutable live state (PeerStatus, NetworkLive, LiveState)
    hub.py       fan-out of changes to SSE subscribers
    history.py   snapshots, roll-ups, retention, stats series
    metrics.py   own CollectorRegistry, scrape-time collector, HTTP metrics
    alerts.py    rule evaluation, incidents, messages
    notify.py    e-mail and webhook delivery with retries
    health.py    the /health document
"""

from __future__ import annotations

from wgpilot.monitor.hub import Event, Hub, Subscription
from wgpilot.monitor.metrics import CONTENT_TYPE, Metrics
from wgpilot.monitor.runner import Monitor
from wgpilot.monitor.state import LiveState, NetworkLive, PeerStatus

__all__ = [
    "CONTENT_TYPE",
    "Event",
    "Hub",
    "LiveState",
    "Metrics",
    "Monitor",
    "NetworkLive",
    "PeerStatus",
    "Subscription",
]
