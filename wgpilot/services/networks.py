"""Network use cases: create, update, enable/disable, delete.

Each runs in one SQLite transaction: validate, write rows and the audit entry,
converge the kernel (interface, peers, routes, firewall), and commit only when the
kernel accepted the change. On a kernel failure the transaction rolls back and
whatever the kernel had already done is undone by re-converging from the old state.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sqlite3
from typing import Any

from wgpilot.domain import ipam, keys, validate
from wgpilot.domain.allowed_ips import server_side
from wgpilot.domain.errors import ConflictError, KernelError, NotFoundError, ValidationError
from wgpilot.domain.models import DEFAULT_INTER_PEER, DEFAULT_NAT, Actor, Mode, Network, Role
from wgpilot.services.common import UNSET, Fields, integrity_error, resolve_network
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler, Report
from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.rows import load_list

log = logging.getLogger(__name__)

FIRST_PORT = 51820
_UNIQUE = {"networks.name": "name", "networks.interface": "interface", "networks.listen_port": "listen_port"}


def network_detail(net: Network) -> dict[str, Any]:
    """What the audit log records of a network (no key material)."""
    return {
        "name": net.name,
        "interface": net.interface,
        "mode": net.mode.value,
        "subnet": str(net.subnet),
        "subnet6": str(net.subnet6) if net.subnet6 else None,
        "listen_port": net.listen_port,
        "dns_servers": list(net.dns_servers),
        "mtu": net.mtu,
        "nat_enabled": net.nat_enabled,
        "inter_peer_routing": net.inter_peer_routing,
        "enabled": net.enabled,
    }


class NetworkService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.reconciler = Reconciler(ctx)

    # -- reads -----------------------------------------------------------------
    async def all(self) -> list[Network]:
        return await self.ctx.networks.all(self.ctx.db)

    async def get(self, ref: str | int) -> Network:
        return await resolve_network(self.ctx, self.ctx.db, ref)

    # -- checks shared by create and update ---------------------------------------
    async def _check_subnets(
        self,
        conn: Conn,
        f: Fields,
        subnet: ipaddress.IPv4Network | None,
        subnet6: ipaddress.IPv6Network | None,
        exclude_id: int | None,
    ) -> None:
        others = [n for n in await self.ctx.networks.all(conn) if n.id != exclude_id]
        ours = {n.interface for n in others}
        host: list[tuple[str, Any]] = []
        if subnet is not None or subnet6 is not None:
            host = await self.ctx.host.networks(ours)
        for field, net in (("subnet", subnet), ("subnet6", subnet6)):
            if net is None:
                continue
            other_nets: list[tuple[str, Any]] = []
            for n in others:
                other_nets.append((f"network {n.name!r}", n.subnet))
                if n.subnet6 is not None:
                    other_nets.append((f"network {n.name!r}", n.subnet6))
            clash = ipam.overlapping(net, other_nets)
            if clash:
                f.add(field, f"{net} overlaps the subnet of {clash}")
                continue
            clash = ipam.overlapping(net, [(f"host interface {name}", hn) for name, hn in host])
            if clash:
                f.add(field, f"{net} overlaps an address of the {clash}")

    async def _check_port(self, conn: Conn, f: Fields, port: int, exclude_id: int | None) -> None:
        for n in await self.ctx.networks.all(conn):
            if n.id != exclude_id and n.listen_port == port:
                f.add("listen_port", f"port {port} is already used by network {n.name!r}")
                return
        if not await self.ctx.host.port_free(port):
            f.add("listen_port", f"UDP port {port} is already in use on this host")

    async def _free_port(self, conn: Conn) -> int:
        used = {n.listen_port for n in await self.ctx.networks.all(conn)}
        port = FIRST_PORT
        while port in used or not await self.ctx.host.port_free(port):
            port += 1
            if port > 65535:
                raise ConflictError.field("listen_port", "no free UDP port found")
        return port

    async def _free_interface(self, conn: Conn) -> str:
        used = {n.interface for n in await self.ctx.networks.all(conn)}
        used |= {link.name for link in await self.ctx.driver.links()}
        used |= await self.ctx.driver.held_names()
        i = 0
        while f"wg{i}" in used:
            i += 1
        return f"wg{i}"

    async def _check_interface(self, conn: Conn, f: Fields, iface: str) -> None:
        other = await self.ctx.networks.get_by_interface(conn, iface)
        if other is not None:
            f.add("interface", f"{iface} is already used by network {other.name!r}")

    async def _interface_held(self, iface: str) -> str | None:
        """Why the host's state keeps ``iface`` from this network (a link in this
        namespace, a daemon's socket in another), or None when it does not."""
        if any(link.name == iface for link in await self.ctx.driver.links()):
            return f"{iface} already exists on this host and is not managed by wgpilot"
        if iface in await self.ctx.driver.held_names():
            return (
                f"{iface} is in use by a WireGuard process outside this network namespace "
                "(not managed by wgpilot); choose another name"
            )
        return None

    async def default_dns(self, conn: Conn) -> tuple[str, ...]:
        """The ``default_dns`` setting (wizard step 2, Settings page): what a network gets
        when its creator names no DNS servers. An explicit empty list means none.

        A value saved before validation got stricter (``1.1.1``) is the setting's fault,
        not the request's: 409 naming the setting (GET /api/settings lists it under
        ``problems``), never a 422 on a field the request did not send."""
        stored = await self.ctx.settings.get(conn, "default_dns")
        if not stored:
            return ()
        try:
            return validate.dns_list(json.loads(stored), "default_dns")
        except (ValidationError, ValueError) as exc:
            why = exc.message if isinstance(exc, ValidationError) else "it is not a JSON list"
            raise ConflictError(
                f"the saved default DNS servers (setting default_dns) are no longer valid ({why}): "
                "correct them under Settings, or name this network's dns_servers",
                code="INVALID_SETTING",
            ) from exc

    # -- create ----------------------------------------------------------------------
    async def create(
        self,
        actor: Actor,
        *,
        name: object,
        subnet: object,
        mode: object = "gateway",
        subnet6: object = None,
        listen_port: object = None,
        dns_servers: object = None,
        mtu: object = None,
        nat_enabled: object = None,
        inter_peer_routing: object = None,
        interface: object = None,
        private_key: object = None,
        enabled: bool = True,
    ) -> Network:
        f = Fields()
        name_v = f.check(validate.name, name, "name")
        mode_v = f.check(validate.mode, mode, "mode")
        subnet_v = f.check(validate.subnet, subnet, "subnet")
        subnet6_v = (
            f.check(validate.subnet6, subnet6, subnet_v, "subnet6") if subnet6 not in (None, "") else None
        )
        port_v = f.check(validate.port, listen_port, "listen_port") if listen_port is not None else None
        dns_v = f.check(validate.dns_list, dns_servers, "dns_servers") if dns_servers is not None else None
        mtu_v = f.check(validate.mtu, mtu, "mtu")
        nat_v = f.check(validate.boolean, nat_enabled, "nat_enabled") if nat_enabled is not None else None
        ipr_v = (
            f.check(validate.boolean, inter_peer_routing, "inter_peer_routing")
            if inter_peer_routing is not None
            else None
        )
        iface_v = f.check(validate.interface_name, interface, "interface") if interface else None
        if private_key is not None:
            f.check(keys.check_key, private_key, "private_key")
        if subnet_v is not None and ipam.peer_capacity(subnet_v) < 1:
            f.add("subnet", f"{subnet_v} leaves no address for a peer; use /30 or larger")
        f.raise_if_any()
        assert mode_v is not None and subnet_v is not None and name_v is not None
        if nat_v is None:
            nat_v = DEFAULT_NAT[mode_v]
        if ipr_v is None:
            ipr_v = DEFAULT_INTER_PEER[mode_v]
        now = self.ctx.now()
        priv = str(private_key) if private_key is not None else keys.generate_private_key()

        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            if await self.ctx.networks.get_by_name(tx, name_v):
                f.add("name", f"a network named {name_v!r} already exists")
            if iface_v is not None:
                await self._check_interface(tx, f, iface_v)
            await self._check_subnets(tx, f, subnet_v, subnet6_v, None)
            if port_v is not None:
                await self._check_port(tx, f, port_v, None)
            f.raise_if_any()
            held = await self._interface_held(iface_v) if iface_v is not None else None
            if held is not None:
                # Someone else holds the name: a clash with the host's state, not bad input.
                raise ConflictError.field("interface", held, code="INTERFACE_IN_USE")
            if port_v is None:
                port_v = await self._free_port(tx)
            if dns_v is None:
                dns_v = await self.default_dns(tx)
            iface = iface_v or await self._free_interface(tx)
            try:
                net_id = await self.ctx.networks.insert(
                    tx,
                    name=name_v,
                    interface=iface,
                    mode=mode_v,
                    subnet=str(subnet_v),
                    subnet6=str(subnet6_v) if subnet6_v else None,
                    listen_port=port_v,
                    private_key=priv,
                    public_key=keys.public_key(priv),
                    dns_servers=dns_v,
                    mtu=mtu_v,
                    nat_enabled=nat_v,
                    inter_peer_routing=ipr_v,
                    enabled=enabled,
                    now=now,
                )
            except sqlite3.IntegrityError as exc:
                raise integrity_error(exc, _UNIQUE) from exc
            net = await self.ctx.networks.get(tx, net_id)
            assert net is not None
            await self.ctx.audit.record(
                tx, actor, "network.create", f"network:{net_id}", network_detail(net), now
            )
            if enabled:
                touched.add(net.interface)
                await self._apply(tx, net)
        self.ctx.changed("networks", net.id)
        return net

    # -- update ----------------------------------------------------------------------
    async def update(
        self,
        actor: Actor,
        ref: str | int,
        *,
        name: object = UNSET,
        mode: object = UNSET,
        subnet: object = UNSET,
        subnet6: object = UNSET,
        listen_port: object = UNSET,
        dns_servers: object = UNSET,
        mtu: object = UNSET,
        nat_enabled: object = UNSET,
        inter_peer_routing: object = UNSET,
    ) -> Network:
        f = Fields()
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = f.check(validate.name, name, "name")
        if mode is not UNSET:
            changes["mode"] = f.check(validate.mode, mode, "mode")
        if listen_port is not UNSET:
            changes["listen_port"] = f.check(validate.port, listen_port, "listen_port")
        if dns_servers is not UNSET:
            changes["dns_servers"] = f.check(validate.dns_list, dns_servers or [], "dns_servers")
        if mtu is not UNSET:
            changes["mtu"] = f.check(validate.mtu, mtu, "mtu")
        if nat_enabled is not UNSET:
            changes["nat_enabled"] = f.check(validate.boolean, nat_enabled, "nat_enabled")
        if inter_peer_routing is not UNSET:
            changes["inter_peer_routing"] = f.check(
                validate.boolean, inter_peer_routing, "inter_peer_routing"
            )
        f.raise_if_any()
        now = self.ctx.now()
        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            old = await resolve_network(self.ctx, tx, ref)
            if subnet is not UNSET and subnet != str(old.subnet):
                new_subnet = f.check(validate.subnet, subnet, "subnet")
                if new_subnet is not None and new_subnet != old.subnet:
                    f.add("subnet", "cannot be changed after creation; create a new network instead")
            new6: ipaddress.IPv6Network | None = old.subnet6
            if subnet6 is not UNSET:
                new6 = (
                    f.check(validate.subnet6, subnet6, old.subnet, "subnet6")
                    if subnet6 not in (None, "")
                    else None
                )
                if not f.failed("subnet6") and new6 != old.subnet6:
                    changes["subnet6"] = str(new6) if new6 else None
                    if new6 is not None:
                        await self._check_subnets(tx, f, None, new6, old.id)
            if "name" in changes and changes["name"] and changes["name"] != old.name:
                other = await self.ctx.networks.get_by_name(tx, changes["name"])
                if other is not None and other.id != old.id:
                    f.add("name", f"a network named {changes['name']!r} already exists")
            if changes.get("listen_port") not in (None, old.listen_port):
                await self._check_port(tx, f, changes["listen_port"], old.id)
            if changes.get("mode") not in (None, old.mode) and changes["mode"] is not Mode.SITE_TO_SITE:
                gateways = await self.ctx.peers.site_networks(tx, old.id)
                if gateways or await tx.fetchval(
                    "SELECT 1 FROM peers WHERE network_id = ? AND role = 'site-gateway'", (old.id,)
                ):
                    f.add("mode", "the network has site-gateway peers; only site-to-site mode allows them")
            f.raise_if_any()
            changes = {k: v for k, v in changes.items() if k == "subnet6" or _current(old, k) != v}
            if not changes:
                return old
            changes["updated_at"] = now
            try:
                await self.ctx.networks.update(tx, old.id, changes)
            except sqlite3.IntegrityError as exc:
                raise integrity_error(exc, _UNIQUE) from exc
            if "subnet6" in changes:
                await self._readdress6(tx, old, new6, now)
            net = await self.ctx.networks.get(tx, old.id)
            assert net is not None
            before, after = network_detail(old), network_detail(net)
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            await self.ctx.audit.record(
                tx, actor, "network.update", f"network:{net.id}", {"name": net.name, "changes": diff}, now
            )
            if net.enabled:
                touched.add(net.interface)
                await self._apply(tx, net)
        self.ctx.changed("networks", net.id)
        return net

    async def _readdress6(self, tx: Tx, old: Network, new6: ipaddress.IPv6Network | None, now: int) -> None:
        """Give every peer the IPv6 address mirroring its IPv4 one (or drop IPv6)."""
        rows = await tx.fetchall(
            "SELECT id, address, role, site_networks FROM peers WHERE network_id = ?", (old.id,)
        )
        # Clear first so the UNIQUE(network_id, address6) index never sees a transient clash.
        await tx.execute("UPDATE peers SET address6 = NULL WHERE network_id = ?", (old.id,))
        for r in rows:
            a4 = ipaddress.IPv4Address(r["address"])
            a6 = ipam.mirror6(old.subnet, new6, a4) if new6 is not None else None
            allowed = server_side(a4, a6, Role(r["role"]), load_list(r["site_networks"]))
            await tx.execute(
                "UPDATE peers SET address6 = ?, allowed_ips = ?, updated_at = ? WHERE id = ?",
                (str(a6) if a6 else None, json.dumps(list(allowed), separators=(",", ":")), now, r["id"]),
            )

    # -- enable / disable / delete ----------------------------------------------------------
    async def set_enabled(self, actor: Actor, ref: str | int, enabled: bool) -> Network:
        now = self.ctx.now()
        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            old = await resolve_network(self.ctx, tx, ref)
            if old.enabled == enabled:
                return old
            await self.ctx.networks.update(tx, old.id, {"enabled": enabled, "updated_at": now})
            net = await self.ctx.networks.get(tx, old.id)
            assert net is not None
            action = "network.enable" if enabled else "network.disable"
            await self.ctx.audit.record(
                tx, actor, action, f"network:{net.id}", {"name": net.name, "interface": net.interface}, now
            )
            touched.add(net.interface)
            if enabled:
                await self._apply(tx, net)
            else:
                await self._take_down(tx, net)
        self.ctx.changed("networks", net.id)
        return net

    async def delete(self, actor: Actor, ref: str | int) -> Network:
        now = self.ctx.now()
        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            net = await resolve_network(self.ctx, tx, ref)
            peer_count = await self.ctx.peers.count(tx, net.id)
            await self.ctx.networks.delete(tx, net.id)
            await self.ctx.audit.record(
                tx,
                actor,
                "network.delete",
                f"network:{net.id}",
                {**network_detail(net), "peers_deleted": peer_count},
                now,
            )
            touched.add(net.interface)
            await self._take_down(tx, net)
        self.ctx.changed("networks", net.id)
        return net

    # -- kernel ----------------------------------------------------------------------------
    async def _apply(self, tx: Tx, net: Network) -> None:
        if not self.ctx.kernel_enabled:
            return
        report = Report()
        try:
            await self.reconciler.converge_network(tx, net, report)
            await self.reconciler.converge_firewall(tx, report)
        except OSError as exc:
            raise KernelError(f"{net.interface}: {exc}") from exc

    async def _take_down(self, tx: Tx, net: Network) -> None:
        if not self.ctx.kernel_enabled:
            return
        report = Report()
        await self.reconciler.remove_interface(net.interface, report)
        await self.reconciler.converge_firewall(tx, report)


def _current(net: Network, key: str) -> Any:
    value = getattr(net, key)
    return tuple(value) if isinstance(value, list) else value


async def require_network(ctx: Context, conn: Conn, network_id: int) -> Network:
    net = await ctx.networks.get(conn, network_id)
    if net is None:
        raise NotFoundError(f"network {network_id} does not exist", code="NETWORK_NOT_FOUND")
    return net


__all__ = ["NetworkService", "ValidationError", "network_detail", "require_network"]
