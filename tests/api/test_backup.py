from __future__ import annotations

import asyncio
import io
import sqlite3
import tarfile
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PASSWORD
from tests.archives import as_schema, end_of_archive, regular_member, sparse_member, with_database
from wgpilot.services.reconcile import Reconciler
from wgpilot.storage import migrate, schema
from wgpilot.web.state import WebState


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
    assert r.json() == {"restored": True, "networks": 1, "peers": 1, "kernel_errors": []}
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


async def test_an_older_backup_is_migrated_before_it_goes_live(client, state, tmp_path) -> None:
    for i in range(3):
        assert (await client.post("/api/networks/1/peers", json={"name": f"p{i}"})).status_code == 201
    archive = as_schema((await client.post("/api/system/backup")).content, 4, tmp_path)
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

    async def held(self: Reconciler, **kw: Any) -> object:
        swapped.set()
        await release.wait()
        return await real(self, **kw)

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


# -- a bad file never costs data (issue 16) -----------------------------------------------------
OCTET = {"content-type": "application/octet-stream"}


async def restore(client: httpx.AsyncClient, archive: bytes) -> httpx.Response:
    return await client.post("/api/system/restore", content=archive, headers=OCTET)


def files(data_dir: Path) -> set[str]:
    """Everything in the data directory and its backups/ (staging copies, saved copies);
    an empty backups/ folder is no copy of anything."""
    return {
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if "dist" not in p.parts and not (p.name == "backups" and not any(p.iterdir()))
    }


async def live_state(client: httpx.AsyncClient, state: WebState) -> dict[str, Any]:
    return {
        "networks": (await client.get("/api/networks")).json(),
        "peers": (await client.get("/api/networks/1/peers")).json(),
        "audit": (await client.get("/api/audit-log?limit=500")).json()["items"],
        "key": state.settings.master_key_path.read_bytes(),
        "schema": schema.differences(await describe_live(state), schema.expected(migrate.latest_version())),
    }


async def describe_live(state: WebState) -> schema.Schema:
    conn = sqlite3.connect(state.settings.db_path)
    try:
        return schema.describe(conn)
    finally:
        conn.close()


async def answers_normally(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, password: str = PASSWORD
) -> None:
    """Networks, setup status, login and peer creation all work."""
    assert (await client.get("/api/networks")).status_code == 200
    assert (await anon.get("/api/setup/status")).status_code == 200
    r = await anon.post("/api/auth/login", json={"username": "admin", "password": password})
    assert r.status_code == 200, r.text
    r = await client.post("/api/networks/1/peers", json={"name": "check"})
    assert r.status_code == 201, r.text


def drop_all_but_four(conn: sqlite3.Connection) -> None:
    keep = {"schema_migrations", "networks", "peers", "settings"}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        if name not in keep:
            conn.execute(f"DROP TABLE {name}")


def refusal(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "INVALID_BACKUP" and error["fields"][0]["field"] == "file"
    return str(error["message"])


async def test_a_backup_whose_database_lacks_tables_is_refused_before_the_swap(
    client, anon, state, tmp_path
) -> None:
    archive = with_database((await client.post("/api/system/backup")).content, tmp_path, drop_all_but_four)
    before, on_disk = await live_state(client, state), files(tmp_path)
    message = refusal(await restore(client, archive))
    assert "missing table audit_log" in message and "more" in message
    assert await live_state(client, state) == before
    assert files(tmp_path) == on_disk  # no saved copy, no staging files
    await answers_normally(client, anon)


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "CREATE TRIGGER steal AFTER INSERT ON peers BEGIN"
            " UPDATE settings SET value = 'evil' WHERE key = 'public_ip'; END",
            "unexpected trigger steal",
        ),
        (
            "CREATE TRIGGER on_login AFTER UPDATE ON users BEGIN DELETE FROM audit_log; END",
            "unexpected trigger on_login",
        ),
        ("CREATE VIEW everything AS SELECT * FROM networks", "unexpected view everything"),
        ("CREATE TABLE loot (x TEXT)", "unexpected table loot"),
        ("CREATE INDEX slow ON audit_log (detail)", "unexpected index slow"),
        (
            "DROP TRIGGER peer_counts_insert; CREATE TRIGGER peer_counts_insert AFTER INSERT ON peers"
            " BEGIN UPDATE peer_counts SET peers = peers + 1 WHERE network_id = NEW.network_id;"
            " UPDATE settings SET value = 'evil' WHERE key = 'public_ip'; END",
            "trigger peer_counts_insert: defined differently",
        ),
    ],
)
async def test_a_backup_carrying_schema_objects_of_its_own_is_refused(
    client, anon, state, tmp_path, sql: str, named: str
) -> None:
    archive = with_database(
        (await client.post("/api/system/backup")).content, tmp_path, lambda c: c.executescript(sql)
    )
    before, on_disk = await live_state(client, state), files(tmp_path)
    message = refusal(await restore(client, archive))
    assert named in message
    assert await live_state(client, state) == before and files(tmp_path) == on_disk
    await answers_normally(client, anon)  # logins and peer creation fire no trigger of theirs
    assert await state.ctx.settings.get(state.ctx.db, "public_ip") != "evil"


