"""Peer use cases: add, update, enable/disable, remove, render the client config.

Adding one peer is one small kernel operation (one peer upsert), never a device
rewrite, whatever the number of peers already on the interface.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wgpilot.domain import allowed_ips, ipam, keys, render, validate
from wgpilot.domain.errors import ConflictError, KernelError, NotFoundError, ValidationError
from wgpilot.domain.models import DEFAULT_PRESHARED_KEY, Actor, Mode, Network, Peer, Role
from wgpilot.kernel.driver import PeerConfig
from wgpilot.services.common import UNSET, Fields, integrity_error, resolve_network
from wgpilot.services.context import Context
from wgpilot.services.groupcommit import GroupCommit
from wgpilot.services.reconcile import Reconciler, Report
from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.peers import NewPeerRow

log = logging.getLogger(__name__)

_UNIQUE = {
    "peers.network_id, peers.name": "name",
    "peers.network_id, peers.public_key": "public_key",
    "peers.network_id, peers.ip_index": "address",
    "peers.network_id, peers.address6": "address6",
    "peers.network_id, peers.address": "address",
}


def peer_detail(p: Peer) -> dict[str, Any]:
    """What the audit log records of a peer (no key material but the public key)."""
    return {
        "network_id": p.network_id,
        "name": p.name,
        "email": p.email,
        "public_key": p.public_key,
        "address": str(p.address),
        "address6": str(p.address6) if p.address6 else None,
        "role": p.role.value,
        "site_networks": list(p.site_networks),
        "client_allowed_ips": list(p.client_allowed_ips),
        "endpoint": p.endpoint,
        "persistent_keepalive": p.persistent_keepalive,
        "enabled": p.enabled,
        "expires_at": p.expires_at,
        "preshared_key": p.has_preshared_key,
    }


@dataclass(frozen=True)
class _NewPeer:
    """A validated create call, waiting for its turn in a group commit."""

    actor: Actor
    network_ref: str | int
    name: str
    email: str | None
    role: Role
    site_networks: tuple[str, ...]
    client_allowed_ips: tuple[str, ...]
    persistent_keepalive: int | None
    given_key: str | None  # the caller's own public key, if any
    private_key: str | None
    public_key: str
    preshared_key: str | None
    expires_at: int | None
    endpoint: str | None
    enabled: bool
    now: int


@dataclass
class _Batch:
    """What one group commit has resolved and claimed so far, per network id."""

    networks: dict[str | int, Network] = field(default_factory=dict)
    names: dict[int, set[bytes]] = field(default_factory=dict)  # held or claimed, NOCASE-folded
    keys: dict[int, set[str]] = field(default_factory=dict)  # public keys claimed by the batch
    runs: dict[int, tuple[int, int | None, int | None]] = field(default_factory=dict)
    claimed: dict[int, set[int]] = field(default_factory=dict)  # ip indexes claimed by the batch
    sites: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # (peer, cidr) claimed
    staged: list[tuple[int, Network, NewPeerRow]] = field(default_factory=list)
    host_networks: list[tuple[str, Any]] | None = None  # fetched up front when a job has sites

    def claim(self, network_id: int, index: int) -> None:
        count, lowest, highest = self.runs[network_id]
        self.runs[network_id] = (
            count + 1,
            index if lowest is None else min(lowest, index),
            index if highest is None else max(highest, index),
        )
        self.claimed.setdefault(network_id, set()).add(index)


def _nocase(name: str) -> bytes:
    """A name as SQLite's NOCASE collation compares it (ASCII letters folded only)."""
    return name.encode().lower()


@dataclass(frozen=True)
class PeerPage:
    items: list[Peer]
    total: int


