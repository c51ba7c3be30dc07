"""Alert evaluation: after every poll, each enabled rule is checked against the live
state; a condition that holds long enough opens an incident (stored, so a restart
never fires it again) and sends ONE alert; the incident's end sends ONE recovery.
All incidents a rule opens (or closes) in one evaluation go out as one message.

Rules:
    peer_offline    a peer that had completed a handshake has been offline for
                    ``threshold`` seconds (offline since last handshake + online
                    threshold). Peers of a network whose interface is down are not
                    judged: interface_down covers them.
    interface_down  an enabled network's interface has been missing or down for
                    ``threshold`` seconds.
    transfer_spike  a peer moved more than ``threshold`` bytes (rx + tx) within the
                    current clock hour; recovers after a full clock hour below it.

A subject that disappears (peer deleted or disabled, network deleted or disabled,
rule disabled) closes its incident without a message: nothing recovered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wgpilot.monitor.notify import Delivery, Message
from wgpilot.monitor.state import LiveState, NetworkLive, PeerStatus
from wgpilot.services.context import Context
from wgpilot.storage.alerts import Alert, AlertRepo, Incident

log = logging.getLogger(__name__)

HOUR = 3600
INCIDENT_RETENTION = 365 * 86400


@dataclass
class _Pending:
    """Incidents one evaluation opens and closes, written in one transaction."""

    opened: list[tuple[Alert, str, int, dict[str, Any]]] = field(default_factory=list)
    resolved: list[tuple[Alert, Incident, dict[str, Any]]] = field(default_factory=list)
    dropped: list[Incident] = field(default_factory=list)


@dataclass
class _Traffic:
    """Bytes a peer moved in the current clock hour (counter resets handled)."""

    last_raw: int
    hour_bytes: int = 0
    previous_hour: int = 0


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "never"


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class AlertEngine:
    def __init__(
        self,
        ctx: Context,
        submit: Callable[[Delivery], None],
        *,
        online_threshold: float = 180,
    ) -> None:
        self.ctx = ctx
        self.repo = AlertRepo()
        self.submit = submit
        self.online_threshold = online_threshold
        self.rules: list[Alert] = []
        self.open: dict[tuple[int, str], Incident] = {}
        self._loaded = False
        self._traffic: dict[int, _Traffic] = {}
        self._hour: int | None = None

    async def reload(self) -> None:
        """Re-read rules and open incidents (after a change through the alert service)."""
        self.rules = await self.repo.all(self.ctx.db, enabled_only=True)
        self.open = {(i.alert_id, i.subject): i for i in await self.repo.open_incidents(self.ctx.db)}
        self._loaded = True

    def invalidate(self) -> None:
        self._loaded = False

    async def evaluate(self, state: LiveState) -> int:
        """Check every rule against one poll's state; returns notices submitted."""
        if not self._loaded:
            await self.reload()
        now = self.ctx.clock()
        pending = _Pending()
        active = {r.id for r in self.rules}
        for (alert_id, _subject), incident in list(self.open.items()):
            if alert_id not in active:  # rule disabled or deleted
                pending.dropped.append(incident)
        spikes = [r for r in self.rules if r.type == "transfer_spike"]
        rolled = self._count_traffic(state, now) if spikes else False
        if not spikes:
            self._traffic.clear()
            self._hour = None
        for rule in self.rules:
            if rule.type == "peer_offline":
                self._peer_offline(rule, state, now, pending)
            elif rule.type == "interface_down":
                self._interface_down(rule, state, now, pending)
            elif rule.type == "transfer_spike":
                self._transfer_spike(rule, state, rolled, pending)
        if not (pending.opened or pending.resolved or pending.dropped):
            return 0
        return await self._commit(pending, int(now))

    # -- rules --------------------------------------------------------------------------------------
    def _peer_offline(self, rule: Alert, state: LiveState, now: float, pending: _Pending) -> None:
        seen: set[str] = set()
        for net in state.networks:
            if not net.network.enabled:
                continue  # a disabled network's incidents close without a message
            if net.down:
                # Unknown while the interface is down: keep open incidents, open none.
                seen.update(f"peer:{pid}" for pid in net.labels)
                continue
            for p in net.peers.values():
                subject = f"peer:{p.peer_id}"
                seen.add(subject)
                incident = self.open.get((rule.id, subject))
                if p.online:
                    if incident is not None:
                        pending.resolved.append((rule, incident, self._peer_detail(net, p)))
                    continue
                if incident is not None or p.last_handshake is None:
                    continue  # already firing, or never connected (nothing went offline)
                since = p.last_handshake + self.online_threshold
                if now - since >= rule.threshold:
                    pending.opened.append((rule, subject, int(since), self._peer_detail(net, p)))
            # Enabled peers not on the device yet (reconcile pending) stay undecided.
            seen.update(f"peer:{pid}" for pid, label in net.labels.items() if label.enabled)
        self._drop_unseen(rule, seen, pending)

    def _interface_down(self, rule: Alert, state: LiveState, now: float, pending: _Pending) -> None:
        seen: set[str] = set()
        for net in state.networks:
            if not net.network.enabled:
                continue
            subject = f"network:{net.network.id}"
            seen.add(subject)
            incident = self.open.get((rule.id, subject))
            if net.down_since is None:
                if incident is not None:
                    pending.resolved.append((rule, incident, self._network_detail(net)))
            elif incident is None and now - net.down_since >= rule.threshold:
                pending.opened.append((rule, subject, int(net.down_since), self._network_detail(net)))
        self._drop_unseen(rule, seen, pending)

    def _count_traffic(self, state: LiveState, now: float) -> bool:
        """Accumulate each peer's bytes of the current clock hour; True when an hour ended."""
        hour = int(now) // HOUR * HOUR
        rolled = self._hour is not None and hour != self._hour
        self._hour = hour
        traffic = self._traffic
        present: set[int] = set()
        for net in state.networks:
            for p in net.peers.values():
                pid = p.peer_id
                present.add(pid)
                raw = p.rx_bytes + p.tx_bytes
                t = traffic.get(pid)
                if t is None:
                    traffic[pid] = _Traffic(raw)  # a baseline, not traffic
                    continue
                if rolled:
                    t.previous_hour, t.hour_bytes = t.hour_bytes, 0
                t.hour_bytes += raw - t.last_raw if raw >= t.last_raw else raw
                t.last_raw = raw
        for pid in traffic.keys() - present:
            del traffic[pid]
        return rolled

    def _transfer_spike(self, rule: Alert, state: LiveState, rolled: bool, pending: _Pending) -> None:
        seen: set[str] = set()
        for net in state.networks:
            seen.update(f"peer:{pid}" for pid, label in net.labels.items() if label.enabled)
            for p in net.peers.values():
                t = self._traffic.get(p.peer_id)
                if t is None:
                    continue
                subject = f"peer:{p.peer_id}"
                incident = self.open.get((rule.id, subject))
                detail = {**self._peer_detail(net, p), "bytes_this_hour": t.hour_bytes}
                if incident is None and t.hour_bytes > rule.threshold:
                    pending.opened.append((rule, subject, int(self._hour or 0), detail))
                elif incident is not None and rolled and t.previous_hour <= rule.threshold:
                    detail["bytes_last_hour"] = t.previous_hour
                    pending.resolved.append((rule, incident, detail))
        self._drop_unseen(rule, seen, pending)

    def _drop_unseen(self, rule: Alert, seen: set[str], pending: _Pending) -> None:
        for (alert_id, subject), incident in self.open.items():
            if alert_id == rule.id and subject not in seen:
                pending.dropped.append(incident)

    @staticmethod
    def _peer_detail(net: NetworkLive, p: PeerStatus) -> dict[str, Any]:
        label = net.labels.get(p.peer_id)
        return {
            "network": net.network.name,
            "network_id": net.network.id,
            "interface": net.network.interface,
            "peer": label.name if label is not None else str(p.peer_id),
            "peer_id": p.peer_id,
            "public_key": p.public_key,
            "last_handshake": p.last_handshake,
            "endpoint": p.endpoint,
        }

    @staticmethod
    def _network_detail(net: NetworkLive) -> dict[str, Any]:
        return {
            "network": net.network.name,
            "network_id": net.network.id,
            "interface": net.network.interface,
            "interface_present": net.interface_present,
            "interface_up": net.interface_up,
            "error": net.error,
        }

    # -- bookkeeping and messages ---------------------------------------------------------------------
    async def _commit(self, pending: _Pending, now: int) -> int:
        opened: list[tuple[Alert, Incident]] = []
        async with self.ctx.db.transaction() as tx:
            for rule, subject, started, detail in pending.opened:
                iid = await self.repo.open_incident(tx, rule.id, subject, started, detail)
                opened.append((rule, Incident(iid, rule.id, subject, started, None, detail)))
            for _rule, incident, _detail in pending.resolved:
                await self.repo.resolve(tx, incident.id, now)
            for incident in pending.dropped:
                await self.repo.resolve(tx, incident.id, now)
        for _rule, incident in opened:
            self.open[(incident.alert_id, incident.subject)] = incident
        for _rule, incident, _detail in pending.resolved:
            self.open.pop((incident.alert_id, incident.subject), None)
        for incident in pending.dropped:
            self.open.pop((incident.alert_id, incident.subject), None)
            log.info(
                "alert incident closed: its subject is gone",
                extra={"event": "alert.dropped", "alert_id": incident.alert_id, "subject": incident.subject},
            )
        groups: dict[tuple[int, str], tuple[Alert, list[tuple[Incident, dict[str, Any]]]]] = {}
        for rule, incident in opened:
            groups.setdefault((rule.id, "firing"), (rule, []))[1].append((incident, incident.detail))
        for rule, incident, detail in pending.resolved:
            groups.setdefault((rule.id, "resolved"), (rule, []))[1].append((incident, detail))
        for (_, status), (rule, items) in groups.items():
            message = render(rule, status, items, now)
            log.warning(
                message.subject,
                extra={
                    "event": f"alert.{status}",
                    "alert_id": rule.id,
                    "type": rule.type,
                    "count": len(items),
                },
            )
            self.submit(
                Delivery(
                    rule.notify,
                    rule.target,
                    message,
                    {"alert_id": rule.id, "type": rule.type, "status": status},
                )
            )
        return len(groups)

    async def prune(self, now: int) -> int:
        async with self.ctx.db.transaction() as tx:
            return await self.repo.prune(tx, now - INCIDENT_RETENTION)


