"""The HTTPS server for real, inside namespaces: first run through the API with the
install token down to a client pinging through its downloaded .conf, and crash
safety under kill -9 in the middle of a stream of peer creations."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time

import pytest

from tests.system.conftest import SERVER_LAN, Site
from tests.system.netns import PYTHON, ApiAgent, client_up, peers_of, wait_for

pytestmark = pytest.mark.system
BASE = f"https://{SERVER_LAN}:8443"
PASSWORD = "correct horse battery"


def start_https(site: Site) -> None:
    site.wgpilot.env["WGPILOT_LISTEN"] = f"{SERVER_LAN}:8443"
    site.wgpilot.env["WGPILOT_TLS_HTTP_PORT"] = "0"
    site.wgpilot.env["WGPILOT_AUTH_BCRYPT_COST"] = "4"
    site.wgpilot.start()


def test_first_run_through_the_api_to_a_working_tunnel(site: Site) -> None:
    wg = site.wgpilot
    out = wg.cli("init").stdout
    token = re.search(r"one-time install token: (\S+)", out).group(1)  # type: ignore[union-attr]
    start_https(site)
    c1 = site.client("c1")
    api = ApiAgent(c1, BASE)  # the admin's browser sits on the LAN, like the clients
    try:
        assert api.call("GET", "/health")["status"] == 200
        st = api.call("GET", "/api/setup/status")["json"]
        assert st["next_step"] == "admin" and st["driver"] == "userspace"  # type: ignore[index]
        r = api.call(
            "POST", "/api/setup/admin", {"install_token": token, "username": "admin", "password": PASSWORD}
        )
        assert r["status"] == 201, r
        assert api.call("PUT", "/api/setup/server", {"public_ip": SERVER_LAN})["status"] == 200
        r = api.call(
            "POST",
            "/api/setup/network",
            {"name": "office", "subnet": "10.81.0.0/24", "listen_port": 51881, "interface": "wgpe2e0"},
        )
        assert r["status"] == 201, r
        r = api.call("POST", "/api/setup/peer", {"name": "laptop"})
        assert r["status"] == 201, r
        peer = r["json"]["peer"]  # type: ignore[index]
        conf = api.call("GET", f"/api/networks/1/peers/{peer['id']}/config")
        assert conf["status"] == 200 and conf["text"] == r["json"]["config"]  # type: ignore[index]
        # Setup is over: the token is gone and every setup step refuses.
        again = api.call(
            "POST", "/api/setup/admin", {"install_token": token, "username": "x", "password": PASSWORD}
        )
        assert again["status"] == 409
    finally:
        api.close()
    client_up(c1, "wgc1", str(conf["text"]))
    assert c1.can_reach("10.81.0.1"), "the client cannot ping the server through the tunnel"
    assert peer["public_key"] in peers_of(site.server, "wgpe2e0")
    assert wg.stop() == 0


STREAM = r"""
import json, sys, httpx
base, cookie = sys.argv[1], sys.argv[2]
c = httpx.Client(base_url=base, verify=False, timeout=10, headers={"Origin": base},
                 cookies={"__Host-wgpilot_session": cookie})
i = 0
while True:
    try:
        r = c.post("/api/networks/1/peers", json={"name": f"s{i}"})
    except Exception:
        break
    if r.status_code == 201:
        print(json.dumps(r.json()), flush=True)
    i += 1
"""


def test_kill_9_mid_stream_loses_nothing_acknowledged(site: Site) -> None:
    wg, srv = site.wgpilot, site.server
    out = wg.cli("init").stdout
    token = re.search(r"one-time install token: (\S+)", out).group(1)  # type: ignore[union-attr]
    start_https(site)
    api = ApiAgent(srv, BASE)
    try:
        r = api.call(
            "POST", "/api/setup/admin", {"install_token": token, "username": "admin", "password": PASSWORD}
        )
        cookie = re.search(r"__Host-wgpilot_session=([^;]+)", r["headers"]["set-cookie"]).group(1)  # type: ignore[index,union-attr]
        api.call("PUT", "/api/setup/server", {"public_ip": SERVER_LAN})
        api.call(
            "POST",
            "/api/setup/network",
            {"name": "office", "subnet": "10.82.0.0/20", "listen_port": 51882, "interface": "wgpcrash0"},
        )
    finally:
        api.close()
    script = srv.write("stream.py", STREAM, 0o644)
    log = srv.root / "stream.out"
    streamer = srv.popen(PYTHON, str(script), BASE, cookie, log=log)
    wait_for(lambda: log.exists() and log.read_text().count("\n") >= 40, 60, what="40 acknowledged peers")
    assert wg.server is not None
    wg.server.send_signal(signal.SIGKILL)  # mid-stream
    wg.server.wait(timeout=10)
    wg.server = None
    streamer.wait(timeout=30)
    acked = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(acked) >= 40

    db = sqlite3.connect(wg.data_dir / "data.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("SELECT public_key FROM peers")}
    finally:
        db.close()
    missing = [p["name"] for p in acked if p["public_key"] not in stored]
    assert not missing, f"acknowledged peers lost: {missing}"

    # After restart the kernel equals the database again.
    wg.start()
    try:
        want = set()
        db = sqlite3.connect(wg.data_dir / "data.db")
        try:
            want = {r[0] for r in db.execute("SELECT public_key FROM peers WHERE enabled = 1")}
        finally:
            db.close()
        wait_for(
            lambda: set(peers_of(srv, "wgpcrash0")) == want, 15, what="kernel peers to equal the database"
        )
    finally:
        assert wg.stop() == 0
    time.sleep(0)
