from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.archives import as_schema, chunks, with_database
from wgpilot import config
from wgpilot.domain.errors import ValidationError
from wgpilot.domain.models import Actor
from wgpilot.services.backup import BackupService
from wgpilot.services.backup_staging import Candidate, stage
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.storage import migrate, schema
from wgpilot.storage.db import Database

LATEST = migrate.latest_version()  # the schema this wgpilot writes
ACTOR = Actor(user_id=None, username="tester", ip_address="127.0.0.1")


@pytest.fixture
async def archive(ctx: Context, tmp_path: Path) -> bytes:
    """A backup of a server with one network."""
    await NetworkService(ctx).create(ACTOR, name="office", subnet="10.8.0.0/24", listen_port=51820)
    service = BackupService(ctx, config.load(None, env={"WGPILOT_DATA_DIR": str(tmp_path)}))
    return (await service.create(ACTOR)).data


async def staged(blob: bytes, tmp_path: Path) -> Candidate:
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    for leftover in staging.iterdir():
        leftover.unlink()
    return await stage(chunks(blob), staging)


async def refusal(blob: bytes, tmp_path: Path) -> str:
    with pytest.raises(ValidationError) as info:
        await staged(blob, tmp_path)
    assert info.value.fields[0].field == "file"
    return info.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "INSERT INTO peer_counts (network_id, peers) VALUES (99, 0)",
            "1 rows refer to rows that do not exist (first: peer_counts row 99 → networks)",
        ),
        (
            "DELETE FROM schema_migrations WHERE version = 3",
            f"records migrations {[1, 2, *range(4, LATEST + 1)]}, not 1..{LATEST}",
        ),
        ("INSERT INTO schema_migrations VALUES (99, 'future', 0)", "newer than this wgpilot"),
        ("DROP TABLE schema_migrations", "not a wgpilot database"),
        ("UPDATE networks SET private_key = 'v1:AAAA'", "master key in the backup does not match"),
    ],
)
async def test_a_database_that_is_not_sound_is_refused_naming_why(
    archive: bytes, tmp_path: Path, change: str, message: str
) -> None:
    assert message in await refusal(with_database(archive, tmp_path, lambda c: c.execute(change)), tmp_path)


async def test_a_staged_copy_that_fails_to_migrate_is_a_422(
    archive: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = as_schema(archive, 4, tmp_path)

    async def failing(db: Database) -> list[int]:
        raise sqlite3.IntegrityError("CHECK constraint failed: peers >= 0")

    monkeypatch.setattr(migrate, "migrate", failing)
    message = await refusal(old, tmp_path)
    assert f"cannot be migrated from schema version 4 to {LATEST}: CHECK constraint failed" in message


@pytest.mark.parametrize("version", range(1, migrate.latest_version() + 1))
async def test_a_sound_backup_of_any_version_is_staged_at_ours(
    archive: bytes, tmp_path: Path, version: int
) -> None:
    candidate = await staged(as_schema(archive, version, tmp_path), tmp_path)
    assert (candidate.version, candidate.networks, candidate.peers) == (version, 1, 0)
    conn = sqlite3.connect(tmp_path / "staging" / "data.db")
    try:
        assert schema.differences(schema.describe(conn), schema.expected(migrate.latest_version())) == []
    finally:
        conn.close()
