"""The monitoring endpoints over the real app: stats, alert rules, /metrics, and what
happens without a monitor. The SSE stream itself is exercised over real HTTP in
tests/system/test_monitor_http.py (httpx's ASGI transport buffers whole responses)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import Recorder, api_settings, make_client
from tests.conftest import Clock
from wgpilot.monitor import Monitor
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler
from wgpilot.web.state import WebState


@pytest.fixture
async def state(ctx: Context, tmp_path: Any) -> WebState:
    settings = api_settings(tmp_path)
    st = WebState(ctx, settings)
    st.monitor = Monitor(ctx, settings, started_at=st.started_at)
    return st


@pytest.fixture
async def app(state: WebState, tmp_path: Any) -> AsyncIterator[Any]:
    from wgpilot.web.app import create_app

    application = create_app(state, record=state.monitor.record_request)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def mon(state: WebState, client: Recorder) -> AsyncIterator[Monitor]:
    """The monitor after setup: the kernel reconciled, one poll done."""
    await Reconciler(state.ctx).reconcile_all()
    monitor: Monitor = state.monitor
    monitor.attach()
    await monitor.tick()
    try:
        yield monitor
    finally:
        monitor.detach()
        await monitor.dispatcher.close()


async def _ids(client: Recorder) -> tuple[int, int]:
    net = (await client.get("/api/networks")).json()["items"][0]
    peer = (await client.get(f"/api/networks/{net['id']}/peers")).json()["items"][0]
    return net["id"], peer["id"]


async def test_status_reports_handshakes_and_rates(client: Recorder, mon: Monitor, clock: Clock) -> None:
    nid, pid = await _ids(client)
    net = await mon.ctx.networks.get(mon.ctx.db, nid)
    peer = await mon.ctx.peers.get(mon.ctx.db, pid)
    assert net is not None and peer is not None
    drv: Any = mon.ctx.driver
    drv.set_stats(net.interface, peer.public_key, rx=1000, tx=500, handshake=clock.now - 3)
    await mon.tick()
    clock.advance(5)
    drv.set_stats(net.interface, peer.public_key, rx=6000, tx=1500, handshake=clock.now - 8)
    await mon.tick()
    body = (await client.get("/api/status")).json()
    (status,) = [p for p in body["peers"] if p["peer_id"] == pid]
    assert status["online"] is True
    assert (status["rx_bytes"], status["tx_bytes"]) == (6000, 1500)
    assert status["rx_rate"] == pytest.approx(1000.0)
    assert status["tx_rate"] == pytest.approx(200.0)
    office = body["networks"][0]
    assert office["peers_online"] == 1


async def test_stats_shape_and_field_errors(client: Recorder, mon: Monitor, clock: Clock) -> None:
    nid, pid = await _ids(client)
    now = int(clock.now)
    r = await client.get(f"/api/networks/{nid}/stats", params={"granularity": "hour", "to": now})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["granularity"] == "hour" and body["to"] == now
    assert body["series"] and set(body["series"][0]) == {"timestamp", "rx_bytes", "tx_bytes"}
    r = await client.get(f"/api/networks/{nid}/stats", params={"peer_id": pid, "granularity": "raw"})
    assert r.status_code == 200, r.text

    async def field_of(params: dict[str, Any], path: str = f"/api/networks/{nid}/stats") -> tuple[int, str]:
        r = await client.get(path, params=params)
        fields = r.json()["error"].get("fields") or [{"field": ""}]
        return r.status_code, fields[0]["field"]

    assert await field_of({"granularity": "minute"}) == (422, "granularity")
    assert await field_of({"from": "yesterday"}) == (422, "from")
    assert await field_of({"from": now, "to": now - 10}) == (422, "to")
    assert await field_of({"from": 0, "to": now, "granularity": "raw"}) == (422, "from")
    assert await field_of({"bucket": "1"}) == (422, "bucket")
    r = await client.get("/api/networks/999/stats")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NETWORK_NOT_FOUND"
    r = await client.get(f"/api/networks/{nid}/stats", params={"peer_id": 999})
    assert r.status_code == 404 and r.json()["error"]["code"] == "PEER_NOT_FOUND"


async def test_alert_rules_crud_with_audit(client: Recorder, mon: Monitor) -> None:
    r = await client.post(
        "/api/alerts",
        json={
            "type": "peer_offline",
            "threshold": 600,
            "notify": "webhook",
            "target": "https://hooks.test/x",
        },
    )
    assert r.status_code == 201, r.text
    alert = r.json()
    assert alert["state"] == "ok" and alert["enabled"] is True
    aid = alert["id"]
    assert (await client.get("/api/alerts")).json()["total"] == 1
    assert (await client.get("/api/alerts", params={"offset": 1})).json() == {"items": [], "total": 1}
    assert (await client.get("/api/alerts", params={"limit": 0})).status_code == 422
    assert (await client.get(f"/api/alerts/{aid}")).json()["threshold"] == 600

    r = await client.put(f"/api/alerts/{aid}", json={"threshold": 900, "enabled": False})
    assert r.status_code == 200 and r.json()["threshold"] == 900 and r.json()["enabled"] is False
    # Switching to e-mail with a web address as the target names the field.
    r = await client.put(f"/api/alerts/{aid}", json={"notify": "email"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "target"
    assert (await client.get(f"/api/alerts/{aid}")).json()["notify"] == "webhook"  # unchanged

    bad = [
        ({"type": "disk_full", "threshold": 1, "notify": "email", "target": ""}, "type"),
        ({"type": "peer_offline", "threshold": -1, "notify": "email", "target": ""}, "threshold"),
        ({"type": "peer_offline", "threshold": 1, "notify": "sms", "target": ""}, "notify"),
        ({"type": "peer_offline", "threshold": 1, "notify": "webhook", "target": "ftp://x"}, "target"),
        ({"type": "peer_offline", "threshold": 1, "notify": "email", "target": "not-mail"}, "target"),
        ({"type": "peer_offline", "threshold": "1", "notify": "email", "target": ""}, "threshold"),
        ({"type": "peer_offline", "threshold": 1, "notify": "email", "target": "", "colour": 1}, "colour"),
    ]
    for body, field in bad:
        r = await client.post("/api/alerts", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in {f["field"] for f in r.json()["error"]["fields"]}, (body, r.text)
    assert (await client.get("/api/alerts")).json()["total"] == 1  # nothing half-created

    assert (await client.delete(f"/api/alerts/{aid}")).status_code == 204
    r = await client.get(f"/api/alerts/{aid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ALERT_NOT_FOUND"
    log = (await client.get("/api/audit-log", params={"action": "alert.*"})).json()
    assert [e["action"] for e in log["items"]] == ["alert.delete", "alert.update", "alert.create"]
    assert log["items"][0]["resource"] == f"alert:{aid}"


async def test_metrics_need_the_generated_token(
    client: Recorder, anon: Recorder, mon: Monitor, state: WebState, app: Any
) -> None:
    """/metrics names every peer and its key: never open, not even to loopback, and
    its 401 says how to authenticate."""
    nid, _ = await _ids(client)
    async with _loopback(app) as loopback:
        for c in (anon, client, loopback):  # a session is not a scrape token either
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic d2c6cGlsb3Q="}):
                r = await c.get("/metrics", headers=headers)
                assert r.status_code == 401, (headers, r.text)
                assert r.headers["www-authenticate"] == 'Bearer realm="wgpilot"'
                error = r.json()["error"]
                assert error["code"] == "UNAUTHORIZED" and "Settings" in error["message"]
                assert b"wgpilot_peer" not in r.content
    assert (await anon.get("/api/settings/metrics-token")).status_code == 401  # the token is for admins
    shown = (await client.get("/api/settings/metrics-token")).json()
    assert shown["source"] == "generated" and len(shown["token"]) >= 32
    assert shown == (await client.get("/api/settings/metrics-token")).json()  # stable, not per request
    r = await anon.get("/metrics", headers={"Authorization": f"Bearer {shown['token']}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert b'wgpilot_network_peers{network="office"}' in r.content and b"wgpilot_peer_rx_bytes" in r.content
    # Requests are counted per route template, never per concrete URL.
    await client.get(f"/api/networks/{nid}")
    text = (await anon.get("/metrics", headers={"Authorization": f"bearer {shown['token']}"})).text
    assert "/api/networks/{network_id}" in text
    assert f'/api/networks/{nid}"' not in text


async def test_metrics_token_from_the_configuration_wins(
    client: Recorder, anon: Recorder, mon: Monitor, state: WebState
) -> None:
    generated = (await client.get("/api/settings/metrics-token")).json()["token"]
    state.settings = state.settings.replace(metrics__token="s3cret-scrape-token")
    assert (await anon.get("/metrics", headers={"Authorization": f"Bearer {generated}"})).status_code == 401
    r = await anon.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert r.status_code == 200 and b"# TYPE" in r.content
    # Settings says where the token comes from, without echoing the configuration file's secret.
    assert (await client.get("/api/settings/metrics-token")).json() == {"source": "config", "token": None}


def _loopback(app: Any) -> Recorder:
    import httpx

    return Recorder(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)), base_url="https://localhost"
    )


async def test_endpoints_need_a_session(anon: Recorder, mon: Monitor) -> None:
    for path in ("/api/alerts", "/api/networks/1/stats", "/api/networks/1/events", "/api/events"):
        assert (await anon.get(path)).status_code == 401, path


async def test_streams_over_the_per_address_cap_are_429_over_the_total_503(client: Recorder, mon: Monitor) -> None:
    # 429 says "you have too many"; 503 "the server is full" (as the connection caps do).
    mon.hub.max_per_client = 0
    r = await client.get("/api/events")
    assert r.status_code == 429 and r.headers["retry-after"], r.text
    assert "monitor.max_streams_per_ip" in r.json()["error"]["message"]
    mon.hub.max_per_client, mon.hub.max_subscribers = 10, 0
    r = await client.get("/api/networks/1/events")
    assert r.status_code == 503 and r.headers["retry-after"], r.text
    assert r.json()["error"]["code"] == "SERVER_BUSY"
    assert "monitor.max_streams)" in r.json()["error"]["message"]


async def test_without_a_monitor_answers_503_not_500(ctx: Context, tmp_path: Any) -> None:
    from wgpilot.web.app import create_app

    st = WebState(ctx, api_settings(tmp_path))
    application = create_app(st)
    async with application.router.lifespan_context(application), make_client(application) as c:
        from tests.api.conftest import complete_setup

        await complete_setup(st, c)
        token = (await c.get("/api/settings/metrics-token")).json()["token"]
        for path in ("/api/networks/1/stats", "/api/networks/1/events", "/api/events", "/metrics"):
            r = await c.get(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "MONITOR_UNAVAILABLE"
        # Alert rules are plain data: they work without a running monitor.
        assert (await c.get("/api/alerts")).status_code == 200
