"""Fixtures for tests with real tunnels: a lab of namespaces torn down after each test,
and the standard topology — a wgpilot server with an uplink to an "internet" host and
a LAN bridge its clients plug into."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.system.netns import Host, Lab, Wgpilot, driver_under_test, drivers_under_test

pytestmark = pytest.mark.system

SERVER_LAN = "192.0.2.1"
SERVER_UPLINK = "198.51.100.1"
INTERNET = "198.51.100.2"


@pytest.fixture(scope="session", autouse=True)
def _prerequisites() -> None:
    """Fail loudly (never skip) when the machine cannot run the system suite."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    tools = ["ip", "nft", "wg", "wg-quick", "ping", "unshare"]
    if "userspace" in drivers_under_test():
        tools.append("wireguard-go")
    missing += [t for t in tools if shutil.which(t) is None]
    if not os.path.exists("/dev/net/tun"):
        missing.append("/dev/net/tun")
    if missing:
        pytest.fail(f"system tests need: {', '.join(missing)} (run ./dev test as root)", pytrace=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


@dataclass
class Site:
    lab: Lab
    server: Host
    internet: Host
    wgpilot: Wgpilot
    clients: dict[str, Host] = field(default_factory=dict)
    _next: int = 10

    def client(self, name: str) -> Host:
        """A new host on the server's LAN (192.0.2.0/24)."""
        host = self.lab.host(name)
        self.lab.attach(host, self.server, "lan0", f"192.0.2.{self._next}/24")
        self._next += 1
        self.clients[name] = host
        return host


@pytest.fixture
def driver() -> str:
    """The wgpilot driver on the server; test modules that run under every driver
    parametrise it with ``drivers_under_test()``."""
    return driver_under_test()


@pytest.fixture
def site(lab: Lab, driver: str) -> Site:
    server = lab.host("srv")
    internet = lab.host("inet")
    lab.link(server, internet, f"{SERVER_UPLINK}/24", f"{INTERNET}/24")
    server.ip("route", "add", "default", "via", INTERNET)
    lab.bridge(server, "lan0", f"{SERVER_LAN}/24")
    wg = Wgpilot(server, driver)
    wg.cli("init", "--public-ip", SERVER_LAN)
    return Site(lab, server, internet, wg)
