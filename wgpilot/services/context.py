"""Everything a use case needs, built once per process: database and repositories,
the kernel driver and firewall, host facts, a clock. Services receive a Context and
know nothing about HTTP or the command line."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from typing import Protocol

from wgpilot.kernel.driver import Driver, Firewall
from wgpilot.kernel.sysctl import Sysctl
from wgpilot.storage.audit import AuditRepo
from wgpilot.storage.bridges import BridgeRepo
from wgpilot.storage.db import Database
from wgpilot.storage.networks import NetworkRepo
from wgpilot.storage.peers import PeerRepo
from wgpilot.storage.secrets import Cipher
from wgpilot.storage.settings import SettingsRepo
from wgpilot.storage.users import UserRepo

log = logging.getLogger(__name__)


class Host(Protocol):
    async def networks(self, exclude: set[str]) -> list[tuple[str, IPv4Network | IPv6Network]]: ...
    async def port_free(self, port: int) -> bool: ...
    async def public_address(self) -> str | None: ...
    async def addresses(self) -> set[str]: ...


class ChangeListener(Protocol):
    def __call__(self, kind: str, network_id: int | None) -> None: ...


@dataclass
class Context:
    db: Database
    cipher: Cipher
    driver: Driver
    firewall: Firewall
    host: Host
    sysctl: Sysctl = field(default_factory=Sysctl)
    clock: Callable[[], float] = time.time
    listeners: list[ChangeListener] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rekey(self.cipher)

    def rekey(self, cipher: Cipher) -> None:
        """Use another master key (after a restore): rebuild the repositories on it."""
        self.cipher = cipher
        self.networks = NetworkRepo(self.cipher)
        self.peers = PeerRepo(self.cipher)
        self.bridges = BridgeRepo()
        self.settings = SettingsRepo(self.cipher)
        self.users = UserRepo()
        self.audit = AuditRepo()

    @property
    def kernel_enabled(self) -> bool:
        return self.driver.name != "none"

    def now(self) -> int:
        return int(self.clock())

    def on_identity_change(self, refresh: Callable[[], Awaitable[object]]) -> ChangeListener:
        """Run ``refresh()`` in the background whenever the server's identity may have
        changed (settings: hostname, public IP; or a restore). Returns the listener, to
        remove from ``listeners`` when the caller stops."""
        pending: set[asyncio.Future[object]] = set()

        def listener(kind: str, network_id: int | None) -> None:
            if kind in ("settings", "restore"):
                task = asyncio.ensure_future(refresh())
                pending.add(task)  # held until done: a bare task may be collected mid-way
                task.add_done_callback(pending.discard)

        self.listeners.append(listener)
        return listener

    def changed(self, kind: str, network_id: int | None = None) -> None:
        """Tell interested parts of the process (monitor, SSE) that state changed. A
        listener that fails is logged; it never undoes or interrupts the change (a
        restore calls this between swapping the database and reconciling the kernel)."""
        for listener in list(self.listeners):
            try:
                listener(kind, network_id)
            except Exception:
                log.exception("a change listener failed", extra={"kind": kind, "network_id": network_id})