async def test_a_tar_declaring_a_huge_sparse_member_is_refused_from_its_header(
    client, state, tmp_path
) -> None:
    """4 KB that read as 1 GiB: refused from the header, before a byte of it is read."""
    blob = (
        regular_member("manifest.json", b"{}")
        + sparse_member("data.db", 1 << 30, b"x")
        + regular_member("master.key", b"k" * 45)
        + end_of_archive()
    )
    assert len(blob) <= 4096
    on_disk = files(tmp_path)
    tracemalloc.start()
    try:
        r = await restore(client, blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"{peak} bytes allocated for a 4 KB upload"
    assert "data.db is not stored as a plain file" in refusal(r)
    assert files(tmp_path) == on_disk


async def test_a_truncated_backup_is_a_422_naming_it(client, state, tmp_path) -> None:
    archive = (await client.post("/api/system/backup")).content
    before, on_disk = await live_state(client, state), files(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = {m.name: m for m in tar.getmembers()}
    db, key = member["data.db"], member["master.key"]
    # Inside the database, at master.key's header, inside that header, inside the manifest
    # (offsets read from the archive: the end of a tar is padded, so its length says little).
    for cut in (db.offset_data + db.size // 2, key.offset, key.offset + 100, 700):
        message = refusal(await restore(client, archive[:cut]))
        assert "truncated" in message, (cut, message)
    assert await live_state(client, state) == before and files(tmp_path) == on_disk


@pytest.mark.parametrize("version", range(1, migrate.latest_version()))
async def test_a_backup_of_every_older_schema_restores(client, state, tmp_path, version: int) -> None:
    for i in range(3):
        assert (await client.post("/api/networks/1/peers", json={"name": f"p{i}"})).status_code == 201
    archive = as_schema((await client.post("/api/system/backup")).content, version, tmp_path)
    r = await restore(client, archive)
    assert r.status_code == 200 and r.json()["peers"] == 4, r.text
    assert (await live_state(client, state))["schema"] == []
    assert (await client.get("/api/networks/1/peers")).json()["total"] == 4
    r = await client.post("/api/networks/1/peers", json={"name": "after-restore"})
    assert r.status_code == 201 and r.json()["address"] == "10.8.0.6", r.text


async def test_an_old_backup_that_is_not_what_its_version_says_is_a_422_leaving_nothing(
    client, anon, state, tmp_path
) -> None:
    """It claims schema 4 but has what 5 and 6 add: migrating it would fail (this was the 500)."""
    archive = (await client.post("/api/system/backup")).content
    lying = with_database(
        archive, tmp_path, lambda c: c.execute("DELETE FROM schema_migrations WHERE version > 4")
    )
    before, on_disk = await live_state(client, state), files(tmp_path)
    message = refusal(await restore(client, lying))
    assert "version 4" in message and "unexpected table peer_counts" in message
    assert await live_state(client, state) == before
    assert files(tmp_path) == on_disk  # no pre-restore copy of the secrets
    await answers_normally(client, anon)


@pytest.mark.parametrize("where", ["reopen", "audit", "reconcile"])
async def test_a_failure_after_the_swap_rolls_everything_back(
    client, anon, state, tmp_path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    archive = (await client.post("/api/system/backup")).content
    # After the backup: a network, a peer, and a password change (a session only the
    # live database accepts).
    assert (
        await client.post("/api/networks", json={"name": "later", "subnet": "10.9.0.0/24"})
    ).status_code == 201
    assert (await client.post("/api/networks/1/peers", json={"name": "later-peer"})).status_code == 201
    r = await client.put(
        "/api/auth/password", json={"current_password": PASSWORD, "new_password": "changed later"}
    )
    assert r.status_code == 204
    before, on_disk = await live_state(client, state), files(tmp_path)
    driver = state.ctx.driver
    assert "wg1" in driver.devs  # type: ignore[attr-defined]

    from wgpilot.domain.errors import KernelError, StorageError
    from wgpilot.storage.audit import AuditRepo
    from wgpilot.storage.db import Database

    with monkeypatch.context() as m:
        if where == "reopen":
            real_open = Database.open
            fired: list[bool] = []

            async def open_(db: Database, **kw: Any) -> None:
                if db is state.ctx.db and not fired:
                    fired.append(True)
                    raise StorageError("cannot open database: disk I/O error")
                await real_open(db, **kw)

            m.setattr(Database, "open", open_)
        elif where == "audit":
            real_record = AuditRepo.record

            async def record(self: AuditRepo, tx: Any, actor: Any, action: str, *rest: Any) -> None:
                if action == "system.restore" and "rolled_back" not in rest[1]:
                    raise StorageError("database or disk is full")
                await real_record(self, tx, actor, action, *rest)

            m.setattr(AuditRepo, "record", record)
        else:
            real_reconcile = Reconciler.reconcile_all
            calls: list[bool] = []

            async def reconcile_all(self: Reconciler, **kw: Any) -> Any:
                calls.append(True)
                if len(calls) == 1:
                    raise KernelError("netlink: connection reset")
                return await real_reconcile(self, **kw)

            m.setattr(Reconciler, "reconcile_all", reconcile_all)
        r = await restore(client, archive)
    assert r.status_code == 502 and r.json()["error"]["code"] == "RESTORE_FAILED", r.text
    assert "rolled back" in r.json()["error"]["message"]

    after = await live_state(client, state)
    assert (await client.get("/api/auth/me")).status_code == 200  # the session is valid again
    rolled = [e for e in after["audit"] if e["action"] == "system.restore"]
    assert len(rolled) == 1 and rolled[0]["detail"]["rolled_back"] is True
    assert after["audit"][1:] == before["audit"]  # newest first: the attempt, then all that was
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    assert files(tmp_path) == on_disk  # nothing saved, nothing staged
    assert "wg1" in driver.devs  # type: ignore[attr-defined]  # the kernel is the live database's again
    await answers_normally(client, anon, "changed later")


async def test_what_the_kernel_refuses_of_a_restore_is_reported_not_undone(
    client, state, caplog: pytest.LogCaptureFixture
) -> None:
    """The backup's wg0 is taken on this host by the time it is restored: the restore
    stands (the database is the truth, the next reconcile retries) and says so."""
    archive = (await client.post("/api/system/backup")).content
    assert (await client.delete("/api/networks/1")).status_code == 204
    state.ctx.driver.add_foreign("wg0")  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="wgpilot.services.backup"):
        r = await restore(client, archive)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["restored"], answer["networks"], answer["peers"]) == (True, 1, 1)
    [refused] = answer["kernel_errors"]
    assert refused.startswith("wg0: "), refused
    assert [n["name"] for n in (await client.get("/api/networks")).json()["items"]] == ["office"]
    [entry] = (await client.get("/api/audit-log?action=system.restore")).json()["items"]
    assert entry["detail"]["kernel_errors"] == [refused] and "rolled_back" not in entry["detail"]
    [warning] = [rec for rec in caplog.records if rec.levelname == "WARNING"]
    assert "kernel refused part of the restored state" in warning.getMessage()
    assert warning.errors == [refused]  # type: ignore[attr-defined]


async def test_a_write_waiting_on_a_failing_restore_is_not_lost(
    client, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that writes while a restore is past its swap waits for the restore to
    settle: when the restore is then undone, the write goes to the database that stays,
    not to the one thrown away (which would lose it after answering 201)."""
    from wgpilot.domain.errors import StorageError
    from wgpilot.storage.audit import AuditRepo
    from wgpilot.storage.db import Database

    archive = (await client.post("/api/system/backup")).content
    in_window, go_on, queued = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_record, real_transaction = AuditRepo.record, Database.transaction
    creating: asyncio.Task[httpx.Response] | None = None

    async def record(self: AuditRepo, tx: Any, actor: Any, action: str, *rest: Any) -> None:
        if action == "system.restore" and "rolled_back" not in rest[1]:
            in_window.set()  # after the swap: the restored database is live
            await go_on.wait()
            raise StorageError("database or disk is full")
        await real_record(self, tx, actor, action, *rest)

    def transaction(db: Database) -> Any:
        if asyncio.current_task() is creating:
            queued.set()  # the write is about to wait for the lock
        return real_transaction(db)

    monkeypatch.setattr(AuditRepo, "record", record)
    monkeypatch.setattr(Database, "transaction", transaction)
    restoring = asyncio.create_task(restore(client, archive))
    await in_window.wait()
    creating = asyncio.create_task(
        client.post("/api/networks", json={"name": "meanwhile", "subnet": "10.9.0.0/24"})
    )
    await queued.wait()
    go_on.set()
    restored, created = await restoring, await creating
    assert restored.status_code == 502 and restored.json()["error"]["code"] == "RESTORE_FAILED", restored.text
    assert created.status_code == 201, created.text
    names = [n["name"] for n in (await client.get("/api/networks")).json()["items"]]
    assert names == ["office", "meanwhile"]


async def test_the_audit_trail_survives_a_restore(client, state, tmp_path) -> None:
    archive = (await client.post("/api/system/backup")).content
    assert (
        await client.post("/api/networks", json={"name": "later", "subnet": "10.9.0.0/24"})
    ).status_code == 201
    assert (await client.post("/api/networks/1/peers", json={"name": "later-peer"})).status_code == 201
    before = (await client.get("/api/audit-log?limit=500")).json()["items"]
    assert {"network.create", "peer.create"} <= {e["action"] for e in before[:2]}

    r = await restore(client, archive)
    assert r.status_code == 200, r.text
    after = (await client.get("/api/audit-log?limit=500")).json()["items"]

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (e["timestamp"], e["user_id"], e["username"], e["action"], e["resource"], e["detail"])

    assert [key(e) for e in after[1:]] == [key(e) for e in before]  # each once, in order
    entry = after[0]
    assert entry["action"] == "system.restore" and entry["username"] == "admin"
    detail = entry["detail"]
    assert detail["replaced"] == {"networks": 2, "peers": 2}
    assert (detail["networks"], detail["peers"]) == (1, 1)
    assert detail["audit_entries_carried"] == 2
    saved = tmp_path / detail["saved_previous"]
    assert saved.parent.name == "backups" and saved.name.startswith("pre-restore-") and saved.exists()
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    # The saved copy is itself a backup that restores: the state the restore replaced.
    r = await restore(client, saved.read_bytes())
    assert r.status_code == 200, r.text
    assert r.json() == {"restored": True, "networks": 2, "peers": 2, "kernel_errors": []}


async def test_two_restores_at_once_run_one_after_the_other(client, state, tmp_path) -> None:
    archive = (await client.post("/api/system/backup")).content
    first, second = await asyncio.gather(restore(client, archive), restore(client, archive))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    saved = sorted((tmp_path / "backups").iterdir())
    assert len(saved) == 2  # each kept its own copy of what it replaced
    entries = (await client.get("/api/audit-log?action=system.restore")).json()["items"]
    assert sorted(e["detail"]["saved_previous"] for e in entries) == [f"backups/{p.name}" for p in saved]
