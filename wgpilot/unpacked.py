"""What the one-file build leaves behind after an unclean exit.

The one-file executable is a bootloader: it unpacks the interpreter and libraries
(about 32 MB) into ``$TMPDIR/_MEIxxxxxx``, runs wgpilot from there in a child
process, and removes the directory when that child exits. A SIGKILL of the
bootloader (systemd's stop timeout kills the whole group), a power cut or a crash of
the bootloader skips the removal. The unit sets ``TMPDIR`` to ``/var/cache/wgpilot``, which survives
reboots, so each unclean stop would leave another 32 MB there for good.

Every wgpilot process of the one-file build holds a shared ``flock`` on its own
directory for as long as it runs (``hold_own_copy``, at the start of every
command). ``wgpilot serve`` sweeps, once at start, the copies next to its own that

- are wgpilot's (they hold wgpilot's own files: another program's copies in a
  shared ``/tmp`` are never touched) and belong to this user;
- are old enough that no bootloader can still be unpacking into them;
- are locked by nobody, and mapped by no process it can see (every running copy
  maps its ``libpython`` from its directory; this covers versions that took no
  lock). The lock is what counts where ``/proc`` hides processes (systemd's
  ``ProtectProc=invisible`` hides even this user's non-dumpable ones).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "_MEI"
# A path every wgpilot copy holds (the schema migrations ship as data files).
MARKER = Path("wgpilot") / "storage" / "migrations"
# A bootloader maps nothing from the directory while it is still unpacking into it.
MIN_AGE_SECONDS = 300


@dataclass
class Sweep:
    removed: list[Path] = field(default_factory=list)
    freed_bytes: int = 0
    kept_in_use: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


_held: int | None = None  # the descriptor that keeps this process's copy locked


def hold_own_copy() -> None:
    """Mark this process's copy as in use until it exits (a no-op when not the
    one-file build, or when the lock cannot be taken: a sweep then falls back on
    /proc)."""
    global _held
    own = own_copy()
    if own is None or _held is not None:
        return
    try:
        fd = os.open(own, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return
    _held = fd


def own_copy() -> Path | None:
    """The directory this process runs from when it is the one-file build, else None."""
    meipass = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not meipass:
        return None
    path = Path(meipass)
    return path if path.name.startswith(PREFIX) else None  # one-folder builds unpack nothing


def sweep(own: Path, *, proc: Path = Path("/proc"), now: float | None = None) -> Sweep:
    """Remove stale wgpilot copies beside ``own`` (see the module docstring)."""
    result = Sweep()
    now = time.time() if now is None else now
    candidates: list[Path] = []
    try:
        entries = list(own.parent.iterdir())
    except OSError as exc:
        result.failed.append((own.parent, str(exc)))
        return result
    for path in entries:
        if not path.name.startswith(PREFIX) or path == own:
            continue
        try:
            st = path.lstat()
        except OSError:
            continue  # gone meanwhile
        # From lstat: a symlink named _MEI… is never followed.
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or now - st.st_mtime < MIN_AGE_SECONDS:
            continue
        if (path / MARKER).is_dir():
            candidates.append(path)
    if not candidates:
        return result
    mapped = _mapped(candidates, proc)
    for path in candidates:
        if path in mapped:
            result.kept_in_use.append(path)
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue  # gone, or replaced by something else meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                result.kept_in_use.append(path)
                continue
            size = _size(path)
            try:
                # Holding the lock: no wgpilot process can take it meanwhile. A second
                # sweeper racing for the same copy only finds entries already gone.
                _remove(path)
            except OSError as exc:
                result.failed.append((path, str(exc)))
                continue
            result.removed.append(path)
            result.freed_bytes += size
        finally:
            os.close(fd)
    return result


def sweep_and_log() -> None:
    """The start-up sweep of ``wgpilot serve``; a no-op unless running as the one-file build."""
    own = own_copy()
    if own is None:
        return
    try:
        result = sweep(own)
    except Exception:  # a sweep is housekeeping: it never stops the server
        log.exception("sweeping stale copies of the one-file build failed")
        return
    if result.removed:
        log.info(
            "removed copies of the one-file build left by unclean stops",
            extra={
                "directory": str(own.parent),
                "removed": len(result.removed),
                "freed_mb": round(result.freed_bytes / 2**20, 1),
            },
        )
    for path, why in result.failed:
        log.warning(
            "could not remove a stale copy of the one-file build", extra={"path": str(path), "error": why}
        )


async def sweep_after_start() -> None:
    """``serve``'s sweeps: off the loop and after start-up (removing 32 MB copies must
    not delay serving), and once more when the copies that were too young to judge
    then (a start killed by its timeout just before this one) are old enough."""
    await asyncio.to_thread(sweep_and_log)
    await asyncio.sleep(MIN_AGE_SECONDS + 10)
    await asyncio.to_thread(sweep_and_log)


def _remove(path: Path) -> None:
    """``rmtree`` that takes entries already gone as removed."""

    def gone_is_fine(_function: object, _path: str, info: object) -> None:
        error = info[1] if isinstance(info, tuple) else info  # onerror gives exc_info
        if not isinstance(error, FileNotFoundError):
            raise error if isinstance(error, BaseException) else OSError(str(error))

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=gone_is_fine)
    else:
        shutil.rmtree(path, onerror=gone_is_fine)


def _mapped(candidates: list[Path], proc: Path) -> set[Path]:
    """Which candidates a process this one can see has files mapped from."""
    prefixes = {str(p) + "/": p for p in candidates}
    found: set[Path] = set()
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return set(candidates)  # no /proc: cannot tell, keep everything
    for pid in pids:
        try:
            text = (pid / "maps").read_text(errors="replace")
        except OSError:
            continue
        for prefix, path in prefixes.items():
            if path not in found and prefix in text:
                found.add(path)
        if len(found) == len(candidates):
            break
    return found


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
