"""The backup file: one tar archive of ``manifest.json`` (format, versions, counts,
checksums), ``data.db`` and ``master.key``, written and read here.

Archives are written in plain ustar format: three regular members, no extension
headers.

Reading is built for files we did not write. An upload goes to disk as it
arrives, never whole into memory, and is refused once it passes ``MAX_ARCHIVE``.
Before tarfile sees the file, its raw 512-byte headers are walked here, as far as
tarfile will read them: any member that is not a regular file is refused, since
tarfile reads a PAX (``x``/``g``) or GNU long-name (``L``/``K``) header's whole
declared data into memory, and a sparse one's maps, before it returns a member.
Then each member is judged by its header before a byte of its data is read: one of
the three names, once; a plain file; no larger than its cap (``LIMITS``) nor than
the archive around it. Only then is it streamed to disk through its checksum, in
chunks. A truncated or damaged archive is refused naming the problem, as is anything
else that is not a wgpilot backup.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from wgpilot.domain.errors import StorageError, ValidationError

FORMAT = "wgpilot-backup/1"
MAX_ARCHIVE = 256 * 1024 * 1024
CHUNK = 1 << 20
# The most each member may declare: a database up to the archive's own limit, the
# key is 45 bytes and a manifest a few hundred.
LIMITS = {"manifest.json": 64 * 1024, "data.db": MAX_ARCHIVE, "master.key": 1024}
_PLAIN_FILE = (tarfile.REGTYPE, tarfile.AREGTYPE)
_BLOCK = tarfile.BLOCKSIZE


def bad(message: str) -> ValidationError:
    """A refusal of the uploaded file (422, field ``file``)."""
    return ValidationError.field("file", message, code="INVALID_BACKUP")


def _create(path: Path) -> IO[bytes]:
    """A new private file (0600); it must not exist yet."""
    try:
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}") from exc


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write (a full disk) as the storage failure it is."""
    try:
        yield
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# -- writing ------------------------------------------------------------------------------------
def write(dest: Path, manifest: dict[str, Any], database: Path, key: bytes) -> None:
    """Write an archive to the new file ``dest`` (0600), the database streamed from its file;
    ``manifest`` gets the format and the checksums."""
    manifest = {
        "format": FORMAT,
        **manifest,
        "sha256": {"data.db": _sha256_file(database), "master.key": hashlib.sha256(key).hexdigest()},
    }
    blob = json.dumps(manifest, indent=2).encode()
    now = int(time.time())
    with (
        _create(dest) as out,
        _writing(dest),
        tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        tar.addfile(_info("manifest.json", len(blob), now), io.BytesIO(blob))
        with database.open("rb") as fh:
            tar.addfile(_info("data.db", database.stat().st_size, now), fh)
        tar.addfile(_info("master.key", len(key), now), io.BytesIO(key))


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, mtime
    return info


# -- reading ------------------------------------------------------------------------------------
async def receive(upload: AsyncIterable[bytes], dest: Path) -> int:
    """Write an upload to the new file ``dest`` as it arrives (at most ``CHUNK`` held at a
    time); refused as soon as it passes ``MAX_ARCHIVE``. Returns its size."""
    size = 0
    pending: list[bytes] = []
    held = 0
    with _create(dest) as fh, _writing(dest):
        async for chunk in upload:
            size += len(chunk)
            if size > MAX_ARCHIVE:
                raise bad(f"the file is larger than a wgpilot backup can be ({MAX_ARCHIVE >> 20} MiB)")
            pending.append(chunk)
            held += len(chunk)
            if held >= CHUNK:
                await asyncio.to_thread(fh.writelines, pending)
                pending, held = [], 0
        await asyncio.to_thread(fh.writelines, pending)
    return size


async def read_file(path: Path) -> AsyncIterator[bytes]:
    """A backup file in chunks, to restore from a path (the CLI without a server)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ValidationError.field("file", f"cannot read {path}: {exc.strerror}") from exc
    with fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk


def _number(field: bytes) -> int | None:
    """A header's number field read as tarfile reads it: NUL-terminated octal, or GNU
    base-256 (first byte 0x80, or 0xff for a negative number); None where tarfile
    finds the header invalid."""
    if field[0] in (0o200, 0o377):
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    try:
        return int(field.split(b"\0", 1)[0].strip() or b"0", 8)
    except ValueError:
        return None


def _is_header(block: bytes) -> bool:
    """Whether tarfile takes the block for a header (its checksum, summed over unsigned
    or, as some old tars did, signed bytes): it reads nothing past one that is not."""
    rest = block[:148] + b" " * 8 + block[156:]
    unsigned = sum(rest)
    signed = unsigned - 256 * sum(b >= 128 for b in rest)
    return _number(block[148:156]) in (unsigned, signed)


def _walk_headers(archive: Path) -> None:
    """Refuse, from the raw headers, any member that is not a regular file, before
    tarfile reads one. Walks exactly the headers tarfile will read: the first, then
    each one after its predecessor's data, at most one past the three members (tarfile
    stops there: ``_judge`` refuses a fourth member). What tarfile would stop at (the
    end marker, a cut block, one that is not a header) ends the walk; tarfile reports it."""
    with archive.open("rb") as fh:
        offset = 0
        for _ in range(len(LIMITS) + 1):
            fh.seek(offset)
            header = fh.read(_BLOCK)
            if len(header) < _BLOCK or header == bytes(_BLOCK) or not _is_header(header):
                return
            name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
            kind = header[156:157]
            if kind not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                what = name if name in LIMITS else f"a member of tar type {kind.decode('latin-1')!r}"
                raise bad(f"not a wgpilot backup ({what} is not stored as a plain file)")
            size = _number(header[124:136])
            if size is None:
                return  # an invalid header: tarfile stops at it as well
            if size < 0:
                raise bad(f"the archive is damaged: {name[:80]!r} declares a negative size")
            offset += _BLOCK + -(-size // _BLOCK) * _BLOCK


def _judge(member: tarfile.TarInfo, seen: dict[str, str], archive_size: int) -> str:
    """The member's name, once its header shows it may be read; else a refusal."""
    name = member.name
    if name not in LIMITS:
        raise bad(f"not a wgpilot backup (unexpected member {name[:80]!r})")
    if name in seen:
        raise bad(f"not a wgpilot backup ({name} appears twice)")
    if member.type not in _PLAIN_FILE or member.sparse is not None:
        raise bad(f"not a wgpilot backup ({name} is not stored as a plain file)")
    if member.size > LIMITS[name]:
        raise bad(f"{name} declares {member.size} bytes, more than a wgpilot backup holds ({LIMITS[name]})")
    if member.offset_data + member.size > archive_size:
        raise bad(f"the archive is truncated: {name} declares {member.size} bytes that are not there")
    return name


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: IO[bytes], cap: int) -> str:
    """Stream one member into ``dest``; returns its SHA-256."""
    source = tar.extractfile(member)
    assert source is not None  # a plain file, judged before
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > cap:  # the header was judged; this holds whatever tarfile reads
            raise bad(f"{member.name} is larger than a wgpilot backup holds")
        digest.update(chunk)
        dest.write(chunk)
    return digest.hexdigest()