class PeerService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.reconciler = Reconciler(ctx)
        # Peers per network for unfiltered pages: COUNT(*) walks the whole network's
        # index, which at 10 000 peers was a quarter of a page request. Every change
        # announces itself through ctx.changed(), which drops the cached number.
        self._totals: dict[int, int] = {}
        self._generation = 0  # bumped on every change: a count read across one is not kept
        ctx.listeners.append(self._forget_totals)
        self._creates: GroupCommit[_NewPeer, Peer] = GroupCommit(self._create_batch)

    def _forget_totals(self, kind: str, network_id: int | None) -> None:
        self._generation += 1
        if network_id is None or kind != "peers":
            self._totals.clear()
        else:
            self._totals.pop(network_id, None)

    # -- reads ------------------------------------------------------------------------
    async def page(
        self,
        network_ref: str | int,
        *,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> PeerPage:
        net = await resolve_network(self.ctx, self.ctx.db, network_ref)
        items = await self.ctx.peers.query(
            self.ctx.db,
            net.id,
            limit=limit,
            offset=offset,
            search=search,
            sort=sort,
            descending=descending,
        )
        return PeerPage(items, await self._total(net.id, search))

    async def page_json(
        self,
        network_ref: str | int,
        *,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> str:
        """The same page as ``page``, as the JSON text of ``{"items": [views.peer…], "total": n}``."""
        network_id = network_ref if isinstance(network_ref, int) else None
        if network_id is None:
            network_id = (await resolve_network(self.ctx, self.ctx.db, network_ref)).id
        items = await self.ctx.peers.query_json(
            self.ctx.db,
            network_id,
            limit=limit,
            offset=offset,
            search=search,
            sort=sort,
            descending=descending,
        )
        if not items:  # a peer row proves its network exists (foreign key); no row proves nothing
            await resolve_network(self.ctx, self.ctx.db, network_id)
        return f'{{"items":[{items}],"total":{await self._total(network_id, search)}}}'

    async def _total(self, network_id: int, search: str | None) -> int:
        if search:
            return await self.ctx.peers.count(self.ctx.db, network_id, search=search)
        if (cached := self._totals.get(network_id)) is not None:
            return cached
        generation = self._generation
        total = await self.ctx.peers.count(self.ctx.db, network_id)
        if generation == self._generation:
            self._totals[network_id] = total
        return total

    async def get(self, network_ref: str | int, peer_ref: str | int) -> Peer:
        net = await resolve_network(self.ctx, self.ctx.db, network_ref)
        return await self._resolve(self.ctx.db, net, peer_ref)

    async def _resolve(self, conn: Conn, net: Network, ref: str | int) -> Peer:
        peer = None
        number = validate.ascii_int(ref, max_digits=18) if isinstance(ref, str) else ref  # int64 ids
        if number is not None:
            peer = await self.ctx.peers.get_in_network(conn, net.id, number)
        if peer is None and isinstance(ref, str):
            peer = await self.ctx.peers.get_by_name(conn, net.id, ref)
        if peer is None:
            raise NotFoundError(f"peer {ref!r} does not exist in network {net.name!r}", code="PEER_NOT_FOUND")
        return peer

    # -- validation shared by create and update -----------------------------------------------
    async def _check_sites(
        self,
        conn: Conn,
        f: Fields,
        net: Network,
        role: Role,
        sites: tuple[str, ...],
        exclude: int | None,
        staged: Sequence[tuple[str, str]] = (),
        *,
        host_networks: list[tuple[str, Any]] | None = None,
    ) -> None:
        """``staged``: (peer name, cidr) of site gateways not yet inserted (a group commit);
        ``host_networks``: the host's own networks when the caller fetched them already."""
        if role is Role.SITE_GATEWAY and net.mode is not Mode.SITE_TO_SITE:
            f.add("role", "site-gateway peers are only allowed in site-to-site networks")
            return
        if sites and role is not Role.SITE_GATEWAY:
            f.add("site_networks", "only a site-gateway peer has site networks")
            return
        if not sites:
            return
        taken: list[tuple[str, Any]] = [
            (f"network {n.name!r}", n.subnet) for n in await self.ctx.networks.all(conn)
        ]
        taken += [(f"network {n.name!r}", n.subnet6) for n in await self.ctx.networks.all(conn) if n.subnet6]
        taken += [
            (f"site networks of peer {name!r}", ipaddress.ip_network(c))
            for name, c in [*await self.ctx.peers.site_networks(conn, net.id, exclude), *staged]
        ]
        if host_networks is None:
            ours = {n.interface for n in await self.ctx.networks.all(conn)}
            host_networks = await self.ctx.host.networks(ours)
        taken += [(f"host interface {name}", hn) for name, hn in host_networks]
        for i, cidr in enumerate(sites):
            site = ipaddress.ip_network(cidr)
            if site.prefixlen == 0:
                f.add(f"site_networks[{i}]", "a default route cannot be a site network")
                continue
            clash = ipam.overlapping(site, taken)
            if clash:
                f.add(f"site_networks[{i}]", f"{cidr} overlaps the {clash}")

    # -- create -------------------------------------------------------------------------
    async def create(
        self,
        actor: Actor,
        network_ref: str | int,
        *,
        name: object,
        email: object = None,
        role: object = "client",
        site_networks: object = None,
        client_allowed_ips: object = None,
        persistent_keepalive: object = None,
        public_key: object = None,
        preshared_key: object = None,
        expires_at: object = None,
        endpoint: object = None,
        enabled: bool = True,
    ) -> Peer:
        f = Fields()
        now = self.ctx.now()
        name_v = f.check(validate.name, name, "name")
        email_v = f.check(validate.email, email, "email")
        role_v = f.check(validate.role, role or "client", "role")
        sites_v = f.check(validate.cidr_list, site_networks or [], "site_networks") or ()
        split_v = f.check(validate.cidr_list, client_allowed_ips or [], "client_allowed_ips") or ()
        ka_v = f.check(validate.keepalive, persistent_keepalive, "persistent_keepalive")
        pub_v = f.check(keys.check_key, public_key, "public_key") if public_key not in (None, "") else None
        psk_v = f.check(
            validate.boolean,
            preshared_key if preshared_key is not None else DEFAULT_PRESHARED_KEY,
            "preshared_key",
        )
        exp_v = f.check(validate.timestamp, expires_at, "expires_at", now=now)
        ep_v = f.check(validate.endpoint, endpoint, "endpoint")
        f.raise_if_any()
        assert name_v is not None and role_v is not None
        if pub_v is None:
            priv: str | None
            priv, pub = keys.generate_keypair()
        else:
            priv, pub = None, pub_v
        psk = keys.generate_preshared_key() if psk_v else None

        return await self._creates.submit(
            _NewPeer(
                actor=actor,
                network_ref=network_ref,
                name=name_v,
                email=email_v,
                role=role_v,
                site_networks=sites_v,
                client_allowed_ips=split_v,
                persistent_keepalive=ka_v,
                given_key=pub_v,
                private_key=priv,
                public_key=pub,
                preshared_key=psk,
                expires_at=exp_v,
                endpoint=ep_v,
                enabled=enabled,
                now=now,
            )
        )

    async def _create_batch(self, jobs: Sequence[_NewPeer]) -> list[Peer | BaseException]:
        """The peers of several create calls in one transaction (group commit): each
        checked on its own, then all inserted in one statement with their audit
        entries, one kernel update per network, one commit. A job that fails its
        checks is that job's error only (nothing of it was written).

        All the checking and writing is one ``Tx.inline`` step (on the loop when the
        writer is free, else one hop to the database thread); then the kernel, then
        the commit. Under load each hop waits its turn behind every other request on
        the event loop, so hops, not SQL, are what a batch costs."""
        out: list[Peer | BaseException | None] = [None] * len(jobs)
        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            batch = _Batch()
            if any(job.site_networks and job.role is Role.SITE_GATEWAY for job in jobs):
                # Site networks are checked against the host's own addresses too:
                # a netlink query, so it is fetched here on the loop, not inline.
                ours = {n.interface for n in await self.ctx.networks.all(tx)}
                batch.host_networks = await self.ctx.host.networks(ours)
            peers = await tx.inline(lambda t: self._write_batch(t, batch, jobs, out))
            pushes: dict[int, tuple[Network, list[PeerConfig], list[bool]]] = {}
            for (i, net, _), peer in zip(batch.staged, peers, strict=True):
                out[i] = peer
                if net.enabled and peer.enabled:
                    _, configs, sites = pushes.setdefault(net.id, (net, [], []))
                    configs.append(self._kernel_config(peer, jobs[i].preshared_key))
                    sites.append(bool(peer.site_networks))
            for net, configs, sites in pushes.values():
                touched.add(net.interface)
                await self._push(tx, net, configs, [], sites_changed=any(sites))
        for network_id in sorted({p.network_id for p in peers}):
            self.ctx.changed("peers", network_id)
        return [o for o in out if o is not None]

    async def _write_batch(
        self, tx: Tx, batch: _Batch, jobs: Sequence[_NewPeer], out: list[Peer | BaseException | None]
    ) -> list[Peer]:
        """Check and stage every job, then insert the staged ones and their audit
        entries; returns the inserted peers in ``batch.staged`` order. Database work
        only: it runs as a ``Tx.inline`` step."""
        for i, job in enumerate(jobs):
            try:
                net = await self._batch_network(tx, batch, job.network_ref, jobs)
                batch.staged.append((i, net, await self._stage(tx, batch, net, job)))
            except (ValidationError, NotFoundError, ConflictError) as exc:
                out[i] = exc
        if not batch.staged:
            return []
        try:
            peers = await self.ctx.peers.insert_many(tx, [row for _, _, row in batch.staged])
        except sqlite3.IntegrityError as exc:  # checked above; only a bug or a foreign writer
            if len(jobs) > 1:
                raise  # the group commit runs each job alone to find whose it is
            raise integrity_error(exc, _UNIQUE) from exc
        await self.ctx.audit.record_many(
            tx,
            [
                (jobs[i].actor, "peer.create", f"peer:{p.id}", peer_detail(p), jobs[i].now)
                for (i, _, _), p in zip(batch.staged, peers, strict=True)
            ],
        )
        return peers

    async def _batch_network(
        self, tx: Tx, batch: _Batch, ref: str | int, jobs: Sequence[_NewPeer]
    ) -> Network:
        """The job's network, resolved once per batch, with the names its peers hold
        among those the batch asks for (one query instead of one per job)."""
        net = batch.networks.get(ref)
        if net is None:
            net = batch.networks[ref] = await resolve_network(self.ctx, tx, ref)
        if net.id not in batch.names:
            asked = sorted({j.name for j in jobs})
            taken = await self.ctx.peers.names_taken(tx, net.id, asked)
            batch.names[net.id] = {_nocase(n) for n in taken}
            batch.keys[net.id] = set()
        return net

    async def _stage(self, tx: Tx, batch: _Batch, net: Network, job: _NewPeer) -> NewPeerRow:
        """Check one job against the database and the jobs staged before it, and
        allocate its address; writes nothing."""
        f = Fields()
        names, claimed_keys = batch.names[net.id], batch.keys[net.id]
        if _nocase(job.name) in names:
            f.add("name", f"a peer named {job.name!r} already exists in network {net.name!r}")
        if job.given_key is not None and (
            job.given_key in claimed_keys or await self.ctx.peers.get_by_public_key(tx, net.id, job.given_key)
        ):
            f.add("public_key", "another peer of this network already uses this public key")
        if job.given_key is not None and job.given_key == net.public_key:
            f.add("public_key", "is the server's own public key")
        staged_sites = batch.sites.setdefault(net.id, [])
        await self._check_sites(
            tx, f, net, job.role, job.site_networks, None, staged_sites, host_networks=batch.host_networks
        )
        f.raise_if_any()
        index = await self._allocate(tx, batch, net)
        address = ipaddress.IPv4Address(int(net.subnet.network_address) + index)
        address6 = ipam.mirror6(net.subnet, net.subnet6, address) if net.subnet6 else None
        if address6 is not None and await self.ctx.peers.address6_taken(tx, net.id, str(address6)):
            raise ConflictError.field("address6", f"{address6} is held by an imported peer; free it first")
        # Claimed only now that the job is certain to be inserted.
        names.add(_nocase(job.name))
        claimed_keys.add(job.public_key)
        batch.claim(net.id, index)
        staged_sites += [(job.name, c) for c in job.site_networks]
        return NewPeerRow(
            network_id=net.id,
            name=job.name,
            email=job.email,
            private_key=job.private_key,
            public_key=job.public_key,
            preshared_key=job.preshared_key,
            ip_index=index,
            address=str(address),
            address6=str(address6) if address6 else None,
            allowed_ips=allowed_ips.server_side(address, address6, job.role, job.site_networks),
            client_allowed_ips=job.client_allowed_ips,
            endpoint=job.endpoint,
            persistent_keepalive=job.persistent_keepalive,
            role=job.role,
            site_networks=job.site_networks,
            enabled=job.enabled,
            expires_at=job.expires_at,
            now=job.now,
        )

    async def _allocate(self, tx: Tx, batch: _Batch, net: Network) -> int:
        """Lowest free index, counting the indexes the batch has claimed so far."""
        run = batch.runs.get(net.id) or await self.ctx.peers.index_run(tx, net.id)
        batch.runs[net.id] = run
        index = ipam.next_free_if_gapless(net.subnet, *run)
        if index is None:
            claimed = batch.claimed.get(net.id, set())
            index = ipam.server_index(net.subnet) + 1
            while True:  # the database knows nothing of the batch's claims yet
                index = await self.ctx.peers.lowest_gap(tx, net.id, index)
                if index not in claimed:
                    break
                index += 1
            if index > ipam.usable_range(net.subnet)[1]:
                index = ipam.lowest_free(net.subnet, [])  # raises ExhaustedError with the message
        return index

    @staticmethod
    def _kernel_config(peer: Peer, psk: str | None) -> PeerConfig:
        return PeerConfig(
            public_key=peer.public_key,
            preshared_key=psk,
            allowed_ips=peer.allowed_ips,
            endpoint=peer.endpoint,
            persistent_keepalive=peer.persistent_keepalive if peer.endpoint else None,
        )

    async def _push(
        self, tx: Tx, net: Network, upserts: list[PeerConfig], removes: list[str], *, sites_changed: bool
    ) -> None:
        """Send exactly this change to the kernel (no full reconcile)."""
        if not self.ctx.kernel_enabled or not net.enabled:
            return
        try:
            await self.ctx.driver.configure(net.interface, peers=upserts, remove=removes)
            if sites_changed:
                await self.ctx.driver.set_routes(net.interface, await self.reconciler.site_routes(tx, net.id))
        except KernelError as exc:
            if "does not exist" in exc.message or "no WireGuard daemon" in exc.message:
                # The interface vanished behind our back: rebuild it from the database.
                await self.reconciler.converge_network(tx, net, Report())
            else:
                raise

    # -- update -------------------------------------------------------------------------
    async def update(
        self,
        actor: Actor,
        network_ref: str | int,
        peer_ref: str | int,
        *,
        name: object = UNSET,
        email: object = UNSET,
        role: object = UNSET,
        site_networks: object = UNSET,
        client_allowed_ips: object = UNSET,
        persistent_keepalive: object = UNSET,
        preshared_key: object = UNSET,
        expires_at: object = UNSET,
        endpoint: object = UNSET,
        enabled: object = UNSET,
    ) -> Peer:
        f = Fields()
        now = self.ctx.now()
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = f.check(validate.name, name, "name")
        if email is not UNSET:
            changes["email"] = f.check(validate.email, email, "email")
        if role is not UNSET:
            changes["role"] = f.check(validate.role, role, "role")
        if site_networks is not UNSET:
            changes["site_networks"] = f.check(validate.cidr_list, site_networks or [], "site_networks")
        if client_allowed_ips is not UNSET:
            changes["client_allowed_ips"] = f.check(
                validate.cidr_list, client_allowed_ips or [], "client_allowed_ips"
            )
        if persistent_keepalive is not UNSET:
            changes["persistent_keepalive"] = f.check(
                validate.keepalive, persistent_keepalive, "persistent_keepalive"
            )
        if expires_at is not UNSET:
            changes["expires_at"] = f.check(validate.timestamp, expires_at, "expires_at", now=now)
        if endpoint is not UNSET:
            changes["endpoint"] = f.check(validate.endpoint, endpoint, "endpoint")
        if enabled is not UNSET:
            changes["enabled"] = f.check(validate.boolean, enabled, "enabled")
        new_psk: str | object | None = UNSET
        if preshared_key is not UNSET:
            want_psk = f.check(validate.boolean, preshared_key, "preshared_key")
            new_psk = keys.generate_preshared_key() if want_psk else None
        f.raise_if_any()

        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            net = await resolve_network(self.ctx, tx, network_ref)
            old = await self._resolve(tx, net, peer_ref)
            if changes.get("name") not in (None, old.name):
                other = await self.ctx.peers.get_by_name(tx, net.id, changes["name"])
                if other is not None and other.id != old.id:
                    f.add("name", f"a peer named {changes['name']!r} already exists in network {net.name!r}")
            role_v = changes.get("role", old.role)
            sites_v = changes.get("site_networks", old.site_networks)
            if role_v is Role.CLIENT and "site_networks" not in changes:
                sites_v = ()
                changes["site_networks"] = ()
            if "role" in changes or "site_networks" in changes:
                await self._check_sites(tx, f, net, role_v, sites_v, old.id)
            f.raise_if_any()
            changes = {k: v for k, v in changes.items() if getattr(old, k) != v}
            if new_psk is not UNSET:
                changes["preshared_key"] = new_psk
            if not changes:
                return old
            if "role" in changes or "site_networks" in changes:
                changes["allowed_ips"] = allowed_ips.server_side(old.address, old.address6, role_v, sites_v)
            changes["updated_at"] = now
            try:
                await self.ctx.peers.update(tx, old.id, changes)
            except sqlite3.IntegrityError as exc:
                raise integrity_error(exc, _UNIQUE) from exc
            peer = await self.ctx.peers.get(tx, old.id)
            assert peer is not None
            before, after = peer_detail(old), peer_detail(peer)
            diff = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
            if "preshared_key" in changes:
                diff["preshared_key"] = {
                    "from": old.has_preshared_key,
                    "to": peer.has_preshared_key,
                    "rotated": True,
                }
            action = "peer.update"
            if set(changes) - {"updated_at"} == {"enabled"}:
                action = "peer.enable" if peer.enabled else "peer.disable"
            await self.ctx.audit.record(
                tx,
                actor,
                action,
                f"peer:{peer.id}",
                {"name": peer.name, "network_id": net.id, "changes": diff},
                now,
            )
            kernel_fields = {
                "allowed_ips",
                "persistent_keepalive",
                "endpoint",
                "preshared_key",
                "enabled",
                "expires_at",
            }
            if kernel_fields & set(changes):
                touched.add(net.interface)
                live = peer.enabled and not peer.expired(now)
                sites_changed = "allowed_ips" in changes or (
                    "enabled" in changes and bool(peer.site_networks)
                )
                if live:
                    psk = (await self.ctx.peers.secrets(tx, peer.id)).preshared_key
                    await self._push(
                        tx, net, [self._kernel_config(peer, psk)], [], sites_changed=sites_changed
                    )
                else:
                    await self._push(tx, net, [], [peer.public_key], sites_changed=sites_changed)
        self.ctx.changed("peers", net.id)
        return peer

    async def set_enabled(
        self, actor: Actor, network_ref: str | int, peer_ref: str | int, enabled: bool
    ) -> Peer:
        return await self.update(actor, network_ref, peer_ref, enabled=enabled)

    # -- delete ---------------------------------------------------------------------------
    async def delete(self, actor: Actor, network_ref: str | int, peer_ref: str | int) -> Peer:
        now = self.ctx.now()
        async with self.reconciler.guarded() as touched, self.ctx.db.transaction() as tx:
            net = await resolve_network(self.ctx, tx, network_ref)
            peer = await self._resolve(tx, net, peer_ref)
            await self.ctx.peers.delete(tx, peer.id)
            await self.ctx.audit.record(tx, actor, "peer.delete", f"peer:{peer.id}", peer_detail(peer), now)
            touched.add(net.interface)
            await self._push(tx, net, [], [peer.public_key], sites_changed=bool(peer.site_networks))
        self.ctx.changed("peers", net.id)
        return peer

    # -- client configuration -------------------------------------------------------------------
    async def endpoint_host(self, conn: Conn) -> str:
        host = await self.ctx.settings.get(conn, "hostname") or await self.ctx.settings.get(conn, "public_ip")
        if not host:
            host = await self.ctx.host.public_address()
        if not host:
            raise ConflictError(
                "the server's public address is not set and could not be detected; "
                "set it in the settings (public_ip or hostname)",
                code="PUBLIC_ADDRESS_UNKNOWN",
            )
        return host

    async def client_config(self, network_ref: str | int, peer_ref: str | int) -> tuple[Peer, str]:
        """(peer, rendered wg-quick config). Contains the peer's private key."""
        conn = self.ctx.db
        net = await resolve_network(self.ctx, conn, network_ref)
        peer = await self._resolve(conn, net, peer_ref)
        return peer, await self._render_config(conn, net, peer)

    async def _render_config(self, conn: Conn, net: Network, peer: Peer) -> str:
        secrets = await self.ctx.peers.secrets(conn, peer.id)
        others: list[Peer] = []
        if net.mode is Mode.SITE_TO_SITE:
            others = await self.ctx.peers.query(conn, net.id)
        addresses = [f"{peer.address}/32"]
        if peer.address6 is not None:
            addresses.append(f"{peer.address6}/128")
        cfg = render.ClientConfig(
            network_name=net.name,
            peer_name=peer.name,
            private_key=secrets.private_key,
            addresses=tuple(addresses),
            dns=net.dns_servers,
            mtu=net.mtu,
            server_public_key=net.public_key,
            preshared_key=secrets.preshared_key,
            allowed_ips=allowed_ips.client_side(net, peer, others),
            endpoint=render.endpoint_for(await self.endpoint_host(conn), net.listen_port),
            persistent_keepalive=peer.persistent_keepalive,
        )
        return render.render(cfg)

    async def qr_config(self, network_ref: str | int, peer_ref: str | int) -> tuple[Peer, str]:
        """(peer, the config a QR code carries). Refused (409 PEER_KEY_NOT_HELD) for a
        peer that brought its own key: see ``render.require_private_key``."""
        conn = self.ctx.db
        net = await resolve_network(self.ctx, conn, network_ref)
        peer = await self._resolve(conn, net, peer_ref)
        render.require_private_key(peer.name, peer.has_private_key)
        return peer, await self._render_config(conn, net, peer)
