"""The poller: reads every enabled network's device from the driver, turns the
counters into per-peer status (online, rates) and publishes the peers whose status
changed. One poll serves every reader; nothing here ever polls per client.

Cost at 10 000 peers: the driver parses the device answer (in a thread when it is
big); the per-peer work here is a dict lookup and a few comparisons, and an idle
peer reuses its previous status object. The loop yields to the event loop every
``CHUNK`` peers so a big network never stalls other requests for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

from wgpilot.domain.errors import WgpilotError
from wgpilot.domain.models import Network
from wgpilot.kernel.driver import DeviceState, LinkState
from wgpilot.monitor.state import LiveState, NetworkLive, PeerLabel, PeerStatus
from wgpilot.services.context import Context
from wgpilot.storage.snapshots import SnapshotRepo

log = logging.getLogger(__name__)

CHUNK = 500  # peers handled between two yields to the event loop (~1 ms of work)
DIRECTORY_TTL = 60.0  # re-read peer names even without a change notification
DIAGNOSTICS_TTL = 60.0
LOG_TRANSITIONS = 100  # per poll; beyond that one summary line

Changes = dict[int, list[PeerStatus]]  # network id → peers whose status changed
Subscriber = Callable[[NetworkLive, list[PeerStatus]], None]


@dataclass(frozen=True)
class _Directory:
    """Peers of one network as the database knows them, by public key."""

    by_key: dict[str, PeerLabel]
    by_id: MappingProxyType[int, PeerLabel]
    total: int
    enabled: int
    loaded_at: float


def is_online(last_handshake: float, now: float, threshold: float) -> bool:
    return last_handshake > 0 and now - last_handshake < threshold


class Poller:
    def __init__(self, ctx: Context, *, online_threshold: float = 180) -> None:
        self.ctx = ctx
        self.threshold = online_threshold
        self.state = LiveState(driver=ctx.driver.name)
        self.polls = 0
        self._directories: dict[int, _Directory] = {}
        self._subscribers: list[Subscriber] = []
        self._diagnostics: tuple[str, ...] = ()
        self._diagnostics_at = float("-inf")
        # Networks whose rows (the network, or its peers' names, keys and enabled flags)
        # differ from the previous poll's, with "networks" or "peers": how the monitor
        # learns of a write it was not told about (another process on the database).
        self.edited: dict[int, str] = {}

    # -- wiring -------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> None:
        """``callback(network, changed)`` after every poll that changed a peer of ``network``."""
        self._subscribers.append(callback)

    def invalidate(self, network_id: int | None = None) -> None:
        """Forget cached peer names (of one network, or all): a service changed them."""
        if network_id is None:
            self._directories.clear()
        else:
            self._directories.pop(network_id, None)

    # -- one poll -----------------------------------------------------------------------------
    async def poll(self) -> tuple[LiveState, Changes]:
        """Read the kernel once, swap in the new state, publish what changed."""
        started = time.perf_counter()
        ctx = self.ctx
        now = ctx.clock()
        old = {n.network.id: n for n in self.state.networks}
        links: dict[str, LinkState] = {}
        if ctx.kernel_enabled:
            links = {link.name: link for link in await ctx.driver.links()}
        nets = await ctx.networks.all(ctx.db)
        ours = {n.interface for n in nets}
        changes: Changes = {}
        edited: dict[int, str] = {}
        live: list[NetworkLive] = []
        for net in nets:
            prev = old.get(net.id)
            item, changed = await self._network(net, links.get(net.interface), prev, now)
            live.append(item)
            if changed:
                changes[net.id] = changed
            if prev is None:
                if self.polls:
                    edited[net.id] = "networks"
            elif prev.network != net:
                edited[net.id] = "networks"
            elif prev.labels is not item.labels and prev.labels != item.labels:
                edited[net.id] = "peers"
        for gone in old.keys() - {n.id for n in nets}:  # deleted networks: peers go away
            edited[gone] = "networks"
            prev = old[gone]
            if prev.peers:
                changes[gone] = [_vanished(p) for p in prev.peers.values()]
        self.edited = edited
        self.state = LiveState(
            driver=ctx.driver.name,
            polled_at=now,
            networks=tuple(live),
            foreign_interfaces=tuple(sorted(n for n, lk in links.items() if not lk.marked and n not in ours)),
            diagnostics=await self._diagnostics_now(),
            poll_seconds=time.perf_counter() - started,
        )
        self.polls += 1
        by_id = {n.network.id: n for n in live}
        for network_id, changed in changes.items():
            target = by_id.get(network_id) or old[network_id]
            for callback in self._subscribers:
                try:
                    callback(target, changed)
                except Exception:  # a broken subscriber must not stop the poller
                    log.exception("monitor subscriber failed", extra={"network_id": network_id})
        return self.state, changes

    async def _network(
        self, net: Network, link: LinkState | None, prev: NetworkLive | None, now: float
    ) -> tuple[NetworkLive, list[PeerStatus]]:
        ctx = self.ctx
        directory = await self._directory(net.id, now)
        present, up = link is not None, bool(link and link.up)
        error: str | None = None
        prev_peers = prev.peers if prev is not None else MappingProxyType({})
        peers: MappingProxyType[int, PeerStatus] = MappingProxyType({})
        changed: list[PeerStatus] = []
        if link is not None and not link.marked:
            error = f"{net.interface} exists but is not managed by wgpilot"
        elif link is not None and net.enabled:
            try:
                dev = await ctx.driver.device(net.interface)
            except WgpilotError as exc:
                # A failed read keeps the last known peers: one bad answer is not an outage.
                error = exc.message
                peers = prev_peers
            else:
                dt = now - prev.polled_at if prev is not None else 0.0
                fresh, changed = await self._diff(net, dev, prev_peers, directory, now, dt)
                peers = MappingProxyType(fresh)
        elif net.enabled and ctx.kernel_enabled:
            error = f"{net.interface} is missing"
        if peers is not prev_peers:
            changed.extend(_vanished(p) for pid, p in prev_peers.items() if pid not in peers)
        down = net.enabled and ctx.kernel_enabled and not up
        down_since: float | None = None
        if down:
            down_since = prev.down_since if prev is not None and prev.down_since is not None else now
        if down and (prev is None or prev.down_since is None):
            log.warning(
                "interface down",
                extra={"event": "interface.down", "network": net.name, "interface": net.interface},
            )
        elif not down and prev is not None and prev.down_since is not None:
            log.info(
                "interface up",
                extra={"event": "interface.up", "network": net.name, "interface": net.interface},
            )
        item = NetworkLive(
            network=net,
            polled_at=now,
            interface_present=present,
            interface_up=up,
            error=error,
            down_since=down_since,
            peers=peers,
            labels=directory.by_id,
            peers_total=directory.total,
            peers_enabled=directory.enabled,
            peers_online=sum(1 for p in peers.values() if p.online),
            generation=(prev.generation if prev is not None else 0) + (1 if changed else 0),
        )
        return item, changed

    async def _diff(
        self,
        net: Network,
        dev: DeviceState,
        prev: MappingProxyType[int, PeerStatus],
        directory: _Directory,
        now: float,
        dt: float,
    ) -> tuple[dict[int, PeerStatus], list[PeerStatus]]:
        """New status per peer and the ones that changed. The hot loop of a poll."""
        by_key = directory.by_key
        threshold = self.threshold
        nid = net.id
        fresh: dict[int, PeerStatus] = {}
        changed: list[PeerStatus] = []
        flips: list[PeerStatus] = []
        count = 0
        # The device's dict is this poll's own (no one else mutates it), so iterating
        # it across the yields below is safe; nothing is copied.
        for key, ps in dev.peers.items():
            count += 1
            if count % CHUNK == 0:
                await asyncio.sleep(0)  # let other coroutines run between chunks
            label = by_key.get(key)
            if label is None:  # on the device but not in the database (yet)
                continue
            pid = label.peer_id
            hs = ps.last_handshake
            online = hs > 0 and now - hs < threshold
            hsi = int(hs) if hs else None
            rx, tx, endpoint = ps.rx_bytes, ps.tx_bytes, ps.endpoint
            old = prev.get(pid)
            if old is None:
                status = PeerStatus(pid, nid, key, online, hsi, rx, tx, 0.0, 0.0, endpoint)
                flips.append(status)
            else:
                if (
                    old.rx_bytes == rx
                    and old.tx_bytes == tx
                    and old.online is online
                    and old.last_handshake == hsi
                    and old.endpoint == endpoint
                    and not old.rx_rate
                    and not old.tx_rate
                ):
                    fresh[pid] = old  # idle peer: nothing to build, nothing to publish
                    continue
                # A counter that went down was reset (interface recreated): rate 0.
                rx_rate = round((rx - old.rx_bytes) / dt, 2) if dt > 0 and rx >= old.rx_bytes else 0.0
                tx_rate = round((tx - old.tx_bytes) / dt, 2) if dt > 0 and tx >= old.tx_bytes else 0.0
                status = PeerStatus(pid, nid, key, online, hsi, rx, tx, rx_rate, tx_rate, endpoint)
                if status == old:
                    fresh[pid] = old
                    continue
                if old.online is not online:
                    flips.append(status)
            fresh[pid] = status
            changed.append(status)
        self._log_transitions(net, flips, prev, directory)
        return fresh, changed

    @staticmethod
    def _log_transitions(
        net: Network, flips: list[PeerStatus], prev: MappingProxyType[int, PeerStatus], directory: _Directory
    ) -> None:
        # A peer seen for the first time is only a transition when it is online.
        flips = [s for s in flips if s.online or s.peer_id in prev]
        if not flips:
            return
        labels = directory.by_id
        for status in flips[:LOG_TRANSITIONS]:
            log.info(
                "peer online" if status.online else "peer offline",
                extra={
                    "event": "peer.online" if status.online else "peer.offline",
                    "network": net.name,
                    "network_id": net.id,
                    "peer": labels[status.peer_id].name if status.peer_id in labels else None,
                    "peer_id": status.peer_id,
                    "public_key": status.public_key,
                    "last_handshake": status.last_handshake,
                },
            )
        if len(flips) > LOG_TRANSITIONS:
            up = sum(1 for s in flips if s.online)
            log.info(
                "many peer transitions",
                extra={
                    "event": "peer.transitions",
                    "network": net.name,
                    "network_id": net.id,
                    "online": up,
                    "offline": len(flips) - up,
                    "not_logged": len(flips) - LOG_TRANSITIONS,
                },
            )

    async def _directory(self, network_id: int, now: float) -> _Directory:
        cached = self._directories.get(network_id)
        if cached is not None and abs(now - cached.loaded_at) < DIRECTORY_TTL:
            return cached
        rows = await SnapshotRepo().peer_labels(self.ctx.db, network_id)
        by_key = {key: PeerLabel(pid, name, enabled) for key, pid, name, enabled in rows}
        directory = _Directory(
            by_key=by_key,
            by_id=MappingProxyType({lb.peer_id: lb for lb in by_key.values()}),
            total=len(rows),
            enabled=sum(1 for r in rows if r[3]),
            loaded_at=now,
        )
        self._directories[network_id] = directory
        return directory

    async def _diagnostics_now(self) -> tuple[str, ...]:
        ctx = self.ctx
        if not ctx.kernel_enabled:
            return (
                "kernel layer disabled: no WireGuard driver (install wireguard-go or load the "
                "wireguard kernel module); changes are stored but not applied",
            )
        mono = time.monotonic()
        if mono - self._diagnostics_at >= DIAGNOSTICS_TTL:
            self._diagnostics_at = mono
            try:
                self._diagnostics = tuple(await ctx.firewall.diagnostics())
            except WgpilotError as exc:
                self._diagnostics = (exc.message,)
        return self._diagnostics


def _vanished(status: PeerStatus) -> PeerStatus:
    """The last status of a peer that left the device (disabled, deleted, link gone)."""
    return status._replace(online=False, rx_rate=0.0, tx_rate=0.0)
