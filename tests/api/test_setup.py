from __future__ import annotations

from tests.api.conftest import PASSWORD, make_client
from wgpilot.services import setup_state

ADMIN = {"username": "admin", "password": PASSWORD}


async def test_the_wizard_resumes_and_locks(app, state, anon) -> None:
    st = (await anon.get("/api/setup/status")).json()
    assert st["setup_complete"] is False and st["next_step"] == "admin"
    assert st["detected_public_ip"] == "203.0.113.7" and st["driver"] == "fake"

    token = await setup_state.issue_install_token(state.ctx)
    r = await anon.post("/api/setup/admin", json={**ADMIN, "install_token": "wrong-token-123456"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "INVALID_INSTALL_TOKEN"
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["install_token"]
    r = await anon.post("/api/setup/admin", json={**ADMIN, "install_token": token, "password": "short"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "password"
    # Steps 2-4 need the session that step 1 issues.
    r = await anon.put("/api/setup/server", json={"public_ip": "203.0.113.10"})
    assert r.status_code == 401
    r = await anon.post("/api/setup/admin", json={**ADMIN, "install_token": token})
    assert r.status_code == 201 and r.json()["user"]["username"] == "admin"
    # The token is destroyed on use.
    async with make_client(app) as other:
        r = await other.post("/api/setup/admin", json={**ADMIN, "install_token": token, "username": "second"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "ADMIN_EXISTS"
    assert not await state.ctx.settings.has(state.ctx.db, setup_state.KEY)

    assert (await anon.get("/api/setup/status")).json()["next_step"] == "server"
    r = await anon.put("/api/setup/server", json={"public_ip": "not-an-ip"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "public_ip"
    r = await anon.put(
        "/api/setup/server",
        json={"public_ip": "203.0.113.10", "hostname": "vpn.example.com", "dns_servers": ["9.9.9.9"]},
    )
    assert r.status_code == 200 and r.json()["hostname"] == "vpn.example.com"

    # A closed browser logs in again and resumes at step 3.
    async with make_client(app) as again:
        assert (await again.post("/api/auth/login", json=ADMIN)).status_code == 200
        assert (await again.get("/api/setup/status")).json()["next_step"] == "network"
        body = {"name": "office", "subnet": "10.8.0.0/24", "listen_port": 51820}
        r = await again.post("/api/setup/network", json=body)
        assert r.status_code == 201 and r.json()["dns_servers"] == ["9.9.9.9"]
        r2 = await again.post("/api/setup/network", json=body)  # idempotent repeat
        assert r2.status_code == 200 and r2.json()["id"] == r.json()["id"]
        assert (await again.get("/api/setup/status")).json()["next_step"] == "peer"
        r = await again.post("/api/setup/peer", json={"name": "laptop", "preshared_key": True})
        assert r.status_code == 201
        cfg = r.json()["config"]
        assert "Endpoint = vpn.example.com:51820" in cfg and "PresharedKey" in cfg
        st = (await again.get("/api/setup/status")).json()
        assert st == {
            "setup_complete": True,
            "steps": {"admin": True, "server": True, "network": True, "peer": True},
            "next_step": None,
            "detected_public_ip": None,
            "existing_interfaces": [],
            "driver": "fake",
        }

        # After completion every setup step refuses and changes nothing.
        audit_before = (await again.get("/api/audit-log")).json()["total"]
        for method, path, body in [
            ("POST", "/api/setup/admin", {**ADMIN, "install_token": token}),
            ("PUT", "/api/setup/server", {"public_ip": "198.51.100.1"}),
            ("POST", "/api/setup/network", {"name": "x", "subnet": "10.9.0.0/24"}),
            ("POST", "/api/setup/peer", {"name": "y"}),
            ("POST", "/api/setup/import", {}),
        ]:
            r = await again.request(method, path, json=body)
            assert r.status_code == 409 and r.json()["error"]["code"] == "SETUP_COMPLETE", (path, r.text)
        assert (await again.get("/api/settings")).json()["public_ip"] == "203.0.113.10"
        assert (await again.get("/api/networks")).json()["total"] == 1
        assert (await again.get("/api/audit-log")).json()["total"] == audit_before


async def test_the_token_cannot_be_brute_forced(app, state, anon) -> None:
    await setup_state.issue_install_token(state.ctx)
    codes = []
    for i in range(7):
        r = await anon.post("/api/setup/admin", json={**ADMIN, "install_token": f"guess-{i:012d}"})
        codes.append(r.status_code)
    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]


async def test_setup_imports_a_wg_quick_file(state, anon, conf_dir) -> None:
    from wgpilot.domain import keys

    token = await setup_state.issue_install_token(state.ctx)
    assert (await anon.post("/api/setup/admin", json={**ADMIN, "install_token": token})).status_code == 201
    server = keys.generate_keypair()[0]
    peer = keys.generate_keypair()[1]
    path = conf_dir / "wg0.conf"
    path.write_text(
        f"[Interface]\nPrivateKey = {server}\nAddress = 10.50.0.1/24\nListenPort = 51850\nDNS = 10.50.0.1\n"
        f"PostDown = iptables -D FORWARD -i %i -j ACCEPT\n\n"
        f"[Peer]\n# Name = <script>alert(1)</script> desk\nPublicKey = {peer}\nAllowedIPs = 10.50.0.9/32\n"
    )
    st = (await anon.get("/api/setup/status")).json()
    assert st["existing_interfaces"] == [
        {
            "name": "wg0",
            "peers": 1,
            "listen_port": 51850,
            "source": "file",
            "path": str(path),
            "importable": True,
            "problems": ["wg0: postdown is not imported (wgpilot manages routing and firewall itself)"],
        }
    ]
    for body, field in (
        ({"files": [str(path.parent.parent / "wg0.conf")]}, "files[0]"),
        ({"files": str(path)}, "files"),
        ({"interfaces": ["wg0"]}, "interfaces[0]"),  # a file, not a running interface
    ):
        r = await anon.post("/api/setup/import", json=body)
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == field, r.text
    assert (await anon.get("/api/networks")).json()["items"] == []

    r = await anon.post("/api/setup/import", json={"files": [str(path)]})
    assert r.status_code == 201, r.text
    (net,) = r.json()["networks"]
    assert (net["interface"], net["subnet"], net["listen_port"]) == ("wg0", "10.50.0.0/24", 51850)
    assert any("postdown is not imported" in w for w in r.json()["warnings"])
    peers = (await anon.get(f"/api/networks/{net['id']}/peers")).json()["items"]
    assert [(p["name"], p["address"]) for p in peers] == [("scriptalert(1)script desk", "10.50.0.9")]
    assert (await anon.get("/api/setup/status")).json()["existing_interfaces"] == []
