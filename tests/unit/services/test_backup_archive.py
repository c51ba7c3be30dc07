from __future__ import annotations

import base64
import os
import shutil
import tarfile
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.archives import chunks, end_of_archive, members, pack, regular_member, sparse_member
from wgpilot.domain.errors import ValidationError
from wgpilot.services import backup_archive

KEY = base64.b64encode(os.urandom(32)) + b"\n"


def written(tmp_path: Path, db: bytes = b"SQLite format 3\0" + b"x" * 5000) -> Path:
    source = tmp_path / "source.db"
    source.write_bytes(db)
    dest = tmp_path / "backup.tar"
    backup_archive.write(dest, {"schema_version": 6}, source, KEY)
    return dest


def unpack(tmp_path: Path, blob: bytes) -> ValidationError:
    archive = tmp_path / "upload.tar"
    archive.write_bytes(blob)
    into = tmp_path / "into"
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir()
    with pytest.raises(ValidationError) as info:
        backup_archive.unpack(archive, into)
    assert info.value.fields[0].field == "file" and info.value.code == "INVALID_BACKUP"
    return info.value


def test_what_write_writes_unpack_reads(tmp_path: Path) -> None:
    dest = written(tmp_path)
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    into = tmp_path / "into"
    into.mkdir()
    manifest = backup_archive.unpack(dest, into)
    assert manifest["format"] == backup_archive.FORMAT and manifest["schema_version"] == 6
    assert (into / "data.db").read_bytes() == (tmp_path / "source.db").read_bytes()
    assert (into / "master.key").read_bytes() == KEY
    assert oct((into / "master.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (sparse_member("data.db", 1 << 30, b"x"), "data.db is not stored as a plain file"),
        (sparse_member("data.db", 1 << 20, b"x"), "data.db is not stored as a plain file"),
        (regular_member("data.db", b"", declared=1 << 30), "data.db declares 1073741824 bytes, more than"),
        (regular_member("data.db", b"", declared=100 << 20), "truncated: data.db declares 104857600 bytes"),
        (regular_member("master.key", b"k" * 2000), "master.key declares 2000 bytes, more than"),
    ],
)
def test_a_member_is_judged_by_its_header_before_its_data_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member: bytes, message: str
) -> None:
    read: list[str] = []
    real = tarfile.TarFile.extractfile

    def spy(self: tarfile.TarFile, m: tarfile.TarInfo | str) -> object:
        read.append(m if isinstance(m, str) else m.name)
        return real(self, m)

    monkeypatch.setattr(tarfile.TarFile, "extractfile", spy)
    blob = regular_member("manifest.json", b"{}") + member + end_of_archive()
    tracemalloc.start()
    try:
        error = unpack(tmp_path, blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in error.message
    assert "data.db" not in read and "master.key" not in read  # the refused member was never opened
    assert peak < 4 << 20
    assert not (tmp_path / "into" / "data.db").exists()


def _extension_headers() -> list[tuple[bytes, str]]:
    """Members whose header makes tarfile read its declared data whole into memory."""
    pax = tarfile.TarInfo("manifest.json")
    pax.size, pax.pax_headers = 2, {"comment": "c" * (8 << 20)}
    long_name = tarfile.TarInfo("data.db/" + "x" * (8 << 20))
    long_name.size = 2
    return [
        (pax.tobuf(format=tarfile.PAX_FORMAT) + b"{}".ljust(512, b"\0"), "tar type 'x'"),
        (long_name.tobuf(format=tarfile.GNU_FORMAT) + b"{}".ljust(512, b"\0"), "tar type 'L'"),
    ]


@pytest.mark.parametrize(("member", "message"), _extension_headers())
def test_an_extension_header_is_refused_before_tarfile_reads_it(
    tmp_path: Path, member: bytes, message: str
) -> None:
    blob = member + regular_member("data.db", b"x") + regular_member("master.key", KEY) + end_of_archive()
    tracemalloc.start()
    try:
        error = unpack(tmp_path, blob)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in error.message and "not stored as a plain file" in error.message
    assert peak < 1 << 20, f"{peak} bytes held for an 8 MiB extension header"


def test_backups_are_written_as_plain_ustar(tmp_path: Path) -> None:
    blob = written(tmp_path).read_bytes()
    with tarfile.open(tmp_path / "backup.tar") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "data.db", "master.key"]
    for m in members:  # each header is a regular file's, in ustar format ("ustar\0" "00")
        header = blob[m.offset : m.offset + tarfile.BLOCKSIZE]
        assert header[156:157] == tarfile.REGTYPE and header[257:265] == b"ustar\x0000"


def test_anything_but_the_three_plain_files_is_refused(tmp_path: Path) -> None:
    good = members(written(tmp_path).read_bytes())
    link = tarfile.TarInfo("data.db")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
    cases = {
        "unexpected member 'extra'": pack({**good, "extra": b"x"}),
        "master.key appears twice": b"".join(regular_member(n, good[n]) for n in good)
        + regular_member("master.key", KEY)
        + end_of_archive(),
        "data.db is not stored as a plain file": regular_member("manifest.json", good["manifest.json"])
        + link.tobuf()
        + end_of_archive(),
        "master.key missing": pack({k: v for k, v in good.items() if k != "master.key"}, checksums=False),
        "does not match its checksum": pack({**good, "data.db": good["data.db"] + b"!"}, checksums=False),
        "the upload is empty": b"",
        "expected the .tar file": b"not a tar at all" * 100,
        "unknown backup format": pack({**good, "manifest.json": b'{"format": "other/1"}'}),
    }
    for message, blob in cases.items():
        assert message in unpack(tmp_path, blob).message, message


def test_a_truncated_archive_is_named_so_wherever_it_was_cut(tmp_path: Path) -> None:
    blob = written(tmp_path).read_bytes()
    with tarfile.open(tmp_path / "backup.tar") as tar:
        last = tar.getmembers()[-1]
        end = last.offset_data + last.size  # then only padding and the end marker
    for cut in range(100, end, 97):
        assert "truncated" in unpack(tmp_path, blob[:cut]).message, cut


async def test_an_upload_goes_to_disk_as_it_arrives(tmp_path: Path) -> None:
    blob = os.urandom(1 << 20) * 32
    tracemalloc.start()
    try:
        size = await backup_archive.receive(chunks(blob), tmp_path / "upload.tar")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == len(blob) and (tmp_path / "upload.tar").read_bytes() == blob
    assert peak < 4 << 20, f"{peak} bytes held for a {len(blob)}-byte upload"


async def test_an_upload_is_refused_as_soon_as_it_passes_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup_archive, "MAX_ARCHIVE", 1 << 20)
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent.append(1)
            yield b"x" * 65536

    with pytest.raises(ValidationError, match="larger than a wgpilot backup can be"):
        await backup_archive.receive(endless(), tmp_path / "upload.tar")
    assert len(sent) == 17  # 16 chunks are the limit; the 17th passes it and nothing more is read


async def test_a_file_that_cannot_be_read_is_a_422(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read") as info:
        async for _ in backup_archive.read_file(tmp_path / "missing.tar"):
            pass
    assert info.value.fields[0].field == "file"
