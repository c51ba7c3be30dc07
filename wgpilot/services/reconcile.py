"""Converge the kernel to the database: desired state (DB) vs observed (driver),
applying only the difference.

* A marked link whose network is gone or disabled is deleted; an unmarked link is
  never touched (a desired network whose interface name is taken by a foreign link
  is reported, not forced).
* A missing link is created, addressed and loaded with all its peers in one
  replace; an existing one gets only what differs: addresses/MTU/state, key/port,
  one upsert batch for changed peers and one removal batch for stray peers.
* The firewall table is rebuilt from the database and replaced only when the live
  table differs; forwarding is enabled when a network needs it.
* Expired peers are disabled in the database first (with an audit entry).

Running it twice in a row changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from wgpilot.domain import nftrules
from wgpilot.domain.errors import KernelError, WgpilotError
from wgpilot.domain.models import Actor, Mode, Network
from wgpilot.kernel.driver import DeviceState, LinkState, PeerConfig
from wgpilot.services.context import Context
from wgpilot.storage.db import Conn
from wgpilot.storage.peers import KernelPeerRow

log = logging.getLogger(__name__)

DEFAULT_MTU = 1420


@dataclass
class Report:
    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, action: str) -> None:
        self.actions.append(action)
        log.info("reconcile", extra={"action": action})

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def peer_config(row: KernelPeerRow) -> PeerConfig:
    return PeerConfig(
        public_key=row.public_key,
        preshared_key=row.preshared_key,
        allowed_ips=row.allowed_ips,
        # The server keeps a keepalive only towards peers it can reach by itself.
        endpoint=row.endpoint,
        persistent_keepalive=row.persistent_keepalive if row.endpoint else None,
    )


def _same_peer(want: PeerConfig, have: PeerConfig) -> bool:
    return (
        want.preshared_key == have.preshared_key
        and set(want.allowed_ips) == set(have.allowed_ips)
        and (want.persistent_keepalive or None) == (have.persistent_keepalive or None)
        # A roaming peer's endpoint is learned by the device; only a configured one counts.
        and (want.endpoint is None or _endpoint_eq(want.endpoint, have.endpoint))
    )


def _endpoint_eq(want: str, have: str | None) -> bool:
    return have is not None and want.strip("[]").replace("]:", ":") == have.strip("[]").replace("]:", ":")


def link_addresses(net: Network) -> list[str]:
    out = [f"{net.server_address}/{net.subnet.prefixlen}"]
    if net.subnet6 is not None and net.server_address6 is not None:
        out.append(f"{net.server_address6}/{net.subnet6.prefixlen}")
    return out


def peer_diff(desired: dict[str, PeerConfig], observed: DeviceState) -> tuple[list[PeerConfig], list[str]]:
    upserts = []
    for pub, want in desired.items():
        have = observed.peers.get(pub)
        if have is None or not _same_peer(want, have.config()):
            upserts.append(want)
    removes = [pub for pub in observed.peers if pub not in desired]
    return upserts, removes


class Reconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- desired state -----------------------------------------------------------
    async def site_routes(self, conn: Conn, network_id: int) -> list[str]:
        return await self.ctx.peers.site_routes(conn, network_id, self.ctx.now())

    async def desired_peers(self, conn: Conn, network_id: int) -> dict[str, PeerConfig]:
        rows = await self.ctx.peers.kernel_peers(conn, network_id, self.ctx.now())
        return {r.public_key: peer_config(r) for r in rows}

    # -- one network ----------------------------------------------------------------
    async def converge_network(
        self, conn: Conn, net: Network, report: Report, links: dict[str, LinkState] | None = None
    ) -> None:
        """Make one enabled network's interface equal the database."""
        driver = self.ctx.driver
        if links is None:
            links = {link.name: link for link in await driver.links()}
        link = links.get(net.interface)
        if link is not None and not link.marked:
            raise KernelError(
                f"interface {net.interface} exists and is not managed by wgpilot; "
                "import it or give the network another interface name",
                code="INTERFACE_NOT_OURS",
            )
        private_key = await self.ctx.networks.private_key(conn, net.id)
        desired = await self.desired_peers(conn, net.id)
        mtu = net.mtu or DEFAULT_MTU
        addresses = link_addresses(net)
        if link is None:
            await driver.create(net.interface)
            await driver.configure(
                net.interface,
                private_key=private_key,
                listen_port=net.listen_port,
                peers=list(desired.values()),
                replace_peers=True,
            )
            await driver.set_link(net.interface, addresses=addresses, mtu=mtu, up=True)
            report.add(f"{net.interface}: created with {len(desired)} peers")
        else:
            if link.mtu != mtu or not link.up or set(link.addresses) != {a for a in addresses}:
                await driver.set_link(net.interface, addresses=addresses, mtu=mtu, up=True)
                report.add(f"{net.interface}: link settings restored")
            dev = await driver.device(net.interface)
            key = private_key if dev.private_key != private_key else None
            port = net.listen_port if dev.listen_port != net.listen_port else None
            upserts, removes = peer_diff(desired, dev)
            if key or port or upserts or removes:
                await driver.configure(
                    net.interface, private_key=key, listen_port=port, peers=upserts, remove=removes
                )
                parts = []
                if key:
                    parts.append("private key")
                if port:
                    parts.append(f"port {port}")
                if upserts:
                    parts.append(f"{len(upserts)} peers set")
                if removes:
                    parts.append(f"{len(removes)} peers removed")
                report.add(f"{net.interface}: " + ", ".join(parts))
        routes = await self.site_routes(conn, net.id)
        if set(await driver.routes(net.interface)) != set(routes):
            await driver.set_routes(net.interface, routes)
            report.add(f"{net.interface}: routes set to {routes or 'none'}")

    async def remove_interface(self, name: str, report: Report) -> None:
        links = {link.name: link for link in await self.ctx.driver.links()}
        link = links.get(name)
        if link is not None and link.marked:
            await self.ctx.driver.delete(name)
            report.add(f"{name}: deleted")

    # -- firewall -------------------------------------------------------------------
    async def firewall_table(self, conn: Conn) -> nftrules.Ruleset:
        nets = {n.id: n for n in await self.ctx.networks.all(conn) if n.enabled}
        fw_nets = [
            nftrules.FwNetwork(
                interface=n.interface,
                subnet=str(n.subnet),
                subnet6=str(n.subnet6) if n.subnet6 else None,
                nat=n.nat_enabled,
                inter_peer=n.inter_peer_routing,
            )
            for n in nets.values()
        ]
        fw_bridges = [
            nftrules.FwBridge(
                iface_a=nets[b.network_a_id].interface,
                iface_b=nets[b.network_b_id].interface,
                direction=b.direction,
                cidrs=b.allowed_cidrs,
            )
            for b in await self.ctx.bridges.all(conn)
            if b.enabled and b.network_a_id in nets and b.network_b_id in nets
        ]
        return nftrules.build(fw_nets, fw_bridges)

    async def converge_firewall(self, conn: Conn, report: Report) -> None:
        nets = [n for n in await self.ctx.networks.all(conn) if n.enabled]
        table = await self.firewall_table(conn)
        if await self.ctx.firewall.apply(table):
            report.add("firewall: table inet wgpilot " + ("removed" if table.empty else "replaced"))
        needs_v4 = any(n.mode is not Mode.HUB_ROUTED or n.inter_peer_routing for n in nets)
        needs_v6 = any(n.subnet6 is not None for n in nets) and needs_v4
        self.ctx.sysctl.ensure_forwarding(ipv4=needs_v4, ipv6=needs_v6)

    # -- after a failed change ----------------------------------------------------------
    @asynccontextmanager
    async def guarded(self) -> AsyncIterator[set[str]]:
        """Wrap a service transaction: interfaces added to the yielded set are
        re-converged to the committed database if the transaction fails, so a
        kernel change that was half-applied before the rollback is undone."""
        touched: set[str] = set()
        try:
            yield touched
        except BaseException:
            for iface in sorted(touched):
                await self.heal(iface)
            raise

    async def heal(self, interface: str) -> None:
        if not self.ctx.kernel_enabled:
            return
        report = Report()
        try:
            async with self.ctx.db.write_lock:
                net = await self.ctx.networks.get_by_interface(self.ctx.db, interface)
                if net is not None and net.enabled:
                    await self.converge_network(self.ctx.db, net, report)
                else:
                    await self.remove_interface(interface, report)
                await self.converge_firewall(self.ctx.db, report)
        except WgpilotError as exc:
            log.error(
                "could not undo a failed change; the next reconcile will retry",
                extra={"interface": interface, "error": exc.message},
            )

    # -- everything -----------------------------------------------------------------
    async def expire_peers(self, *, lock_held: bool = False) -> int:
        now = self.ctx.now()
        expired = await self.ctx.peers.expired(self.ctx.db, now)
        if not expired:
            return 0
        db = self.ctx.db
        async with db.transaction_held() if lock_held else db.transaction() as tx:
            for p in expired:
                await self.ctx.peers.update(tx, p.id, {"enabled": False, "updated_at": now})
                await self.ctx.audit.record(
                    tx,
                    Actor.system(),
                    "peer.expire",
                    f"peer:{p.id}",
                    {"network_id": p.network_id, "name": p.name, "expires_at": p.expires_at},
                    now,
                )
        for network_id in {p.network_id for p in expired}:
            self.ctx.changed("peers", network_id)
        log.info("peers expired", extra={"count": len(expired)})
        return len(expired)

    async def reconcile_all(self, *, lock_held: bool = False) -> Report:
        """Full pass; errors of one network do not stop the others: they are in the
        report. ``lock_held``: the caller holds the database's write lock (a restore)."""
        report = Report()
        expired = await self.expire_peers(lock_held=lock_held)
        if expired:
            report.add(f"{expired} expired peers disabled")
        if not self.ctx.kernel_enabled:
            return report
        lock: AbstractAsyncContextManager[Any] = nullcontext() if lock_held else self.ctx.db.write_lock
        async with lock:
            conn = self.ctx.db
            nets = await self.ctx.networks.all(conn)
            links = {link.name: link for link in await self.ctx.driver.links()}
            wanted = {n.interface for n in nets if n.enabled}
            for link in links.values():
                if link.marked and link.name not in wanted:
                    try:
                        await self.ctx.driver.delete(link.name)
                        report.add(f"{link.name}: deleted (no enabled network uses it)")
                    except WgpilotError as exc:
                        report.errors.append(f"{link.name}: {exc.message}")
            for net in nets:
                if not net.enabled:
                    continue
                try:
                    await self.converge_network(conn, net, report, links)
                except WgpilotError as exc:
                    report.errors.append(f"{net.interface}: {exc.message}")
                    log.error("reconcile failed", extra={"interface": net.interface, "error": exc.message})
            try:
                await self.converge_firewall(conn, report)
            except WgpilotError as exc:
                report.errors.append(f"firewall: {exc.message}")
                log.error("firewall reconcile failed", extra={"error": exc.message})
        return report
