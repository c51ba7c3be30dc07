from __future__ import annotations


async def test_backup_then_restore_reconciles_the_kernel(client, state) -> None:
    r = await client.post("/api/system/backup")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith('attachment; filename="wgpilot-backup-')
    archive = r.content
    driver = state.ctx.driver
    # Diverge: a second network and one more peer after the backup.
    assert (
        await client.post("/api/networks", json={"name": "later", "subnet": "10.9.0.0/24"})
    ).status_code == 201
    assert (await client.post("/api/networks/1/peers", json={"name": "later-peer"})).status_code == 201
    assert "wg1" in driver.devs and len(driver.devs["wg0"].peers) == 2

    r = await client.post(
        "/api/system/restore", content=archive, headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"restored": True, "networks": 1, "peers": 1}
    assert "wg1" not in driver.devs and len(driver.devs["wg0"].peers) == 1
    nets = (await client.get("/api/networks")).json()
    assert [n["name"] for n in nets["items"]] == ["office"]
    entries = (await client.get("/api/audit-log?action=system.restore")).json()
    assert entries["total"] == 1


async def test_restore_refusals(client) -> None:
    before = (await client.get("/api/networks")).json()
    for body, ctype, status in [
        (b"garbage", "application/octet-stream", 422),
        (b"", "application/octet-stream", 422),
        (b"{}", "application/json", 415),
    ]:
        r = await client.post("/api/system/restore", content=body, headers={"content-type": ctype})
        assert r.status_code == status, r.text
        if status == 422:
            assert (
                r.json()["error"]["code"] == "INVALID_BACKUP"
                and r.json()["error"]["fields"][0]["field"] == "file"
            )
    assert (await client.get("/api/networks")).json() == before
