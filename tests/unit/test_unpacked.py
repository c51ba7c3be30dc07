"""The start-up sweep of one-file copies left by unclean stops: only stale, unlocked,
unmapped copies of wgpilot that belong to this user go."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

import pytest

from wgpilot import unpacked

OLD = 1_000_000.0  # mtime of stale copies
NOW = OLD + unpacked.MIN_AGE_SECONDS + 60


def _copy(parent: Path, name: str, *, wgpilot: bool = True, mtime: float = OLD) -> Path:
    path = parent / name
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "libpython3.11.so.1.0").write_bytes(b"x" * 1000)
    if wgpilot:
        (path / unpacked.MARKER).mkdir(parents=True)
        (path / unpacked.MARKER / "0001_initial.sql").write_bytes(b"y" * 24)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def tmpdir_(tmp_path: Path) -> Path:
    parent = tmp_path / "cache"
    parent.mkdir()
    return parent


def test_removes_only_stale_unused_wgpilot_copies(tmpdir_: Path, tmp_path: Path) -> None:
    own = _copy(tmpdir_, "_MEIown000")
    stale = _copy(tmpdir_, "_MEIstale0")
    young = _copy(tmpdir_, "_MEIyoung0", mtime=NOW - 10)
    foreign = _copy(tmpdir_, "_MEIother0", wgpilot=False)  # another program's copy
    mapped = _copy(tmpdir_, "_MEImapped")
    locked = _copy(tmpdir_, "_MEIlocked")
    outside = _copy(tmp_path, "elsewhere")
    (tmpdir_ / "_MEIlink00").symlink_to(outside)  # never followed
    (tmpdir_ / "_MEIfile00").write_text("not a directory")
    os.utime(own, (OLD, OLD))  # its own copy, however old, is never a candidate

    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "4242" / "maps").write_text(
        f"7f00-7f10 r-xp 00000000 fd:01 12 {mapped}/lib/libpython3.11.so.1.0\n"
    )
    (proc / "self").mkdir()  # not a pid: ignored

    held = os.open(locked, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_SH)  # as hold_own_copy does in a live process
    try:
        result = unpacked.sweep(own, proc=proc, now=NOW)
    finally:
        os.close(held)

    assert result.removed == [stale]
    assert not stale.exists()
    assert result.freed_bytes == 1000 + 24
    assert sorted(result.kept_in_use) == sorted([mapped, locked])
    assert result.failed == []
    for kept in (own, young, foreign, mapped, locked, outside):
        assert (kept / "lib" / "libpython3.11.so.1.0").exists(), kept
    assert (tmpdir_ / "_MEIlink00").is_symlink()
    assert (tmpdir_ / "_MEIfile00").read_text() == "not a directory"


def test_without_proc_nothing_is_removed(tmpdir_: Path, tmp_path: Path) -> None:
    own = _copy(tmpdir_, "_MEIown000")
    stale = _copy(tmpdir_, "_MEIstale0")
    result = unpacked.sweep(own, proc=tmp_path / "no-proc", now=NOW)
    assert result.removed == []
    assert result.kept_in_use == [stale]
    assert stale.exists()


def test_a_running_process_holds_its_own_copy(
    tmpdir_: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _copy(tmpdir_, "_MEIlive00")
    other = _copy(tmpdir_, "_MEIsweep0")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(own), raising=False)
    monkeypatch.setattr(unpacked, "_held", None)
    assert unpacked.own_copy() == own
    unpacked.hold_own_copy()
    try:
        # Another process's sweep, seeing no process at all in /proc, still finds
        # the live copy locked (flock conflicts between open file descriptions, as
        # between processes).
        (tmp_path / "proc").mkdir()
        result = unpacked.sweep(other, proc=tmp_path / "proc", now=NOW)
        assert result.removed == [] and result.kept_in_use == [own]
        assert own.exists()
    finally:
        assert unpacked._held is not None
        os.close(unpacked._held)
    result = unpacked.sweep(other, proc=tmp_path / "proc", now=NOW)
    assert result.removed == [own]  # once its process is gone, it is stale


def test_not_frozen_means_no_copy() -> None:
    assert unpacked.own_copy() is None
    unpacked.sweep_and_log()  # a no-op outside the one-file build


async def test_serve_sweeps_again_once_young_copies_are_old_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(unpacked, "sweep_and_log", lambda: calls.append(1.0))
    monkeypatch.setattr(unpacked, "MIN_AGE_SECONDS", -9.95)  # the second sweep 50 ms later
    await unpacked.sweep_after_start()
    assert len(calls) == 2


def test_a_copy_removed_meanwhile_by_another_sweeper_is_no_failure(
    tmpdir_: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = _copy(tmpdir_, "_MEIown000")
    stale = _copy(tmpdir_, "_MEIstale0")
    real_unlink = os.unlink
    files = [stale / "lib" / "libpython3.11.so.1.0", stale / unpacked.MARKER / "0001_initial.sql"]

    def racing_unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        for other in files:  # the other sweeper removes the files first
            if other.exists():
                real_unlink(other)
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", racing_unlink)
    (tmp_path / "proc").mkdir()
    result = unpacked.sweep(own, proc=tmp_path / "proc", now=NOW)
    assert result.removed == [stale] and result.failed == []
    assert not stale.exists()
