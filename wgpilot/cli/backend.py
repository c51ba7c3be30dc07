"""What the CLI commands call. ``DirectBackend`` runs the services on the database
itself (no server running); the API backend (cli/remote.py) sends the same calls
to a running server so the two never race. Both speak the API's JSON shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from wgpilot import config as config_mod
from wgpilot.domain.errors import RuntimeFailure
from wgpilot.domain.models import Actor
from wgpilot.runtime import open_context
from wgpilot.services import backup, views
from wgpilot.services import status as status_mod
from wgpilot.services.auth import AuthService
from wgpilot.services.backup import BackupService
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.services.setup import SetupService


class Backend(Protocol):
    async def list_networks(self) -> list[dict[str, Any]]: ...
    async def create_network(self, fields: dict[str, Any]) -> dict[str, Any]: ...
    async def delete_network(self, ref: str) -> dict[str, Any]: ...
    async def set_network_enabled(self, ref: str, enabled: bool) -> dict[str, Any]: ...
    async def list_peers(self, network: str) -> list[dict[str, Any]]: ...
    async def create_peer(self, network: str, fields: dict[str, Any]) -> dict[str, Any]: ...
    async def delete_peer(self, network: str, peer: str) -> dict[str, Any]: ...
    async def set_peer_enabled(self, network: str, peer: str, enabled: bool) -> dict[str, Any]: ...
    async def peer_config(self, network: str, peer: str) -> tuple[dict[str, Any], str]: ...
    async def status(self) -> dict[str, Any]: ...
    async def setup_status(self) -> dict[str, Any]: ...
    async def setup_admin(self, username: str, password: str) -> None: ...
    async def setup_server(self, fields: dict[str, Any]) -> None: ...
    async def setup_network(self, fields: dict[str, Any]) -> dict[str, Any]: ...
    async def setup_peer(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]: ...
    async def setup_import(
        self, interfaces: list[str], files: list[str]
    ) -> tuple[list[dict[str, Any]], list[str]]: ...
    async def backup(self) -> tuple[str, bytes]: ...
    async def restore(self, archive: Path) -> dict[str, Any]: ...


class DirectBackend:
    def __init__(self, ctx: Context, settings: config_mod.Settings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.actor = Actor.cli()
        self.networks = NetworkService(ctx)
        self.peers = PeerService(ctx)

    async def list_networks(self) -> list[dict[str, Any]]:
        return [views.network(n) for n in await self.networks.all()]

    async def create_network(self, fields: dict[str, Any]) -> dict[str, Any]:
        return views.network(await self.networks.create(self.actor, **fields))

    async def delete_network(self, ref: str) -> dict[str, Any]:
        return views.network(await self.networks.delete(self.actor, ref))

    async def set_network_enabled(self, ref: str, enabled: bool) -> dict[str, Any]:
        return views.network(await self.networks.set_enabled(self.actor, ref, enabled))

    async def list_peers(self, network: str) -> list[dict[str, Any]]:
        return [views.peer(p) for p in (await self.peers.page(network)).items]

    async def create_peer(self, network: str, fields: dict[str, Any]) -> dict[str, Any]:
        return views.peer(await self.peers.create(self.actor, network, **fields))

    async def delete_peer(self, network: str, peer: str) -> dict[str, Any]:
        return views.peer(await self.peers.delete(self.actor, network, peer))

    async def set_peer_enabled(self, network: str, peer: str, enabled: bool) -> dict[str, Any]:
        return views.peer(await self.peers.set_enabled(self.actor, network, peer, enabled))

    async def peer_config(self, network: str, peer: str) -> tuple[dict[str, Any], str]:
        p, text = await self.peers.client_config(network, peer)
        return views.peer(p), text

    async def status(self) -> dict[str, Any]:
        st = await status_mod.collect(self.ctx, threshold=self.settings["monitor.online_threshold"])
        return {**st.as_dict(), "server": None}

    def _setup(self) -> SetupService:
        auth = AuthService(self.ctx, bcrypt_cost=self.settings["auth.bcrypt_cost"])
        return SetupService(self.ctx, auth, Path(self.settings["wireguard_dir"]))

    async def setup_status(self) -> dict[str, Any]:
        return await self._setup().status()

    async def setup_admin(self, username: str, password: str) -> None:
        await self._setup().create_admin(None, username, password, "local")

    async def setup_server(self, fields: dict[str, Any]) -> None:
        await self._setup().server(self.actor, **fields)

    async def setup_network(self, fields: dict[str, Any]) -> dict[str, Any]:
        net, _ = await self._setup().network(self.actor, fields)
        return views.network(net)

    async def setup_peer(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        peer, config, _ = await self._setup().peer(self.actor, fields)
        return views.peer(peer), config

    async def setup_import(
        self, interfaces: list[str], files: list[str]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        nets, warnings = await self._setup().import_existing(self.actor, interfaces, files)
        return [views.network(n) for n in nets], warnings

    async def backup(self) -> tuple[str, bytes]:
        archive = await BackupService(self.ctx, self.settings).create(self.actor)
        return archive.filename, archive.data

    async def restore(self, archive: Path) -> dict[str, Any]:
        return await BackupService(self.ctx, self.settings).restore(self.actor, backup.read_file(archive))


@asynccontextmanager
async def backend(
    settings: config_mod.Settings, *, kernel: bool = True, create: bool = True
) -> AsyncIterator[Backend]:
    """The backend for this invocation: the running server's API when there is one,
    else the database directly (with the kernel driver when ``kernel``). Read-only
    commands pass ``create=False``: without a server they need an existing database
    and never make a data directory, database or key (exit 1 saying where they looked)."""
    from wgpilot.cli import remote

    client = remote.connect(settings)
    if client is not None:
        async with client:
            yield client
        return
    if not create and not settings.db_path.exists():
        raise RuntimeFailure(
            f"no running wgpilot server found and no database at {settings.db_path} "
            f"(looked at {remote.looked_at(settings)}); start one with `wgpilot serve`, "
            "or pass --data-dir",
            code="NO_SERVER",
        )
    async with open_context(settings, kernel=kernel, create=create) as ctx:
        yield DirectBackend(ctx, settings)
