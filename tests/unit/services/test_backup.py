from __future__ import annotations

from pathlib import Path

import pytest

from tests.archives import chunks, with_database
from wgpilot import config
from wgpilot.domain.errors import StorageError, ValidationError
from wgpilot.domain.models import Actor
from wgpilot.services.backup import BackupService
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService

ACTOR = Actor(user_id=None, username="tester", ip_address="127.0.0.1")


@pytest.fixture
async def service(ctx: Context, tmp_path: Path) -> BackupService:
    await NetworkService(ctx).create(ACTOR, name="office", subnet="10.8.0.0/24", listen_port=51820)
    return BackupService(ctx, config.load(None, env={"WGPILOT_DATA_DIR": str(tmp_path)}))


def entries(tmp_path: Path) -> set[str]:
    return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.name != "backups"}


async def refused(service: BackupService, archive: bytes, tmp_path: Path) -> str:
    before = entries(tmp_path)
    with pytest.raises(ValidationError) as info:
        await service.restore(ACTOR, chunks(archive))
    assert entries(tmp_path) == before  # no staging files, no saved copy
    return info.value.message


async def test_a_refused_restore_leaves_nothing_behind(service: BackupService, tmp_path: Path) -> None:
    archive = (await service.create(ACTOR)).data
    damaged = with_database(archive, tmp_path, lambda c: c.execute("DROP TABLE alerts"))
    assert "missing table alerts" in await refused(service, damaged, tmp_path)


async def test_a_restore_replaces_a_damaged_live_database(service: BackupService, tmp_path: Path) -> None:
    """What the old restore could leave behind (tables gone) is mended by the next one."""
    archive = (await service.create(ACTOR)).data
    async with service.ctx.db.transaction() as tx:
        await tx.execute("DROP TABLE audit_log")
    result = await service.restore(ACTOR, chunks(archive))
    assert result == {"restored": True, "networks": 1, "peers": 0, "kernel_errors": []}
    entries, _ = await service.ctx.audit.query(service.ctx.db, action="system.restore")
    assert entries[0].detail["audit_entries_carried"] == 0
    assert entries[0].detail["replaced"] == {"networks": 1, "peers": 0}
    assert [n.name for n in await service.ctx.networks.all(service.ctx.db)] == ["office"]


async def test_a_restorer_the_backup_does_not_know_is_audited_by_name(service: BackupService) -> None:
    archive = (await service.create(ACTOR)).data
    now = service.ctx.now()
    async with service.ctx.db.transaction() as tx:
        uid = await service.ctx.users.insert(tx, username="later", password_hash="x", role="admin", now=now)
    result = await service.restore(Actor(uid, "later", "192.0.2.9"), chunks(archive))
    assert result["restored"] is True
    entries, _ = await service.ctx.audit.query(service.ctx.db, action="system.restore")
    assert (entries[0].user_id, entries[0].username, entries[0].ip_address) == (None, "later", "192.0.2.9")


async def test_when_the_current_state_cannot_be_saved_nothing_is_replaced(
    service: BackupService, tmp_path: Path
) -> None:
    archive = (await service.create(ACTOR)).data
    (tmp_path / "backups").write_text("a file where the folder should be")
    before = entries(tmp_path)
    with pytest.raises(StorageError, match="cannot save the current state before the restore"):
        await service.restore(ACTOR, chunks(archive))
    assert entries(tmp_path) == before
    assert [n.name for n in await service.ctx.networks.all(service.ctx.db)] == ["office"]
