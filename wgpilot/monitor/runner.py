"""``Monitor``: the poller, SSE hub, history, metrics and alerts of one process, and
the loops that drive them inside ``wgpilot serve``.

    monitor = Monitor(ctx, settings)
    daemon.add_task("monitor", monitor.run)
    daemon.stop_callbacks.append(monitor.stop)
    state.monitor = monitor
    app = create_app(state, record=monitor.metrics.record_request)

One poll loop does everything in order: poll → publish changes → evaluate alerts →
store a snapshot when one is due.

Every change a service announces (``ctx.changed``: peers or networks added, removed,
edited, a restore) goes to the live streams at once as a ``changed`` event, whatever
the entry point (API, the CLI through the control socket, the expiry job). A write
this process was not told of — another process on the same database, which the CLI
avoids by going through a running server — shows up in the poller's comparison of
database rows (a network's at every poll, its peers' when their directory is re-read,
at least every minute) and is announced the same way. Compaction runs in its own loop (at start-up, then
hourly — which includes the daily roll-ups) so a big backlog never delays a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from wgpilot.config import Settings
from wgpilot.domain import validate
from wgpilot.domain.errors import NotFoundError
from wgpilot.domain.models import Actor
from wgpilot.monitor.alerts import AlertEngine
from wgpilot.monitor.health import DbProbe, health_doc
from wgpilot.monitor.history import History
from wgpilot.monitor.hub import ALL, Hub, Subscription
from wgpilot.monitor.metrics import Metrics
from wgpilot.monitor.notify import (
    Channel,
    Delivery,
    DeliveryError,
    Dispatcher,
    EmailChannel,
    Message,
    WebhookChannel,
)
from wgpilot.monitor.poller import Changes, Poller
from wgpilot.monitor.state import LiveState, NetworkLive
from wgpilot.services.context import Context

log = logging.getLogger(__name__)

HEARTBEAT = 15.0
COMPACT_EVERY = 3600.0
COMPACT_OFFSET = 30.0  # seconds past the hour: the hour's last tick is written by then
EARLY_DELAY = 0.25  # seconds after a change before the early poll (the reconciler goes first)
EARLY_GAP = 1.0  # at most one early poll per this many seconds
INLINE_STATUS = 2000  # peers; a bigger /api/status body is built in a worker thread


class Monitor:
    def __init__(
        self,
        ctx: Context,
        settings: Settings,
        *,
        started_at: float | None = None,
        channels: dict[str, Channel] | None = None,
        backoff: tuple[float, ...] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.ctx = ctx
        self.poll_interval = float(settings["monitor.poll_interval"])
        self.snapshot_interval = float(settings["monitor.snapshot_interval"])
        threshold = float(settings["monitor.online_threshold"])
        self.started_at = time.time() if started_at is None else started_at
        self.heartbeat_interval = HEARTBEAT
        self.poller = Poller(ctx, online_threshold=threshold)
        self.hub = Hub(
            self._network,
            clock=ctx.clock,
            everything=lambda: self.poller.state.networks,
            max_age=float(settings["monitor.stream_max_age"]),
            max_subscribers=int(settings["monitor.max_streams"]),
            max_per_client=int(settings["monitor.max_streams_per_ip"]),
        )
        self.history = History(ctx.db, clock=ctx.clock, interval=self.snapshot_interval)
        self.metrics = Metrics(lambda: self.poller.state, subscribers=self.hub.subscribers)
        self.email = EmailChannel(ctx)
        kwargs: dict[str, Any] = {
            "sleep": sleep,
            "on_result": self._delivery_result,
            "on_attempt": self._delivery_attempt,
        }
        if backoff is not None:
            kwargs["backoff"] = backoff
        self.dispatcher = Dispatcher(channels or {"email": self.email, "webhook": WebhookChannel()}, **kwargs)
        self.alerts = AlertEngine(ctx, self.dispatcher.submit, online_threshold=threshold)
        self.probe = DbProbe(ctx.db, ttl=min(5.0, self.poll_interval))
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._early = asyncio.Event()  # a network or its peers changed: poll soon
        self._announced: set[int | None] = set()  # networks ctx.changed told of since the last poll

    # -- lifecycle ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until ``stop()`` (or cancellation); the daemon's task."""
        self.attach()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._poll_loop(), name="monitor-poll")
                tg.create_task(self._heartbeat_loop(), name="monitor-heartbeat")
                tg.create_task(self._compact_loop(), name="monitor-compact")
        finally:
            self.detach()
            self.hub.close()
            await self.dispatcher.close()

    def attach(self) -> None:
        """Listen to ``ctx.changed`` (peer names, alert rules, restores); ``run`` does this."""
        if self._on_change not in self.ctx.listeners:
            self.ctx.listeners.append(self._on_change)

    def detach(self) -> None:
        with contextlib.suppress(ValueError):
            self.ctx.listeners.remove(self._on_change)

    def stop(self) -> None:
        """Ask the loops to finish; ends every SSE stream now so the web server's
        graceful shutdown is not held open by them."""
        self._stop.set()
        self.hub.close()

    async def _sleep_or_stop(self, seconds: float) -> bool:
        """Wait ``seconds``; True when stop was requested meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, seconds))
        return self._stop.is_set()

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = loop.time()
            self._early.clear()
            await self.tick()
            due = started + self.poll_interval
            while not self._stop.is_set() and loop.time() < due:
                # A change (new peer, disabled network) is shown after EARLY_DELAY, once
                # the reconciler has applied it, instead of up to a whole interval later;
                # bursts of changes still cost at most one extra poll per EARLY_GAP.
                waiters = [
                    asyncio.ensure_future(self._early.wait()),
                    asyncio.ensure_future(self._stop.wait()),
                ]
                try:
                    await asyncio.wait(
                        waiters, timeout=max(0.0, due - loop.time()), return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for w in waiters:
                        w.cancel()
                if self._early.is_set():
                    due = min(due, max(loop.time() + EARLY_DELAY, started + EARLY_GAP))
                    self._early.clear()
            if self._stop.is_set():
                return

    async def _heartbeat_loop(self) -> None:
        while not await self._sleep_or_stop(self.heartbeat_interval):
            try:
                self.hub.heartbeat()
            except Exception:  # never let a helper loop take the server down
                log.exception("heartbeat failed")

    async def _compact_loop(self) -> None:
        while not self._stop.is_set():
            await self.compact()
            now = self.ctx.clock()
            wait = COMPACT_EVERY - (now % COMPACT_EVERY) + COMPACT_OFFSET
            if await self._sleep_or_stop(wait):
                return

    # -- one round ----------------------------------------------------------------------------------
    async def tick(self) -> Changes:
        """One poll with everything that follows it. Never raises: a failure is logged
        and counted, and the next poll tries again."""
        announced, self._announced = self._announced, set()
        try:
            state, changes = await self.poller.poll()
        except Exception:
            log.exception("poll failed")
            self.metrics.poll_errors.inc()
            return {}
        finally:
            self._ready.set()  # readers stop waiting for a first poll, failed or not
        self.metrics.poll_duration.observe(state.poll_seconds)
        try:
            for network_id, changed in changes.items():
                await self.hub.publish(network_id, changed)
            if None not in announced:
                for network_id, kind in self.poller.edited.items():
                    if network_id not in announced:  # written by another process
                        self.hub.changed(kind, network_id)
        except Exception:
            log.exception("publishing live status failed")
        try:
            await self.alerts.evaluate(state)
        except Exception:
            log.exception("alert evaluation failed")
        if self.history.due():
            try:
                await self.history.snapshot(state.networks)
                self.metrics.snapshot_duration.observe(self.history.last_tick_seconds)
            except Exception:
                log.exception("snapshot failed")
        return changes

    async def compact(self) -> None:
        try:
            await self.history.compact()
            await self.alerts.prune(int(self.ctx.clock()))
        except Exception:
            log.exception("history compaction failed")

    def _on_change(self, kind: str, network_id: int | None) -> None:
        if kind in ("peers", "networks"):
            self.poller.invalidate(network_id)
            self._early.set()
        elif kind == "restore":
            self.poller.invalidate(None)
            self.alerts.invalidate()
            self._early.set()
        elif kind == "alerts":
            self.alerts.invalidate()
        if kind in ("peers", "networks", "restore"):
            self._announced.add(None if kind == "restore" else network_id)
            self.hub.changed(kind, None if kind == "restore" else network_id)

    def _delivery_result(self, channel: str, result: str) -> None:
        self.metrics.alert_deliveries.labels(channel, result).inc()

    async def _delivery_attempt(self, d: Delivery, outcome: str, error: str | None, attempt: int) -> None:
        """Keep the outcome of a rule's latest notice (the Alerts page shows a failure)."""
        alert_id = d.context.get("alert_id")
        if not isinstance(alert_id, int):
            return
        async with self.ctx.db.transaction() as tx:
            await self.alerts.repo.record_delivery(
                tx, alert_id, status=outcome, attempts=attempt, error=error, at=self.ctx.now()
            )

    def _network(self, network_id: int) -> NetworkLive | None:
        return self.poller.state.network(network_id)

    # -- what the web layer asks for ----------------------------------------------------------------
    @property
    def state(self) -> LiveState:
        return self.poller.state

    async def _first_poll(self) -> None:
        """Right after start-up, wait (briefly) for the first poll instead of answering empty."""
        if not self._ready.is_set() and self.poller.polls == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout=self.poll_interval)

    async def status(self) -> dict[str, Any]:
        """The body of ``GET /api/status``."""
        await self._first_poll()
        state = self.poller.state
        if sum(len(n.peers) for n in state.networks) > INLINE_STATUS:
            return await asyncio.to_thread(state.as_dict)  # immutable state: safe in a thread
        return state.as_dict()

    async def health(self) -> dict[str, Any]:
        """The body of ``GET /health``."""
        await self._first_poll()
        now = time.time()
        return health_doc(
            self.poller.state,
            database_ok=await self.probe.ok(),
            uptime=now - self.started_at,
            now=self.ctx.clock(),
            poll_interval=self.poll_interval,
        )

    async def subscribe(self, network_id: int, client: str | None = None) -> Subscription:
        """A live stream of one network's peer status (``GET /api/networks/{id}/events``):
        iterate it, or hand ``sub.sse()`` to sse-starlette's EventSourceResponse. ``client``
        counts it against the per-client cap (see hub.py)."""
        if await self.ctx.networks.get(self.ctx.db, network_id) is None:
            raise NotFoundError(f"network {network_id} does not exist", code="NETWORK_NOT_FOUND")
        await self._first_poll()  # right after start-up: a real snapshot, not an empty one
        return self.hub.subscribe(network_id, client)

    async def subscribe_all(self, client: str | None = None) -> Subscription:
        """One live stream for every network (``GET /api/events``): the snapshot holds all
        peers, each with its ``network_id``, then every network's changes."""
        await self._first_poll()
        return self.hub.subscribe(ALL, client)

    async def stats(
        self,
        network_id: int,
        *,
        start: int | None = None,
        end: int | None = None,
        granularity: str = "hour",
        peer_id: int | None = None,
    ) -> dict[str, Any]:
        """The body of ``GET /api/networks/{id}/stats``: bytes transferred per bucket."""
        if await self.ctx.networks.get(self.ctx.db, network_id) is None:
            raise NotFoundError(f"network {network_id} does not exist", code="NETWORK_NOT_FOUND")
        if (
            peer_id is not None
            and await self.ctx.peers.get_in_network(self.ctx.db, network_id, peer_id) is None
        ):
            raise NotFoundError(
                f"peer {peer_id} does not exist in network {network_id}", code="PEER_NOT_FOUND"
            )
        return await self.history.series(
            network_id, start=start, end=end, granularity=granularity, peer_id=peer_id
        )

    async def render_metrics(self) -> bytes:
        """Prometheus exposition text (``Content-Type: wgpilot.monitor.metrics.CONTENT_TYPE``)."""
        return await self.metrics.render()

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.metrics.record_request(method, route, status, seconds)

    async def send_test_mail(self, to: str | None, actor: Actor) -> dict[str, Any]:
        """``POST /api/settings/smtp/test``: one mail now, no retries; ``{ok, message}``."""
        recipient = (validate.email(to, "to") or "") if to else ""
        message = Message(
            "[wgpilot] test message",
            "This is a test message from wgpilot. SMTP delivery works.\n",
            {"status": "test"},
        )
        try:
            await self.email.send(recipient, message)
            result = {"ok": True, "message": f"sent to {recipient or 'the alert_email address'}"}
        except DeliveryError as exc:
            result = {"ok": False, "message": str(exc)}
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit.record(
                tx,
                actor,
                "settings.smtp_test",
                "settings",
                {"to": recipient or None, "ok": result["ok"]},
                now,
            )
        return result
