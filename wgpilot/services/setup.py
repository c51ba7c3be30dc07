"""First run (SPEC §8): install token + admin → server identity → first network →
first peer, then ``setup_complete``. Every step is idempotent and the wizard resumes
at the first incomplete one; once complete, every step refuses and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wgpilot.domain import validate
from wgpilot.domain.clients import client_key
from wgpilot.domain.errors import ConflictError, FieldError, ForbiddenError, ValidationError
from wgpilot.domain.models import Actor, Network, Peer
from wgpilot.services import importer, setup_state
from wgpilot.services.auth import AuthService, RateLimiter, Session, check_password, check_username
from wgpilot.services.common import Fields
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService

STEPS = ("admin", "server", "network", "peer")


def _admin_exists() -> ConflictError:
    return ConflictError("the administrator already exists; log in to continue setup", code="ADMIN_EXISTS")


def _wrong_token() -> ForbiddenError:
    message = "the install token is wrong or was already used; run `wgpilot init` for a new one"
    return ForbiddenError(
        message, code="INVALID_INSTALL_TOKEN", fields=[FieldError("install_token", message)]
    )


class SetupService:
    def __init__(self, ctx: Context, auth: AuthService, conf_dir: Path | None = None) -> None:
        self.ctx = ctx
        self.auth = auth
        self.conf_dir = conf_dir  # wg-quick files offered for import (None: importer.CONF_DIR)
        self.networks = NetworkService(ctx)
        self.peers = PeerService(ctx)
        self.token_limiter = RateLimiter()

    async def complete(self) -> bool:
        return await self.ctx.settings.get(self.ctx.db, "setup_complete") == "1"

    async def refuse_if_complete(self) -> None:
        if await self.complete():
            raise ConflictError("setup is already complete", code="SETUP_COMPLETE")

    async def steps(self) -> dict[str, bool]:
        db = self.ctx.db
        complete = await self.complete()
        return {
            "admin": await self.ctx.users.count(db) > 0,
            "server": await self.ctx.settings.has(db, "public_ip")
            or await self.ctx.settings.has(db, "hostname"),
            "network": await self.ctx.networks.count(db) > 0,
            "peer": complete or bool(await db.fetchval("SELECT 1 FROM peers LIMIT 1")),
        }

    async def status(self) -> dict[str, Any]:
        if await self.complete():
            # After setup this endpoint reveals nothing but the fact.
            return {
                "setup_complete": True,
                "steps": dict.fromkeys(STEPS, True),
                "next_step": None,
                "detected_public_ip": None,
                "existing_interfaces": [],
                "driver": self.ctx.driver.name,
            }
        steps = await self.steps()
        existing = await importer.discover(self.ctx, self.conf_dir)
        return {
            "setup_complete": False,
            "steps": steps,
            "next_step": next((s for s in STEPS if not steps[s]), "peer"),
            "detected_public_ip": await self.ctx.host.public_address(),
            "existing_interfaces": existing,
            "driver": self.ctx.driver.name,
        }

    # -- step 1 ----------------------------------------------------------------------------------
    async def create_admin(self, token: str | None, username: str, password: str, ip: str | None) -> Session:
        """Step 1. ``token=None`` is for callers already trusted by the host (the root-only
        control socket, the terminal wizard): they skip the install token.

        Everything cheap is checked before the password is hashed (half a second of
        CPU): an existing administrator, then the token; both again in the transaction."""
        await self.refuse_if_complete()
        if token is not None:
            self.token_limiter.hit(client_key(ip))
        if await self.ctx.users.count(self.ctx.db) > 0:
            raise _admin_exists()
        if token is not None and not await setup_state.token_matches(self.ctx, token):
            raise _wrong_token()
        f = Fields()
        username = f.check(check_username, username)
        f.check(check_password, password)
        f.raise_if_any()
        hashed = await self.auth.hash_password(password)
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            if await self.ctx.users.count(tx) > 0:
                raise _admin_exists()
            if token is not None and not await setup_state.token_matches(self.ctx, token, tx):
                raise _wrong_token()
            uid = await self.ctx.users.insert(
                tx, username=username, password_hash=hashed, role="admin", now=now
            )
            await setup_state.drop_install_token(self.ctx, tx)
            await self.ctx.audit.record(
                tx, Actor(uid, username, ip), "setup.admin", f"user:{uid}", {"username": username}, now
            )
        user = await self.ctx.users.get(self.ctx.db, uid)
        assert user is not None
        return await self.auth.issue(user)

    # -- step 2 ----------------------------------------------------------------------------------
    async def server(
        self, actor: Actor, public_ip: object, hostname: object = None, dns_servers: object = None
    ) -> dict[str, Any]:
        await self.refuse_if_complete()
        f = Fields()
        ip = f.check(validate.public_ip, public_ip, "public_ip")
        host = f.check(validate.hostname, hostname, "hostname") if hostname not in (None, "") else None
        dns = f.check(validate.dns_list, dns_servers or [], "dns_servers")
        f.raise_if_any()
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            await self.ctx.settings.set(tx, "public_ip", ip)
            if host:
                await self.ctx.settings.set(tx, "hostname", host)
            else:
                await self.ctx.settings.delete(tx, "hostname")
            await self.ctx.settings.set(tx, "default_dns", json.dumps(list(dns or ())))
            await self.ctx.audit.record(
                tx,
                actor,
                "setup.server",
                "settings",
                {"public_ip": ip, "hostname": host, "dns_servers": list(dns or ())},
                now,
            )
        self.ctx.changed("settings")
        from wgpilot.services.settings import SettingsService

        return await SettingsService(self.ctx).view()

    # -- step 3 ----------------------------------------------------------------------------------
    async def network(self, actor: Actor, fields: dict[str, Any]) -> tuple[Network, bool]:
        await self.refuse_if_complete()
        name = fields.get("name")
        if isinstance(name, str):
            existing = await self.ctx.networks.get_by_name(self.ctx.db, name)
            if existing is not None:
                return existing, False  # a repeated step returns what the first one made
        # Without dns_servers the network takes step 2's default DNS (NetworkService.create).
        return await self.networks.create(actor, **fields), True

    # -- step 4 ----------------------------------------------------------------------------------
    async def peer(self, actor: Actor, fields: dict[str, Any]) -> tuple[Peer, str, bool]:
        await self.refuse_if_complete()
        fields = dict(fields)
        network_id = fields.pop("network_id", None)
        if network_id is None:
            nets = await self.ctx.networks.all(self.ctx.db)
            if not nets:
                raise ValidationError.field("network_id", "create the first network before the first peer")
            network_id = nets[0].id
        created = False
        name = fields.get("name")
        peer = (
            await self.ctx.peers.get_by_name(self.ctx.db, network_id, name) if isinstance(name, str) else None
        )
        if peer is None:
            peer = await self.peers.create(actor, network_id, **fields)
            created = True
        async with self.ctx.db.transaction() as tx:
            await self.ctx.settings.set(tx, "setup_complete", "1")
            await setup_state.drop_install_token(self.ctx, tx)
            await self.ctx.audit.record(
                tx, actor, "setup.complete", "settings", {"peer_id": peer.id}, self.ctx.now()
            )
        self.ctx.changed("settings")
        _, config = await self.peers.client_config(network_id, peer.id)
        return peer, config, created

    async def import_existing(
        self, actor: Actor, interfaces: list[str] | None, files: list[str] | None
    ) -> tuple[list[Network], list[str]]:
        await self.refuse_if_complete()
        return await importer.import_all(self.ctx, actor, interfaces, files, self.conf_dir)
