"""What the web layer needs at run time, built once by ``wgpilot serve`` (or a test):
the service objects over one Context, plus the optional parts (monitor, TLS)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wgpilot.config import Settings
from wgpilot.services.alerts import AlertService
from wgpilot.services.auth import AuthService
from wgpilot.services.backup import BackupService
from wgpilot.services.bridges import BridgeService
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.services.settings import SettingsService
from wgpilot.services.setup import SetupService


@dataclass
class WebState:
    ctx: Context
    settings: Settings
    started_at: float = field(default_factory=time.time)
    monitor: Any = None  # wgpilot.monitor.Monitor once wired
    tls: Any = None  # wgpilot.tls.manager.TlsManager when serving HTTPS
    updates: Any = None  # update checker (wgpilot.update)
    on_change: Any = None  # callable: ask the daemon for a reconcile pass
    extra_hosts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.auth = AuthService(
            self.ctx,
            session_ttl=self.settings["auth.session_ttl"],
            bcrypt_cost=self.settings["auth.bcrypt_cost"],
        )
        self.networks = NetworkService(self.ctx)
        self.peers = PeerService(self.ctx)
        self.bridges = BridgeService(self.ctx)
        self.settings_svc = SettingsService(self.ctx)
        self.setup = SetupService(self.ctx, self.auth, Path(self.settings["wireguard_dir"]))
        self.backup = BackupService(self.ctx, self.settings)
        self.alerts = AlertService(self.ctx)
