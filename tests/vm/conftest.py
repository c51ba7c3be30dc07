"""Host side of the VM tests: the ``vm`` fixture boots a fresh guest per ``run``.

Tests under ``guest/`` run inside the guest and are collected only there; the
launcher tests beside this file run only on the host (never recursively in a guest).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.vm.vm import QEMU, Vm, VmError, default_kernel

IN_GUEST = os.environ.get("WGPILOT_VM") == "1"
collect_ignore = ["test_vm.py", "test_systemd.py"] if IN_GUEST else ["guest"]


@pytest.fixture(scope="session")
def vm() -> Vm:
    """How to boot the guest (kernel from /boot); fails loudly when QEMU or a kernel is missing."""
    missing = [tool for tool in (QEMU, "busybox", "modprobe") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root")
    if missing:
        pytest.fail(
            f"VM tests need: {', '.join(missing)} (apt-get install qemu-system-x86 busybox-static kmod)",
            pytrace=False,
        )
    try:
        return Vm(kernel=default_kernel())
    except VmError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """A host directory the guest may write to (mounted at the same path inside)."""
    path = tmp_path / "share"
    path.mkdir()
    return path