_TITLES = {
    "peer_offline": "peer offline",
    "interface_down": "interface down",
    "transfer_spike": "transfer spike",
}


def _line(rule: Alert, status: str, incident: Incident, d: dict[str, Any], now: int) -> str:
    since = incident.started_at
    if rule.type == "interface_down":
        what = f"network {d['network']} (interface {d['interface']})"
        if status == "firing":
            state = "missing" if not d.get("interface_present") else "down"
            return f"{what}: interface {state} since {_when(since)} ({_duration(now - since)})"
        return f"{what}: interface up again after {_duration(now - since)}"
    who = f"peer {d['peer']} of network {d['network']} (public key {d['public_key']})"
    if rule.type == "peer_offline":
        if status == "firing":
            return f"{who}: offline since {_when(since)}, last handshake {_when(d.get('last_handshake'))}"
        return f"{who}: back online after {_duration(now - since)} offline"
    if status == "firing":
        return f"{who}: {d.get('bytes_this_hour', 0)} bytes this hour (threshold {rule.threshold} bytes/hour)"
    return f"{who}: {d.get('bytes_last_hour', 0)} bytes in the last full hour, below {rule.threshold}"


def render(rule: Alert, status: str, items: list[tuple[Incident, dict[str, Any]]], now: int) -> Message:
    """The notice for one rule's incidents opened (``firing``) or closed (``resolved``)."""
    title = _TITLES.get(rule.type, rule.type)
    first = items[0][1]
    if len(items) == 1:
        name = first.get("peer") or first.get("network")
        where = f" ({first['network']})" if "peer" in first else ""
        summary = f"{title}: {name}{where}"
    else:
        summary = f"{title}: {len(items)} {'networks' if rule.type == 'interface_down' else 'peers'}"
    subject = f"[wgpilot] {'RESOLVED' if status == 'resolved' else 'FIRING'} {summary}"
    lines = [_line(rule, status, inc, d, now) for inc, d in items]
    text = "\n".join(
        [
            f"wgpilot alert #{rule.id} ({rule.type}, threshold {rule.threshold}) is {status}.",
            "",
            *lines,
            "",
            f"Time: {_when(now)}",
        ]
    )
    document = {
        "status": status,
        "alert": {"id": rule.id, "type": rule.type, "threshold": rule.threshold},
        "summary": summary,
        "timestamp": now,
        "incidents": [
            {
                "subject": inc.subject,
                "started_at": inc.started_at,
                **({"resolved_at": now} if status == "resolved" else {}),
                **d,
            }
            for inc, d in items
        ],
    }
    return Message(subject, text + "\n", document)
