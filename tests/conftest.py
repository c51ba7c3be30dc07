"""Shared fixtures: a service Context over a real SQLite file with the fake driver,
fake firewall and a stand-in host, and a controllable clock."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wgpilot.kernel.fake import FakeDriver, FakeFirewall
from wgpilot.services.context import Context
from wgpilot.storage.db import Database
from wgpilot.storage.migrate import migrate
from wgpilot.storage.secrets import Cipher, load_or_create_master_key


class Clock:
    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeHost:
    """The host as validation sees it: its addresses and which UDP ports are taken."""

    def __init__(self) -> None:
        self.nets: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = [
            ("eth0", ipaddress.ip_network("192.168.1.0/24")),
        ]
        self.busy_ports: set[int] = set()
        self.public: str | None = "203.0.113.7"

    async def networks(
        self, exclude: set[str]
    ) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
        return [(n, net) for n, net in self.nets if n not in exclude]

    async def port_free(self, port: int) -> bool:
        return port not in self.busy_ports

    async def public_address(self) -> str | None:
        return self.public

    async def addresses(self) -> set[str]:
        return {"192.168.1.10", "127.0.0.1", "::1"}


class FakeSysctl:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def ensure_forwarding(self, ipv4: bool, ipv6: bool) -> None:
        if ipv4:
            self.values["ipv4"] = "1"
        if ipv6:
            self.values["ipv6"] = "1"


@pytest.fixture(autouse=True)
def conf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """wg-quick files are looked for in a directory of the test's own, never in the
    host's /etc/wireguard (the setup status and the importer read it)."""
    from wgpilot.services import importer

    path = tmp_path / "etc-wireguard"
    path.mkdir(exist_ok=True)
    monkeypatch.setattr(importer, "CONF_DIR", path)
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "data.db")
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


class RecordingCipher(Cipher):
    """A real cipher that remembers every secret it encrypted or decrypted, so tests
    can prove none of them ever shows up where it must not."""

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self.seen: set[str] = set()

    def encrypt(self, plaintext: str, purpose: str) -> str:
        self.seen.add(plaintext)
        return super().encrypt(plaintext, purpose)

    def decrypt(self, token: str, purpose: str) -> str:
        plaintext = super().decrypt(token, purpose)
        self.seen.add(plaintext)
        return plaintext


@pytest.fixture
def cipher(tmp_path: Path) -> RecordingCipher:
    return RecordingCipher(load_or_create_master_key(tmp_path / "master.key"))


@pytest.fixture
async def ctx(db: Database, cipher: Cipher, clock: Clock) -> Context:
    return Context(
        db=db,
        cipher=cipher,
        driver=FakeDriver(),
        firewall=FakeFirewall(),
        host=FakeHost(),
        sysctl=FakeSysctl(),
        clock=clock,  # type: ignore[arg-type]
    )
