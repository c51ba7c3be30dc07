"""The two README commands: `./dev test` installs everything its stages need, and CI
(`.ci/run`) does only what a new user does, so a green CI proves the README."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Tools the tests look up that come with a package `dev` installs under another name,
# or with every Debian system.
PROVIDED_BY = {
    "pebble-challtestsrv": "pebble",
    "systemctl": "systemd",
    "unshare": "util-linux (essential)",
}


def _statements(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_ci_runs_only_what_a_new_user_runs() -> None:
    body = [s for s in _statements(ROOT / ".ci" / "run") if not s.startswith(("set ", "cd "))]
    assert body == ["apt-get update -qq", "exec ./dev test"]
    assert "./dev test" in (ROOT / "README.md").read_text()


def _packaged_commands() -> set[str]:
    text = (ROOT / "dev").read_text()
    commands: set[str] = set()
    for array in ("RUN_PKGS", "TEST_PKGS"):
        m = re.search(rf"^{array}=\((.*?)\)", text, re.S | re.M)
        assert m, array
        for entry in m.group(1).split():
            commands.add(entry.strip("'\"").rsplit(":", 1)[0])
    return commands


def test_every_tool_the_tests_look_up_is_installed_by_dev() -> None:
    wanted: set[str] = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]:
        wanted |= set(re.findall(r"""shutil\.which\(\s*["']([\w.+-]+)["']""", path.read_text()))
    assert wanted, "no shutil.which calls found: the scan is broken"
    packaged = _packaged_commands()
    missing = sorted(t for t in wanted if t not in packaged and t not in PROVIDED_BY)
    assert not missing, f"tests look for {missing}, which ./dev never installs (add them to TEST_PKGS)"
    assert "@vm-kernel" in packaged  # the VM stage boots Debian's kernel


def test_the_vm_kernel_probe_wants_an_image_with_its_wireguard_module(tmp_path: Path) -> None:
    """Modules without a bootable image (a container's bind mount) are not a VM kernel."""
    func = re.search(r"^have_vm_kernel\(\) \{.*?^\}", (ROOT / "dev").read_text(), re.S | re.M)
    assert func
    script = func.group(0).replace("/boot/", f"{tmp_path}/boot/").replace("/lib/modules/", f"{tmp_path}/lib/")
    probe = f"{script}\nhave_vm_kernel"
    mods = tmp_path / "lib" / "6.1.0-9-amd64" / "kernel/drivers/net/wireguard"
    mods.mkdir(parents=True)
    (mods / "wireguard.ko.xz").touch()
    (tmp_path / "boot").mkdir()
    assert subprocess.run(["bash", "-c", probe]).returncode == 1
    (tmp_path / "boot" / "vmlinuz-6.2.0-1-amd64").touch()  # another version's image
    assert subprocess.run(["bash", "-c", probe]).returncode == 1
    (tmp_path / "boot" / "vmlinuz-6.1.0-9-amd64").touch()
    assert subprocess.run(["bash", "-c", probe]).returncode == 0


@pytest.mark.parametrize("xdg", [None, "/srv/cache"])
def test_vm_images_are_cached_outside_the_clone(monkeypatch: pytest.MonkeyPatch, xdg: str | None) -> None:
    monkeypatch.delenv("WGPILOT_VM_CACHE", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    sys.modules.pop("tests.vm.initramfs", None)
    try:
        initramfs = importlib.import_module("tests.vm.initramfs")
        assert ROOT not in initramfs.CACHE.parents
        expected = Path(xdg) if xdg else Path(os.path.expanduser("~")) / ".cache"
        assert initramfs.CACHE == expected / "wgpilot" / "vm"
    finally:
        sys.modules.pop("tests.vm.initramfs", None)
