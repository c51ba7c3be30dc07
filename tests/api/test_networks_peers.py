from __future__ import annotations

import asyncio
import json
import logging

from tests.api.conftest import BASE, make_client


async def test_network_crud(client) -> None:
    r = await client.post(
        "/api/networks",
        json={
            "name": "lab",
            "mode": "hub-routed",
            "subnet": "10.9.0.0/24",
            "subnet6": "fd00:9::/64",
            "listen_port": 51821,
            "mtu": 1380,
        },
    )
    assert r.status_code == 201
    net = r.json()
    assert (
        net["interface"] == "wg1"
        and net["inter_peer_routing"] is True
        and net["server_address6"] == "fd00:9::1"
    )
    assert "private_key" not in net
    nets = (await client.get("/api/networks")).json()
    assert nets["total"] == 2 and [n["name"] for n in nets["items"]] == ["office", "lab"]
    assert (await client.get("/api/networks?limit=1&offset=1")).json()["items"][0]["name"] == "lab"
    r = await client.put(f"/api/networks/{net['id']}", json={"listen_port": 51822, "nat_enabled": True})
    assert r.status_code == 200 and r.json()["listen_port"] == 51822 and r.json()["nat_enabled"] is True
    assert (await client.post(f"/api/networks/{net['id']}/disable")).json()["enabled"] is False
    assert (await client.post(f"/api/networks/{net['id']}/enable")).json()["enabled"] is True
    assert (await client.delete(f"/api/networks/{net['id']}")).status_code == 204
    r = await client.get(f"/api/networks/{net['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NETWORK_NOT_FOUND"


async def test_network_errors_name_fields(client) -> None:
    cases = [
        ({"name": "x", "subnet": "10.8.0.0/16"}, 422, "subnet"),
        ({"name": "x", "subnet": "10.9.0.0/24", "listen_port": 51820}, 422, "listen_port"),
        ({"name": "x", "subnet": "10.9.0.0/24", "listen_port": 70000}, 422, "listen_port"),
        ({"name": "x", "subnet": "10.9.0.0/24", "listen_port": "51830"}, 422, "listen_port"),
        ({"name": "x", "subnet": "10.9.0.0/24", "mode": "mesh"}, 422, "mode"),
        ({"name": "x", "subnet": "10.9.0.0/24", "bogus": 1}, 422, "bogus"),
        ({"subnet": "10.9.0.0/24"}, 422, "name"),
        ({"name": "x", "subnet": "10.9.0.0/24", "mtu": 2**70}, 422, "mtu"),
        ({"name": "x", "subnet": "10.9.0.0/24", "dns_servers": "1.1.1.1"}, 422, "dns_servers"),
        ({"name": "x", "subnet": "10.9.0.0/24", "dns_servers": ["1.1.1.1", "$(id)"]}, 422, "dns_servers[1]"),
    ]
    for body, status, field in cases:
        r = await client.post("/api/networks", json=body)
        assert r.status_code == status, (body, r.text)
        err = r.json()["error"]
        assert set(err) == {"code", "message", "fields"}
        assert field in [f["field"] for f in err["fields"]], (body, err)
    assert (await client.get("/api/networks")).json()["total"] == 1


async def test_a_network_created_without_dns_takes_the_default(client) -> None:
    r = await client.put("/api/settings", json={"default_dns": ["9.9.9.9"]})
    assert r.status_code == 200, r.text
    base = {"subnet": "10.9.0.0/24"}
    r = await client.post("/api/networks", json={"name": "dflt", **base})
    assert r.status_code == 201 and r.json()["dns_servers"] == ["9.9.9.9"], r.text
    await client.delete(f"/api/networks/{r.json()['id']}")
    r = await client.post("/api/networks", json={"name": "nodns", **base, "dns_servers": []})
    assert r.status_code == 201 and r.json()["dns_servers"] == [], r.text


async def test_a_default_dns_saved_before_stricter_checks_is_a_settings_problem(client, state) -> None:
    """ "1.1.1" was once saved as a search domain. A network created without DNS servers
    is not refused for default_dns[0], a field it never sent: the setting is named, and
    GET /api/settings lists what to correct."""
    async with state.ctx.db.transaction() as tx:
        await state.ctx.settings.set(tx, "default_dns", json.dumps(["1.1.1", "9.9.9.9"]))
    settings = (await client.get("/api/settings")).json()
    assert settings["default_dns"] == ["1.1.1", "9.9.9.9"]
    assert [p["field"] for p in settings["problems"]] == ["default_dns[0]"]
    r = await client.post("/api/networks", json={"name": "lab", "subnet": "10.9.0.0/24"})
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "INVALID_SETTING" and err["fields"] == []
    assert "default_dns" in err["message"] and "Settings" in err["message"] and "1.1.1" in err["message"]
    r = await client.post("/api/networks", json={"name": "lab", "subnet": "10.9.0.0/24", "dns_servers": []})
    assert r.status_code == 201, r.text  # naming its own DNS servers, a network does not need the setting
    r = await client.put("/api/settings", json={"default_dns": ["9.9.9.9"]})
    assert r.status_code == 200 and r.json()["problems"] == [], r.text
    r = await client.post("/api/networks", json={"name": "lab2", "subnet": "10.10.0.0/24"})
    assert r.status_code == 201 and r.json()["dns_servers"] == ["9.9.9.9"], r.text


async def test_a_new_peer_gets_a_preshared_key_unless_asked_not_to(client) -> None:
    r = await client.post("/api/networks/1/peers", json={"name": "dflt"})
    assert r.status_code == 201 and r.json()["preshared_key"] is True, r.text
    r = await client.post("/api/networks/1/peers", json={"name": "nopsk", "preshared_key": False})
    assert r.status_code == 201 and r.json()["preshared_key"] is False, r.text
    # The default is published where the UI and other clients can read it; updates have none.
    schemas = (await client.get("/api/openapi.json")).json()["components"]["schemas"]
    assert schemas["PeerCreate"]["properties"]["preshared_key"]["default"] is True
    assert schemas["SetupPeer"]["properties"]["preshared_key"]["default"] is True
    assert "default" not in schemas["PeerUpdate"]["properties"]["preshared_key"]


async def test_an_interface_of_another_network_is_a_422_like_its_name_or_port(client) -> None:
    # A clash between our own rows is bad input (422, one code); a clash with the host's
    # state (the next test) is a 409.
    office = (await client.get("/api/networks")).json()["items"][0]
    fresh = {"name": "x", "subnet": "10.9.0.0/24"}
    errors = {}
    for field in ("interface", "name", "listen_port"):
        r = await client.post("/api/networks", json={**fresh, field: office[field]})
        assert r.status_code == 422, r.text
        errors[field] = r.json()["error"]
        assert [f["field"] for f in errors[field]["fields"]] == [field], errors[field]
    assert len({e["code"] for e in errors.values()}) == 1, errors
    assert "already used by network 'office'" in errors["interface"]["fields"][0]["message"]
    assert (await client.get("/api/networks")).json()["total"] == 1


async def test_an_interface_name_held_elsewhere_is_a_409_naming_interface(client, ctx) -> None:
    ctx.driver.add_foreign_socket("wgheld0")
    r = await client.post(
        "/api/networks", json={"name": "x", "subnet": "10.9.0.0/24", "interface": "wgheld0"}
    )
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "INTERFACE_IN_USE" and [f["field"] for f in err["fields"]] == ["interface"]
    assert "outside this network namespace" in err["fields"][0]["message"]
    assert (await client.get("/api/networks")).json()["total"] == 1


async def test_bodies_without_content_length_are_read_whole_and_limited(client) -> None:
    # Chunked: no Content-Length, so the body arrives in pieces and the limit is
    # counted as it comes.
    async def pieces(parts: list[bytes]):  # type: ignore[no-untyped-def]
        for part in parts:
            yield part

    body = [b'{"name": "chunk', b'ed", "subnet": "10.', b'77.0.0/24"}']
    r = await client.post("/api/networks", content=pieces(body), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.status_code == 201 and r.json()["name"] == "chunked"
    big = [b"x" * (1 << 19)] * 3
    r = await client.post("/api/networks", content=pieces(big), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_client_leaving_mid_body_is_no_error_and_changes_nothing(app, client, caplog) -> None:
    # wrk and browsers close connections with a request half sent; that is the
    # client's doing, not a server error: no traceback, no 500, nothing written.
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    body = b'{"name": "half", "subnet": "10.78.0.0/24"}'
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "path": "/api/networks", "raw_path": b"/api/networks", "root_path": "",
        "query_string": b"", "server": ("localhost", 443), "client": ("198.51.100.7", 50000),
        "headers": [
            (b"host", b"localhost"), (b"origin", BASE.encode()), (b"cookie", cookie.encode()),
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ],
    }  # fmt: skip
    messages = iter([
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ])  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    with caplog.at_level(logging.DEBUG):
        await app(scope, receive, send)
    assert sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    access = [r for r in caplog.records if r.name == "wgpilot.http" and r.getMessage() == "request"]
    assert [getattr(r, "status", None) for r in access] == [499]
    r = await client.get("/api/networks")
    assert "half" not in [n["name"] for n in r.json()["items"]]


async def test_ui_asset_requests_are_logged_at_debug_api_requests_at_info(client, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="wgpilot.http"):
        assert (await client.get("/assets/app-1234.js")).status_code == 200
        assert (await client.get("/api/networks")).status_code == 200
    levels = {r.path: r.levelno for r in caplog.records if r.name == "wgpilot.http"}  # type: ignore[attr-defined]
    assert levels == {"static": logging.DEBUG, "/api/networks": logging.INFO}, levels


async def test_malformed_requests(client) -> None:
    r = await client.post("/api/networks", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_JSON"
    r = await client.post("/api/networks", content=b'{"name": "x"}', headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = await client.post("/api/networks", json=[1, 2])
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "body"
    r = await client.post(
        "/api/networks", content=b'{"name": NaN}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/networks", content=b"[" * 100000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/networks", content=b"x" * (2 << 20), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = await client.get("/api/networks?limit=0")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "limit"
    for q in (
        "limit=99999999999999999999999",
        "offset=-1",
        "limit=abc",
        "nope=1",
        "offset=9223372036854775808",
    ):
        r = await client.get(f"/api/networks?{q}")
        assert r.status_code == 422, q
    assert (await client.get("/api/networks/99999999999999999999999")).status_code == 404
    assert (await client.get("/api/networks/0")).status_code == 404
    assert (await client.get("/api/networks/-1")).status_code == 404


async def test_peer_lifecycle_config_and_qr(client) -> None:
    r = await client.post(
        "/api/networks/1/peers",
        json={"name": "laptop", "preshared_key": True, "client_allowed_ips": ["192.168.50.0/24"]},
    )
    assert r.status_code == 201
    p = r.json()
    assert p["address"] == "10.8.0.3" and p["preshared_key"] is True and p["has_private_key"] is True
    r = await client.get(f"/api/networks/1/peers/{p['id']}/config")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"] == 'attachment; filename="laptop.conf"'
    assert "AllowedIPs = 192.168.50.0/24" in r.text and "Endpoint = 203.0.113.10:51820" in r.text
    png = await client.get(f"/api/networks/1/peers/{p['id']}/qr")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = await client.get(f"/api/networks/1/peers/{p['id']}/qr?format=svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    r = await client.put(
        f"/api/networks/1/peers/{p['id']}", json={"name": "renamed", "persistent_keepalive": 0}
    )
    assert r.json()["name"] == "renamed" and r.json()["persistent_keepalive"] == 0
    assert (await client.post(f"/api/networks/1/peers/{p['id']}/disable")).json()["enabled"] is False
    assert (await client.post(f"/api/networks/1/peers/{p['id']}/enable")).json()["enabled"] is True
    page = (await client.get("/api/networks/1/peers?search=renam")).json()
    assert page["total"] == 1 and page["items"][0]["id"] == p["id"]
    page = (await client.get("/api/networks/1/peers?sort=name&order=desc&limit=1")).json()
    assert page["total"] == 2 and page["items"][0]["name"] == "renamed"
    assert (await client.delete(f"/api/networks/1/peers/{p['id']}")).status_code == 204
    r = await client.get(f"/api/networks/1/peers/{p['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "PEER_NOT_FOUND"
    # A peer of another network is not reachable through this one.
    other = (await client.post("/api/networks", json={"name": "b", "subnet": "10.9.0.0/24"})).json()
    q = (await client.post(f"/api/networks/{other['id']}/peers", json={"name": "x"})).json()
    assert (await client.get(f"/api/networks/1/peers/{q['id']}")).status_code == 404


async def test_no_qr_code_for_a_peer_that_brought_its_own_key(client) -> None:
    from wgpilot.domain import keys, render

    _, public = keys.generate_keypair()
    p = (await client.post("/api/networks/1/peers", json={"name": "tablet", "public_key": public})).json()
    assert p["has_private_key"] is False
    for fmt in ("", "?format=svg", "?format=png"):
        r = await client.get(f"/api/networks/1/peers/{p['id']}/qr{fmt}")
        assert r.status_code == 409, fmt
        err = r.json()["error"]
        assert err["code"] == "PEER_KEY_NOT_HELD" and "brought its own key" in err["message"]
    # The .conf still downloads, the placeholder marked as one.
    r = await client.get(f"/api/networks/1/peers/{p['id']}/config")
    assert r.status_code == 200
    assert f"{render.PLACEHOLDER_NOTE}\nPrivateKey = {render.PRIVATE_KEY_PLACEHOLDER}\n" in r.text


async def test_config_file_names_are_interface_names_wg_quick_accepts(client) -> None:
    import re

    names = ["Anna's laptop (work)", "a-very-long-peer-name-1", "a-very-long-peer-name-2", "phone"]
    seen = set()
    for name in names:
        p = (await client.post("/api/networks/1/peers", json={"name": name})).json()
        r = await client.get(f"/api/networks/1/peers/{p['id']}/config")
        m = re.fullmatch(r'attachment; filename="([^"]*)"', r.headers["content-disposition"])
        assert m and re.fullmatch(r"[A-Za-z0-9_=+.-]{1,15}\.conf", m.group(1)), r.headers
        seen.add(m.group(1))
    assert len(seen) == len(names) and "phone.conf" in seen


async def test_two_hundred_concurrent_peer_creations(client, app) -> None:
    async def one(i: int) -> int:
        async with make_client(
            app, cookie=f"__Host-wgpilot_session={client.cookies.get('__Host-wgpilot_session')}"
        ) as c:
            r = await c.post("/api/networks/1/peers", json={"name": f"bulk-{i}"})
            return r.status_code

    codes = await asyncio.gather(*(one(i) for i in range(200)))
    assert codes == [201] * 200
    page = (await client.get("/api/networks/1/peers?limit=1000")).json()
    assert page["total"] == 201
    assert len({p["address"] for p in page["items"]}) == 201


async def test_bridges(client) -> None:
    b_net = (await client.post("/api/networks", json={"name": "b", "subnet": "10.9.0.0/24"})).json()
    r = await client.post(
        "/api/bridges",
        json={
            "network_a_id": 1,
            "network_b_id": b_net["id"],
            "direction": "a_to_b",
            "allowed_cidrs": ["10.9.0.0/25"],
        },
    )
    assert r.status_code == 201
    bridge = r.json()
    r = await client.post("/api/bridges", json={"network_a_id": b_net["id"], "network_b_id": 1})
    assert r.status_code == 422 and "already bridged" in r.text
    r = await client.post("/api/bridges", json={"network_a_id": 1, "network_b_id": 1})
    assert r.status_code == 422
    r = await client.post("/api/bridges", json={"network_a_id": 1, "network_b_id": 999})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "network_b_id"
    r = await client.put(f"/api/bridges/{bridge['id']}", json={"enabled": False})
    assert r.json()["enabled"] is False
    assert (await client.get("/api/bridges")).json()["total"] == 1
    assert (await client.delete(f"/api/bridges/{bridge['id']}")).status_code == 204
    assert (await client.get(f"/api/bridges/{bridge['id']}")).status_code == 404


async def test_audit_log_records_who_what_and_where(client) -> None:
    await client.post("/api/networks/1/peers", json={"name": "audited", "preshared_key": True})
    page = (await client.get("/api/audit-log?action=peer.create")).json()
    entry = page["items"][0]
    assert entry["username"] == "admin" and entry["ip_address"] == "198.51.100.7"
    assert entry["resource"].startswith("peer:") and entry["detail"]["name"] == "audited"
    assert entry["detail"]["preshared_key"] is True  # the fact, never the key
    everything = (await client.get("/api/audit-log?limit=1000")).json()
    actions = {e["action"] for e in everything["items"]}
    assert {"setup.admin", "setup.server", "network.create", "peer.create", "setup.complete"} <= actions
    assert (await client.get("/api/audit-log?action=peer.*&limit=1")).json()["total"] >= 2
    first = everything["items"][-1]["timestamp"]
    assert (await client.get(f"/api/audit-log?from={first + 10**6}")).json()["total"] == 0


async def test_audit_entries_name_their_resource(client) -> None:
    """The log says which peer, network, user, bridge or alert, not only "peer:6": the name
    recorded at the time (so a deleted or renamed peer keeps it), else the current one."""
    p = (await client.post("/api/networks/1/peers", json={"name": "kiosk"})).json()
    await client.put(f"/api/networks/1/peers/{p['id']}", json={"name": "kiosk-2"})
    await client.delete(f"/api/networks/1/peers/{p['id']}")
    other = (await client.post("/api/networks", json={"name": "lab", "subnet": "10.9.0.0/24"})).json()
    b = (await client.post("/api/bridges", json={"network_a_id": 1, "network_b_id": other["id"]})).json()
    await client.put(f"/api/bridges/{b['id']}", json={"enabled": False})
    rule = {
        "type": "peer_offline",
        "threshold": 600,
        "notify": "webhook",
        "target": "https://hooks.example.com/x",
    }
    a = (await client.post("/api/alerts", json=rule)).json()
    await client.put(f"/api/alerts/{a['id']}", json={"threshold": 900})
    await client.delete(f"/api/alerts/{a['id']}")  # its entries keep naming it
    items = (await client.get("/api/audit-log?limit=1000")).json()["items"]
    named = {(e["action"], e["resource_name"]) for e in items}
    assert {
        ("peer.create", "kiosk"),
        ("peer.update", "kiosk-2"),
        ("peer.delete", "kiosk-2"),
        ("network.create", "lab"),
        ("setup.admin", "admin"),
        ("bridge.create", "office \u2013 lab"),
        ("bridge.update", "office \u2013 lab"),
        ("alert.create", "peer_offline"),
        ("alert.update", "peer_offline"),
        ("alert.delete", "peer_offline"),
    } <= named, named
    assert all("resource_name" in e for e in items)
    assert next(e for e in items if e["resource"] == "settings")["resource_name"] is None


async def test_settings_are_redacted(client) -> None:
    r = await client.put(
        "/api/settings",
        json={
            "smtp_host": "mail.example.com",
            "smtp_port": 587,
            "smtp_password": "hunter2-but-longer",
            "alert_email": "ops@example.com",
        },
    )
    assert r.status_code == 200
    s = r.json()
    assert s["smtp_password_set"] is True and "smtp_password" not in s
    assert "hunter2" not in (await client.get("/api/settings")).text
    r = await client.put("/api/settings", json={"smtp_port": 0})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "smtp_port"
    audit = (await client.get("/api/audit-log?action=settings.update")).json()["items"][0]
    assert "hunter2" not in str(audit)


async def test_status_and_system_info(client) -> None:
    st = (await client.get("/api/status")).json()
    assert st["driver"] == "fake" and st["networks"][0]["interface"] == "wg0"
    assert st["networks"][0]["peers_total"] == 1 and len(st["peers"]) == 1
    info = (await client.get("/api/system/info")).json()
    assert info["driver"] == "fake" and info["database"]["schema_version"] >= 1
    health = await client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"


async def test_list_fields_report_every_bad_entry(client) -> None:
    def fields(r) -> list[str]:
        assert r.status_code == 422, r.text
        return [f["field"] for f in r.json()["error"]["fields"]]

    # "1.1.1" and "1.1.1.1.1" were taken as search domains; only the first bad entry was named.
    dns = ["1.1.1", "9.9.9.9", "1.1.1.1.1", "corp.example"]
    r = await client.put("/api/settings", json={"default_dns": dns})
    assert fields(r) == ["default_dns[0]", "default_dns[2]"]
    r = await client.post("/api/networks", json={"name": "lab", "subnet": "10.9.0.0/24", "dns_servers": dns})
    assert fields(r) == ["dns_servers[0]", "dns_servers[2]"]
    r = await client.put("/api/networks/1", json={"dns_servers": dns})
    assert fields(r) == ["dns_servers[0]", "dns_servers[2]"]
    r = await client.put("/api/setup/server", json={"public_ip": "203.0.113.10", "dns_servers": dns})
    # Setup is complete: refused before the body is read, so nothing of it was taken.
    assert r.status_code == 409 and r.json()["error"]["code"] == "SETUP_COMPLETE", r.text
    cidrs = ["10.1.0.0/16", "nope", "10.2.0.1/16"]
    r = await client.post(
        "/api/networks/1/peers",
        json={"name": "site", "role": "site-gateway", "site_networks": cidrs, "client_allowed_ips": cidrs},
    )
    assert fields(r) == [
        "site_networks[1]",
        "site_networks[2]",
        "client_allowed_ips[1]",
        "client_allowed_ips[2]",
    ]
    other = await client.post("/api/networks", json={"name": "lab", "subnet": "10.9.0.0/24"})
    r = await client.post(
        "/api/bridges", json={"network_a_id": 1, "network_b_id": other.json()["id"], "allowed_cidrs": cidrs}
    )
    assert fields(r) == ["allowed_cidrs[1]", "allowed_cidrs[2]"]
    settings = (await client.get("/api/settings")).json()
    assert settings["default_dns"] == ["1.1.1.1"]
    assert (await client.get("/api/networks/1")).json()["dns_servers"] == ["1.1.1.1"]