def unpack(archive: Path, into: Path) -> dict[str, Any]:
    """Validate the archive file and extract ``data.db`` and ``master.key`` into ``into``;
    returns the manifest."""
    archive_size = archive.stat().st_size
    if archive_size == 0:
        raise bad("the upload is empty")
    sums: dict[str, str] = {}
    manifest_bytes = io.BytesIO()
    _walk_headers(archive)
    try:
        tar = tarfile.open(archive, mode="r:")
    except tarfile.TarError as exc:
        raise bad(f"not a wgpilot backup (expected the .tar file made by wgpilot backup; {exc})") from exc
    try:
        with tar:
            for member in tar:  # headers are read one by one, each judged before its data
                name = _judge(member, sums, archive_size)
                if name == "manifest.json":
                    sums[name] = _extract(tar, member, manifest_bytes, LIMITS[name])
                    continue
                with _create(into / name) as out, _writing(into / name):
                    sums[name] = _extract(tar, member, out, LIMITS[name])
    except (tarfile.TarError, EOFError) as exc:
        raise bad(f"the archive is truncated or damaged ({exc})") from exc
    missing = sorted(LIMITS.keys() - sums.keys())
    if missing:
        raise bad(f"the archive is incomplete (truncated?): {', '.join(missing)} missing")
    try:
        manifest = json.loads(manifest_bytes.getvalue())
    except ValueError as exc:
        raise bad("the backup manifest is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad("unknown backup format")
    declared = manifest.get("sha256")
    for name in ("data.db", "master.key"):
        if not isinstance(declared, dict) or declared.get(name) != sums[name]:
            raise bad(f"{name} does not match its checksum: the backup is damaged")
    return manifest
