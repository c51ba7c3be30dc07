"""Fixtures for tests that run inside the VM guest (kernel WireGuard): a netlink driver
and helpers that clean up every link and namespace a test made."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest

from wgpilot.kernel.netlink import NetlinkDriver

pytestmark = pytest.mark.vm


@pytest.fixture(scope="session", autouse=True)
def _in_guest() -> None:
    """These tests create links in the root namespace: only ever inside the throw-away guest."""
    if os.environ.get("WGPILOT_VM") != "1":
        pytest.fail(
            "guest tests run inside the VM: python -m tests.vm.vm run -- pytest tests/vm/guest", pytrace=False
        )


def sh(*cmd: str, check: bool = True) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


class Names:
    """Interface and namespace names for one test; removes whatever is left of them."""

    def __init__(self) -> None:
        self.links: list[str] = []
        self.netns: list[str] = []

    def link(self, name: str) -> str:
        self.links.append(name)
        return name

    def ns(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.netns.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def cleanup(self) -> None:
        for name in self.netns:
            sh("ip", "netns", "del", name, check=False)
        for name in self.links:
            # Dropping the peers first (one REPLACE_PEERS) spares one RCU grace period
            # per peer when the device is unregistered: minutes for 10 000 under TCG.
            sh("wg", "setconf", name, "/dev/null", check=False)
            sh("ip", "link", "del", name, check=False)


@pytest.fixture
def names() -> Iterator[Names]:
    n = Names()
    try:
        yield n
    finally:
        n.cleanup()


@pytest.fixture
async def driver() -> AsyncIterator[NetlinkDriver]:
    d = NetlinkDriver()
    try:
        yield d
    finally:
        await d.close()
