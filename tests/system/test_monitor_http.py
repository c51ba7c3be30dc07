"""Monitoring end to end through ``wgpilot serve`` itself: setup over HTTPS, an SSE
subscriber and Prometheus scrapes over real HTTPS, a client namespace connecting with
its downloaded .conf, an alert rule mailing a real SMTP sink (aiosmtpd on the server
namespace's loopback), and a graceful SIGTERM with a live stream open.

Short intervals: polls every second, online threshold 12 s, snapshots every 2 s.
"""

from __future__ import annotations

import re
import time
from email import message_from_string
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.system.conftest import SERVER_LAN, Site
from tests.system.events import EventLog, json_lines
from tests.system.netns import PYTHON, ApiAgent, Host, client_down, client_up, peers_of, wait_for

pytestmark = pytest.mark.system

BASE = f"https://{SERVER_LAN}:8443"
PASSWORD = "correct horse battery"
POLL = 1.0
THRESHOLD = 12
IFACE = "wgpmh0"
SMTP_PORT = 2525

SSE_READER = r"""
import asyncio, json, sys, time, httpx
base, cookie, path, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def out(doc):
    print(json.dumps(doc), flush=True)

async def one(c, i):
    async with c.stream("GET", path, headers={"Accept": "text/event-stream"}) as r:
        out({"i": i, "status": r.status_code, "ctype": r.headers.get("content-type")})
        event, data = None, []
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and event:
                out({"i": i, "event": event, "data": json.loads("".join(data)), "t": time.time()})
                event, data = None, []
    out({"i": i, "closed": time.time()})

async def main():
    limits = httpx.Limits(max_connections=n + 1)
    async with httpx.AsyncClient(base_url=base, verify=False, timeout=httpx.Timeout(10, read=60), limits=limits,
                                 cookies={"__Host-wgpilot_session": cookie}) as c:
        await asyncio.gather(*(one(c, i) for i in range(n)))

asyncio.run(main())
"""

SMTP_SINK = r"""
import asyncio, json, sys
from aiosmtpd.controller import Controller

class Sink:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                          "data": envelope.content.decode("utf-8", "replace")}), flush=True)
        return "250 OK"

ctl = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
ctl.start()
print(json.dumps({"ready": True}), flush=True)
asyncio.new_event_loop().run_forever()
"""


class Stream(EventLog):
    """``n`` SSE subscribers, each its own HTTPS connection, from one process in the
    given namespace; ``view(i)`` is what subscriber ``i`` received."""

    def __init__(self, host: Host, cookie: str, network_id: int, n: int = 1, name: str = "sse") -> None:
        script = host.write("sse_reader.py", SSE_READER, 0o644)
        self.log = host.root / f"{name}.out"
        self.n = n
        self.proc = host.popen(
            PYTHON, str(script), BASE, cookie, f"/api/networks/{network_id}/events", str(n), log=self.log
        )
        self.index = 0

    def view(self, i: int) -> Stream:
        v = object.__new__(Stream)
        v.log, v.n, v.proc, v.index = self.log, 1, self.proc, i
        return v

    def docs(self) -> list[dict[str, Any]]:
        return [d for d in json_lines(self.log) if d.get("i") == self.index]


