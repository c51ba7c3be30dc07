"""Replacing the running binary so that, whatever moment the process is killed at,
a complete runnable ``wgpilot`` is in place.

1. the new binary is written to a 0600 temp file in the target's directory and verified;
2. only then is it made executable (0755) and fsynced;
3. the current binary is hard-linked to ``wgpilot.prev.tmp`` and renamed over
   ``wgpilot.prev`` (so ``.prev`` is always a whole file);
4. the temp file is renamed over ``wgpilot`` (atomic on one filesystem) and the
   directory fsynced.
Rollback is the same dance with ``wgpilot.prev`` as the source.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

PAUSE_ENV = "WGPILOT_UPDATE_TEST_PAUSE"  # test hook: stop at a named step so a test can kill -9


def pause_point(step: str) -> None:
    if os.environ.get(PAUSE_ENV) == step:
        sys.stderr.write(f"paused at {step}\n")
        sys.stderr.flush()
        time.sleep(300)


def prev_path(target: Path) -> Path:
    return target.with_name(target.name + ".prev")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_leftovers(target: Path) -> None:
    """Temp files of an update that was killed half-way."""
    for p in target.parent.glob(f".{target.name}.new.*"):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(OSError):
        target.with_name(target.name + ".prev.tmp").unlink()


def new_temp(target: Path) -> tuple[Path, BinaryIO]:
    """A 0600 temp file beside ``target`` (same filesystem, so rename is atomic)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.new.")
    os.fchmod(fd, 0o600)
    return Path(name), os.fdopen(fd, "wb")


def _link_or_copy(src: Path, dst: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:  # another filesystem or no hard links: a full copy, fsynced
        shutil.copy2(src, dst)
        with open(dst, "rb") as fh:
            os.fsync(fh.fileno())


def install(new: Path, target: Path) -> None:
    """Put the verified ``new`` in place of ``target``, keeping the old one as .prev."""
    os.chmod(new, 0o755)  # noqa: S103 - an executable in /usr/local/bin is world-readable by design
    with open(new, "rb") as fh:
        os.fsync(fh.fileno())
    prev = prev_path(target)
    if target.exists():
        tmp = target.with_name(target.name + ".prev.tmp")
        _link_or_copy(target, tmp)
        os.replace(tmp, prev)
        pause_point("prev")
    os.replace(new, target)
    _fsync_dir(target.parent)
    pause_point("swapped")


def rollback(target: Path) -> None:
    """Put ``wgpilot.prev`` back in place of ``target`` (``.prev`` stays, still whole)."""
    prev = prev_path(target)
    if not prev.exists():
        raise FileNotFoundError(f"{prev} is missing: cannot roll back")
    tmp = target.with_name(f".{target.name}.new.rollback")
    _link_or_copy(prev, tmp)
    os.replace(tmp, target)
    _fsync_dir(target.parent)
