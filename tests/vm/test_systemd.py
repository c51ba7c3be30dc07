"""The installer on a real systemd: releases made by release.py (test key) and served by
the host in the default layout, a Debian bookworm guest (debootstrap, systemd as PID 1,
kernel WireGuard) runs tests/vm/systemd_install.sh: ``curl … | bash`` install, the
hardened unit, the setup API creating a kernel WireGuard interface, ``systemctl
restart``, ``wgpilot update`` (restarted by the unit on exit code 75) and the rollback of
a release that dies at start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import Releases, _have_build_tools, release_web, releases, served
from tests.packaging.test_install_update import variant
from tests.vm.systemd import SystemdVm
from tests.vm.vm import Vm

__all__ = ["release_web", "releases", "served"]  # fixtures, imported to be used here

pytestmark = [pytest.mark.vm, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("systemd_install.sh")
# QEMU user networking: the guest reaches the host's 127.0.0.1 as 10.0.2.2.
HOST_FROM_GUEST = "10.0.2.2"


def echo(line: str) -> None:
    sys.stdout.write(line)


@pytest.fixture(scope="session", autouse=True)
def _build_tools() -> None:
    missing = _have_build_tools()
    if missing:
        pytest.fail(f"the systemd VM test builds releases: {missing}", pytrace=False)


@pytest.mark.timeout(2400)
def test_install_update_rollback_under_systemd(vm: Vm, releases: Releases, served: str) -> None:
    crash = b"#!/bin/sh\necho 'wgpilot 1.0.3: fatal error at start' >&2\nexit 1\n"
    variant(releases.web, "download/v1.0.3", "1.0.3", crash, releases.key.read_bytes())
    port = served.rsplit(":", 1)[1]
    base = f"http://{HOST_FROM_GUEST}:{port}"
    script = f"export BASE={base}\n" + SCRIPT.read_text()
    guest = SystemdVm(kernel=vm.kernel)
    result = guest.run_script(script, timeout=2000, echo=echo)
    assert result.code == 0, result.output[-8000:]
    out = result.output
    for line in (
        "ok: wgpilot.service: active (running)",
        "ok: every process of the service runs as wgpilot with caps 0000000000001400",
        "ok: wgsd0 is kernel WireGuard on 51881",
        "ok: restarted",
        "updated 1.0.0 → 1.0.1",
        "ok: 1.0.0 exited with 75 on the updater's request",
        "rolled back, 1.0.1 running again",
        "== all checks passed",
    ):
        assert line in out, line
    print(f"\nsystemd guest: boot {result.boot_seconds:.1f} s, whole run {result.seconds:.0f} s")