def metrics_text(api: ApiAgent) -> str:
    """One /metrics scrape as Prometheus makes it: with the bearer token an admin reads
    in Settings (without it: 401, which is checked too)."""
    r = api.call("GET", "/metrics")
    assert r["status"] == 401 and r["headers"]["www-authenticate"] == 'Bearer realm="wgpilot"', r  # type: ignore[index]
    token = api.call("GET", "/api/settings/metrics-token")["json"]["token"]  # type: ignore[index]
    r = api.call("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r["status"] == 200, r
    return str(r["text"])


def scrape(api: ApiAgent) -> dict[str, dict[str, Any]]:
    """Per-peer samples of one /metrics scrape, parsed by prometheus_client's parser."""
    peers: dict[str, dict[str, Any]] = {}
    for fam in text_string_to_metric_families(metrics_text(api)):
        for s in fam.samples:
            if s.name in ("wgpilot_peer_rx_bytes_total", "wgpilot_peer_tx_bytes_total"):
                p = peers.setdefault(s.labels["public_key"], {})
                p[s.name[13:15]] = int(s.value)
                p["peer"], p["network"] = s.labels["peer"], s.labels["network"]
            if s.name == "wgpilot_network_peers_online":
                peers.setdefault("_online", {})[s.labels["network"]] = int(s.value)
    return peers


def dump_counters(site: Site, public_key: str) -> tuple[int, int, int]:
    """(handshake, rx, tx) as `wg show <if> dump` reports them on the server."""
    row = peers_of(site.server, IFACE)[public_key]
    return int(row[3]), int(row[4]), int(row[5])


def mails(path: Any) -> list[dict[str, Any]]:
    out = []
    for doc in json_lines(path):
        if "data" in doc:
            msg = message_from_string(doc["data"])
            body = msg.get_payload(decode=True)
            text = body.decode() if isinstance(body, bytes) else str(msg.get_payload())
            out.append({"to": doc["to"], "subject": str(msg["Subject"]), "body": text})
    return out


def test_sse_metrics_and_alert_mail_through_wgpilot_serve(site: Site) -> None:
    wg, srv = site.wgpilot, site.server
    token = re.search(r"one-time install token: (\S+)", wg.cli("init").stdout).group(1)  # type: ignore[union-attr]

    sink_log = srv.root / "smtp.out"
    srv.popen(PYTHON, str(srv.write("smtp_sink.py", SMTP_SINK, 0o644)), str(SMTP_PORT), log=sink_log)
    wait_for(lambda: any(d.get("ready") for d in json_lines(sink_log)), 20, what="the SMTP sink")

    wg.env.update(
        {
            "WGPILOT_LISTEN": f"{SERVER_LAN}:8443",
            "WGPILOT_TLS_HTTP_PORT": "0",
            "WGPILOT_AUTH_BCRYPT_COST": "4",
            "WGPILOT_MONITOR_POLL_INTERVAL": str(POLL),
            "WGPILOT_MONITOR_ONLINE_THRESHOLD": str(THRESHOLD),
            "WGPILOT_MONITOR_SNAPSHOT_INTERVAL": "2",
            # 21 streams from the one admin address below (the default allows 16 per address).
            "WGPILOT_MONITOR_MAX_STREAMS_PER_IP": "32",
        }
    )
    wg.start()
    admin = site.client("admin")  # the operator's browser sits on the LAN
    api = ApiAgent(admin, BASE)
    streams: list[Stream] = []
    try:
        r = api.call(
            "POST", "/api/setup/admin", {"install_token": token, "username": "admin", "password": PASSWORD}
        )
        assert r["status"] == 201, r
        cookie = re.search(r"__Host-wgpilot_session=([^;]+)", r["headers"]["set-cookie"]).group(1)  # type: ignore[index,union-attr]
        assert api.call("PUT", "/api/setup/server", {"public_ip": SERVER_LAN})["status"] == 200
        r = api.call(
            "POST",
            "/api/setup/network",
            {"name": "office", "subnet": "10.96.0.0/24", "listen_port": 51906, "interface": IFACE},
        )
        assert r["status"] == 201, r
        r = api.call("POST", "/api/setup/peer", {"name": "laptop"})
        assert r["status"] == 201, r
        pub, conf = r["json"]["peer"]["public_key"], r["json"]["config"]  # type: ignore[index]
        r = api.call(
            "PUT",
            "/api/settings",
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": SMTP_PORT,
                "smtp_security": "none",
                "smtp_from": "wgpilot@example.test",
                "alert_email": "ops@example.test",
            },
        )
        assert r["status"] == 200, r
        r = api.call(
            "POST", "/api/alerts", {"type": "peer_offline", "threshold": 0, "notify": "email", "target": ""}
        )
        assert r["status"] == 201, r

        # The new peer is in the live state within a poll or so (changes bring the poll forward).
        def polled() -> bool:
            return pub in {p["public_key"] for p in api.call("GET", "/api/status")["json"]["peers"]}  # type: ignore[index]

        wait_for(polled, 3 * POLL, what="the new peer in /api/status")
        sse = Stream(admin, cookie, 1)
        streams.append(sse)
        wait_for(lambda: bool(sse.events("snapshot")), 30, what="the SSE snapshot")
        head = sse.docs()[0]
        assert head["status"] == 200 and head["ctype"].startswith("text/event-stream")
        (first,) = [p for p in sse.events("snapshot")[0]["data"]["peers"] if p["public_key"] == pub]
        assert first["online"] is False and first["last_handshake"] is None

        # A client connects with the .conf it was given and pings the server.
        c1 = site.client("c1")
        client_up(c1, "wgmh1", str(conf))
        assert c1.can_reach("10.96.0.1"), "the client cannot ping through the tunnel"
        pinged = time.time()

        def online() -> bool:
            return any(s["online"] and s["rx_bytes"] > 0 and s["tx_bytes"] > 0 for s in sse.statuses(pub))

        wait_for(online, 2 * POLL + 1.5, interval=0.05, what="an SSE status: online with rx/tx")
        seen = next(s for s in sse.statuses(pub) if s["online"])
        assert seen["t"] - pinged <= 2 * POLL + 1.5
        assert seen["endpoint"] and seen["last_handshake"]

        # /metrics (parsed with prometheus_client) shows the bytes `wg show dump` shows, ± one poll.
        _, rx1, tx1 = dump_counters(site, pub)
        time.sleep(POLL + 0.5)
        m = scrape(api)
        _, rx2, tx2 = dump_counters(site, pub)
        assert m[pub]["peer"] == "laptop" and m[pub]["network"] == "office"
        assert rx1 <= m[pub]["rx"] <= rx2 and tx1 <= m[pub]["tx"] <= tx2, (m[pub], (rx1, tx1), (rx2, tx2))
        assert m["_online"]["office"] == 1

        # 20 more subscribers share the same poll; every one gets the same snapshot.
        crowd = Stream(admin, cookie, 1, n=20, name="crowd")
        streams.append(crowd)
        more = [crowd.view(i) for i in range(20)]
        wait_for(lambda: all(s.events("snapshot") for s in more), 30, what="20 more snapshots")
        text = metrics_text(api)
        assert re.search(r"^wgpilot_live_subscribers(\{[^}]*\})? 21(\.0)?$", text, re.M), text[-2000:]

        # The client goes away: offline once the last handshake is THRESHOLD s old.
        handshake, _, _ = dump_counters(site, pub)
        client_down(c1, "wgmh1")

        def offline() -> bool:
            return any(not s["online"] for s in sse.statuses(pub) if s["t"] > seen["t"])

        wait_for(offline, THRESHOLD + 4 * POLL + 5, interval=0.1, what="the peer to go offline over SSE")
        gone = next(s for s in sse.statuses(pub) if s["t"] > seen["t"] and not s["online"])
        assert gone["t"] >= handshake + THRESHOLD - 0.5
        assert gone["t"] <= handshake + THRESHOLD + 2 * POLL + 1.5
        for s in more:
            wait_for(lambda s=s: any(not x["online"] for x in s.statuses(pub)), 5, what="fan-out of offline")

        # The alert mails once, naming the peer and the network...
        wait_for(lambda: len(mails(sink_log)) >= 1, 20, what="the offline mail")
        # ...and comes back with one recovery mail when the client does.
        client_up(c1, "wgmh1", str(conf))
        assert c1.can_reach("10.96.0.1")
        wait_for(lambda: len(mails(sink_log)) >= 2, 20, what="the recovery mail")
        time.sleep(3 * POLL)  # a few more polls: nothing is sent twice
        sent = mails(sink_log)
        assert len(sent) == 2, [m["subject"] for m in sent]
        firing, resolved = sent
        assert firing["to"] == ["ops@example.test"]
        assert (
            "FIRING" in firing["subject"] and "laptop" in firing["subject"] and "office" in firing["subject"]
        )
        assert "peer laptop of network office" in firing["body"]
        assert "RESOLVED" in resolved["subject"] and "laptop" in resolved["subject"]
        assert "back online" in resolved["body"]

        # History: the raw series adds up to the device's counters at the last snapshot.
        _, rx_a, tx_a = dump_counters(site, pub)
        time.sleep(2 * 2 + 0.5)  # two snapshot intervals
        r = api.call("GET", "/api/networks/1/stats?granularity=raw")
        _, rx_b, tx_b = dump_counters(site, pub)
        assert r["status"] == 200, r
        series = r["json"]["series"]  # type: ignore[index]
        total_rx, total_tx = sum(b["rx_bytes"] for b in series), sum(b["tx_bytes"] for b in series)

        assert rx_a <= total_rx <= rx_b and tx_a <= total_tx <= tx_b, ((total_rx, total_tx), (rx_a, tx_a))
    finally:
        api.close()

    # SIGTERM with 21 streams open: every stream ends and the server exits 0 promptly.
    started = time.time()
    assert wg.stop(timeout=15) == 0
    assert time.time() - started < 10
    for s in streams:
        s.proc.wait(timeout=10)
        for i in range(s.n):
            assert s.view(i).docs()[-1].get("closed"), s.log.read_text()[-500:]
