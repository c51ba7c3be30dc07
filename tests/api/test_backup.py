from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import PASSWORD
from wgpilot.services.reconcile import Reconciler


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


def _as_schema_4(archive: bytes, tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    """The same backup as a wgpilot before migration 0005 would have written it."""
    import hashlib
    import io
    import json
    import sqlite3
    import tarfile

    files = {}
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            files[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    db = tmp_path / "old.db"
    db.write_bytes(files["data.db"])
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE alert_deliveries")  # migration 0007
    conn.execute("ALTER TABLE peers DROP COLUMN adopted")  # migration 0006
    for trigger in ("network", "insert", "delete", "move"):
        conn.execute(f"DROP TRIGGER peer_counts_{trigger}")
    conn.execute("DROP TABLE peer_counts")
    conn.execute("DELETE FROM schema_migrations WHERE version >= 5")
    conn.commit()
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    files["data.db"] = db.read_bytes()
    manifest = json.loads(files["manifest.json"])
    manifest["schema_version"] = 4
    manifest["sha256"]["data.db"] = hashlib.sha256(files["data.db"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in ("manifest.json", "data.db", "master.key"):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o600
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


async def test_an_older_backup_is_migrated_before_it_goes_live(client, state, tmp_path) -> None:
    for i in range(3):
        assert (await client.post("/api/networks/1/peers", json={"name": f"p{i}"})).status_code == 201
    archive = _as_schema_4((await client.post("/api/system/backup")).content, tmp_path)
    r = await client.post(
        "/api/system/restore", content=archive, headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 200 and r.json()["peers"] == 4, r.text
    assert await state.ctx.db.fetchval("SELECT peers FROM peer_counts WHERE network_id = 1") == 4
    page = (await client.get("/api/networks/1/peers")).json()
    assert page["total"] == 4
    r = await client.post("/api/networks/1/peers", json={"name": "after-restore"})
    assert r.status_code == 201 and r.json()["address"] == "10.8.0.6", r.text


async def test_sessions_follow_the_restored_database_from_the_swap_on(
    client, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the swap and the end of the restore (the kernel reconcile, seconds on a
    big install) no session may be judged by the replaced database's users."""
    archive = (await client.post("/api/system/backup")).content
    r = await client.put(
        "/api/auth/password", json={"current_password": PASSWORD, "new_password": "restored later"}
    )
    assert r.status_code == 204
    assert (await client.get("/api/auth/me")).status_code == 200  # verified and cached with the new version

    swapped, release = asyncio.Event(), asyncio.Event()
    real = Reconciler.reconcile_all

    async def held(self: Reconciler) -> object:
        swapped.set()
        await release.wait()
        return await real(self)

    monkeypatch.setattr(Reconciler, "reconcile_all", held)
    restore = asyncio.create_task(
        client.post(
            "/api/system/restore", content=archive, headers={"content-type": "application/octet-stream"}
        )
    )
    try:
        await asyncio.wait_for(swapped.wait(), 10)
        during = await client.get("/api/auth/me")
    finally:
        release.set()
    assert (await restore).status_code == 200
    # The restored database knows an older session version of the admin: the cookie
    # issued by the password change is not valid in it, already during the restore.
    assert during.status_code == 401, during.text
    assert (await client.get("/api/auth/me")).status_code == 401
