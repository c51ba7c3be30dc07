"""The monitor against a real tunnel: wgpilot's userspace driver on wireguard-go in a
server namespace, a client namespace connecting with wg-quick.

The monitor runs in its own process inside the server namespace (the agent below:
``Monitor`` exactly as ``wgpilot serve`` runs it, with one SSE subscription and a
/metrics scrape after every poll, printed as JSON lines). Short intervals: polls every
second, online threshold 12 s, snapshots every 2 s.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import Site
from tests.system.events import EventLog
from tests.system.netns import PYTHON, client_down, client_up, peers_of, wait_for

pytestmark = pytest.mark.system

POLL = 1.0
THRESHOLD = 12
IFACE = "wgpmon0"

AGENT = r"""
import asyncio, json, sys, time
from prometheus_client.parser import text_string_to_metric_families
from wgpilot import config, logsetup
from wgpilot.monitor import Monitor
from wgpilot.runtime import open_context

def out(doc):
    print(json.dumps(doc), flush=True)

async def main(network_id):
    settings = config.load(None)
    logsetup.setup("info", "json")
    async with open_context(settings) as ctx:
        monitor = Monitor(ctx, settings)
        runner = asyncio.create_task(monitor.run())
        sub = await monitor.subscribe(network_id)

        async def events():
            async for ev in sub:
                out({"event": ev.event, "data": json.loads(ev.data), "t": time.time()})

        async def scrape():
            seen = 0
            while True:
                await asyncio.sleep(0.05)
                if monitor.poller.polls == seen:
                    continue
                seen = monitor.poller.polls
                text = (await monitor.render_metrics()).decode()
                peers = {}
                for fam in text_string_to_metric_families(text):
                    for s in fam.samples:
                        if s.name in ("wgpilot_peer_rx_bytes_total", "wgpilot_peer_tx_bytes_total"):
                            peers.setdefault(s.labels["public_key"], {})[s.name[13:15]] = int(s.value)
                            peers[s.labels["public_key"]]["peer"] = s.labels["peer"]
                out({"metrics": peers, "polled_at": monitor.state.polled_at, "polls": seen})

        await asyncio.gather(events(), scrape(), runner)

asyncio.run(main(int(sys.argv[1])))
"""


class Agent(EventLog):
    def __init__(self, site: Site, network_id: int) -> None:
        host = site.server
        self.log = host.root / "monitor-agent.log"
        script = host.write("monitor_agent.py", AGENT, 0o644)
        env = {
            **site.wgpilot.env,
            "WGPILOT_MONITOR_POLL_INTERVAL": str(POLL),
            "WGPILOT_MONITOR_ONLINE_THRESHOLD": str(THRESHOLD),
            "WGPILOT_MONITOR_SNAPSHOT_INTERVAL": "2",
        }
        self.proc = host.popen(PYTHON, str(script), str(network_id), log=self.log, env=env)

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [d for d in self.docs() if d.get("event") == event and "msg" in d]


def server_counters(site: Site, public_key: str) -> tuple[int, int, int]:
    """(handshake, rx, tx) as `wg show <if> dump` reports them."""
    row = peers_of(site.server, IFACE)[public_key]
    return int(row[3]), int(row[4]), int(row[5])


def test_a_real_peer_goes_online_with_the_device_bytes_then_offline(site: Site) -> None:
    wg = site.wgpilot
    wg.cli(
        "network",
        "create",
        "--name",
        "mon",
        "--subnet",
        "10.95.0.0/24",
        "--port",
        "51905",
        "--interface",
        IFACE,
    )
    peer = wg.json("peer", "add", "--network", "mon", "--name", "laptop")
    pub = peer["public_key"]  # type: ignore[index]
    agent = Agent(site, network_id=1)
    try:
        wait_for(lambda: bool(agent.events("snapshot")), 30, what="the SSE snapshot")
        (snap,) = agent.events("snapshot")
        (first,) = [p for p in snap["data"]["peers"] if p["public_key"] == pub]
        assert first["online"] is False and first["last_handshake"] is None

        c1 = site.client("c1")
        client_up(c1, "wgm1", wg.config("mon", "laptop"))
        assert c1.can_reach("10.95.0.1"), "the client cannot ping through the tunnel"
        pinged = time.time()

        # Within two polls an SSE subscriber sees the peer online with traffic both ways.
        def online() -> bool:
            return any(s["online"] and s["rx_bytes"] > 0 and s["tx_bytes"] > 0 for s in agent.statuses(pub))

        wait_for(online, 2 * POLL + 1.5, interval=0.05, what="an online status with rx/tx")
        seen = next(s for s in agent.statuses(pub) if s["online"])
        assert seen["t"] - pinged <= 2 * POLL + 1.5
        assert seen["endpoint"] is not None and seen["last_handshake"] is not None
        assert agent.logged("peer.online")[0]["peer"] == "laptop"

        # /metrics shows the bytes `wg show dump` shows (within one poll).
        _, rx1, tx1 = server_counters(site, pub)
        taken = time.time()
        wait_for(
            lambda: any(d.get("polled_at", 0) > taken for d in agent.docs()),
            5 * POLL,
            what="a poll after the dump",
        )
        scrape = next(d for d in agent.docs() if d.get("polled_at", 0) > taken)
        _, rx2, tx2 = server_counters(site, pub)
        m = scrape["metrics"][pub]
        assert m["peer"] == "laptop"
        assert rx1 <= m["rx"] <= rx2 and tx1 <= m["tx"] <= tx2, (m, (rx1, tx1), (rx2, tx2))

        # Stop the client: no handshake any more, so it is offline THRESHOLD s after the last one.
        handshake, _, _ = server_counters(site, pub)
        client_down(c1, "wgm1")

        def offline() -> bool:
            return any(not s["online"] for s in agent.statuses(pub) if s["t"] > seen["t"])

        wait_for(offline, THRESHOLD + 4 * POLL + 5, interval=0.1, what="the peer to go offline")
        gone = next(s for s in agent.statuses(pub) if s["t"] > seen["t"] and not s["online"])
        assert gone["t"] >= handshake + THRESHOLD - 0.5  # not before the threshold
        assert gone["t"] <= handshake + THRESHOLD + 2 * POLL + 1.5  # and promptly after it
        assert [d["peer"] for d in agent.logged("peer.offline")] == ["laptop"]
        _, rx_end, tx_end = server_counters(site, pub)
        time.sleep(2.5)  # one more snapshot tick
    finally:
        agent.proc.send_signal(signal.SIGTERM)
        agent.proc.wait(timeout=10)

    # The history saw the same counters (raw rows are the device's cumulative bytes).
    db = sqlite3.connect(Path(wg.data_dir) / "data.db")
    try:
        (peer_id,) = db.execute("SELECT id FROM peers WHERE public_key = ?", (pub,)).fetchone()
        last = db.execute(
            "SELECT rx_bytes, tx_bytes FROM peer_snapshots WHERE peer_id = ? ORDER BY timestamp DESC LIMIT 1",
            (peer_id,),
        ).fetchone()
    finally:
        db.close()
    assert last == (rx_end, tx_end)
