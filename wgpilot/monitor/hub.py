"""Fan-out of live peer status to SSE clients.

Every client of a network shares the one poll: the poller hands each change to the
hub once, the hub encodes it to JSON once, and every subscriber queue receives the
same ``Event`` object. A subscriber gets the full snapshot of its network first,
then only changes, plus a periodic heartbeat.

Queues are bounded. A client that stops reading (its queue is full) is dropped: its
stream ends, which an EventSource answers by reconnecting and receiving a fresh
snapshot — correct again, and without slowing anybody else down. A client that
disconnects is released by the ``finally`` of its generator (the SSE response
cancels it).

    sub = hub.subscribe(network_id, client)    # may raise RateLimitedError, UnavailableError
    return EventSourceResponse(sub.sse())      # {"event": ..., "data": json}

Streams are capped per client (``max_per_client``, ``client`` being web's key for the
address; None is not counted per client): RateLimitedError, 429; and in all
(``max_subscribers``): UnavailableError SERVER_BUSY, 503, as for connections. A stream
counts from ``subscribe`` until it ends, or until it is dropped unstarted (a response
that never began): so a burst of requests cannot pass the check before any registers.

``hub.subscribe(ALL)`` is one stream for every network (``GET /api/events``): the
snapshot holds every network's peers, and each network's change event — the very
same encoded Event its own subscribers get — follows; peers carry ``network_id``.

Status events carry only what the poller reads from the device. That a network or
its peers changed in the database (added, removed, enabled, renamed — from the API,
the CLI through the server, the expiry job) is a separate ``changed`` event,
``{"kind": "peers" | "networks" | "restore", "network_id": id | null}``, sent to the
network's streams and the ALL streams (null: a restore, to every stream). It carries
no peer data: a page reads the changed rows through the API, as it read them first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from wgpilot.domain.errors import RateLimitedError, UnavailableError
from wgpilot.monitor.state import NetworkLive, PeerStatus

log = logging.getLogger(__name__)

QUEUE_SIZE = 64  # events a client may lag behind before it is dropped
MAX_SUBSCRIBERS = 256  # monitor.max_streams
MAX_PER_CLIENT = 16  # monitor.max_streams_per_ip
MAX_AGE = 900.0  # seconds a stream stays open (monitor.stream_max_age)
ENCODE_SLICE = 500  # peers encoded between two yields to the event loop
ALL = 0  # subscribe(ALL): every network in one stream (network ids start at 1)


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event; ``data`` is JSON text shared by every subscriber."""

    event: str  # "snapshot" | "status" | "changed" | "heartbeat"
    data: str

    def sse(self) -> dict[str, str]:
        return {"event": self.event, "data": self.data}

    def json(self) -> Any:
        return json.loads(self.data)


_CLOSE = Event("close", "{}")  # internal: ends a subscriber's stream


def _encode_peers(peers: list[PeerStatus]) -> str:
    return json.dumps({"peers": [p._asdict() for p in peers]}, separators=(",", ":"))


async def _encode(peers: list[PeerStatus]) -> str:
    """JSON of ``{"peers": [...]}``. A big list is encoded in slices with a yield between
    them: one ``json.dumps`` of 10 000 peers holds the GIL for ~20 ms in a single C call
    (a worker thread would not help: the event loop would wait for the GIL anyway)."""
    if len(peers) <= ENCODE_SLICE:
        return _encode_peers(peers)
    parts: list[str] = []
    for i in range(0, len(peers), ENCODE_SLICE):
        chunk = [p._asdict() for p in peers[i : i + ENCODE_SLICE]]
        parts.append(json.dumps(chunk, separators=(",", ":"))[1:-1])
        await asyncio.sleep(0)
    return '{"peers":[' + ",".join(parts) + "]}"


class Subscription:
    """One client's stream of events for one network."""

    def __init__(self, hub: Hub, network_id: int, client: str | None = None) -> None:
        self.hub = hub
        self.network_id = network_id
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=hub.queue_size)
        self.dropped = False
        self.deadline = asyncio.get_running_loop().time() + hub.max_age
        hub._hold(client)
        # Given back when the stream ends, or when this object goes unstarted.
        self.release = weakref.finalize(self, hub._unhold, client)
        self.release.atexit = False

    def offer(self, event: Event) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            self.hub._remove(self)
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_CLOSE)
            log.warning("slow live-event client dropped", extra={"network_id": self.network_id})

    def close(self) -> None:
        """End the stream (server shutdown)."""
        self.dropped = True
        self.hub._remove(self)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_CLOSE)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._run()

    async def _run(self) -> AsyncIterator[Event]:
        # Registration and the snapshot's state are taken in the same step, so every
        # change published afterwards is newer than the snapshot (none is lost).
        live = self.hub._register(self)
        try:
            yield await self.hub._snapshot(self.network_id, live)
            while True:
                # A stream ends at its deadline: the EventSource reconnects, which checks
                # the session again (a revoked one stops here) and starts from a snapshot.
                # (asyncio.timeout_at, not wait_for: no extra task per event.)
                try:
                    async with asyncio.timeout_at(self.deadline):
                        event = await self.queue.get()
                except TimeoutError:
                    return
                if event is _CLOSE:
                    return
                yield event
        finally:
            self.hub._remove(self)
            self.release()

    async def sse(self) -> AsyncIterator[dict[str, str]]:
        """The stream as the dicts sse-starlette's EventSourceResponse takes."""
        async for event in self:
            yield event.sse()


class Hub:
    def __init__(
        self,
        current: Callable[[int], NetworkLive | None],
        *,
        clock: Callable[[], float],
        everything: Callable[[], tuple[NetworkLive, ...]] = tuple,
        queue_size: int = QUEUE_SIZE,
        max_subscribers: int = MAX_SUBSCRIBERS,
        max_per_client: int = MAX_PER_CLIENT,
        max_age: float = MAX_AGE,
    ) -> None:
        self._current = current  # network id → its latest NetworkLive (the poller's state)
        self._everything = everything  # every network's latest NetworkLive (for ALL)
        self.clock = clock
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self.max_per_client = max_per_client
        self.max_age = max_age
        self._held = 0  # streams counted against the caps (subscribed, not yet ended)
        self._held_by: Counter[str] = Counter()
        self._subs: dict[int, set[Subscription]] = {}
        self._snapshots: dict[int, tuple[tuple[object, ...], asyncio.Task[Event]]] = {}
        self.published = 0  # change events encoded (one per network per poll with changes)

    # -- subscribers ----------------------------------------------------------------------------
    def subscribe(self, network_id: int, client: str | None = None) -> Subscription:
        """A stream for one network. It registers when first iterated, so a response that
        never starts leaks nothing."""
        if client is not None and self._held_by[client] >= self.max_per_client:
            raise RateLimitedError(
                f"this address already has {self.max_per_client} live event streams open "
                "(monitor.max_streams_per_ip); close one (a browser tab) and try again",
                retry_after=5,
            )
        if self._held >= self.max_subscribers:  # the server is full, not this client: 503
            raise UnavailableError(
                f"the server has its maximum of {self.max_subscribers} live event streams open "
                "(monitor.max_streams); try again shortly",
                code="SERVER_BUSY",
                retry_after=5,
            )
        return Subscription(self, network_id, client)

    def _hold(self, client: str | None) -> None:
        self._held += 1
        if client is not None:
            self._held_by[client] += 1

    def _unhold(self, client: str | None) -> None:
        self._held -= 1
        if client is not None:
            if self._held_by[client] <= 1:
                self._held_by.pop(client, None)
            else:
                self._held_by[client] -= 1

    def subscribers(self, network_id: int | None = None) -> int:
        if network_id is not None:
            return len(self._subs.get(network_id, ()))
        return sum(len(s) for s in self._subs.values())

    def _register(self, sub: Subscription) -> NetworkLive | tuple[NetworkLive, ...] | None:
        self._subs.setdefault(sub.network_id, set()).add(sub)
        if sub.network_id == ALL:
            return self._everything()
        return self._current(sub.network_id)

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.network_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.network_id]
                self._snapshots.pop(sub.network_id, None)

    async def _snapshot(self, network_id: int, live: NetworkLive | tuple[NetworkLive, ...] | None) -> Event:
        """The full snapshot event, encoded once per poll state however many clients join."""
        if live is None:
            return Event("snapshot", '{"peers":[]}')
        networks = live if isinstance(live, tuple) else (live,)  # a tuple for ALL
        # The peer maps themselves are the key (held, so compared by identity safely).
        key = tuple(n.peers for n in networks)
        cached = self._snapshots.get(network_id)
        if (
            cached is None
            or len(cached[0]) != len(key)
            or any(a is not b for a, b in zip(cached[0], key, strict=True))
        ):
            peers = [p for n in networks for p in n.peers.values()]

            async def build() -> Event:
                return Event("snapshot", await _encode(peers))

            cached = (key, asyncio.ensure_future(build()))
            self._snapshots[network_id] = cached
        return await asyncio.shield(cached[1])

    # -- publishing -----------------------------------------------------------------------------
    async def publish(self, network_id: int, changed: list[PeerStatus]) -> int:
        """Send the peers whose status changed to every subscriber of the network; returns
        how many subscribers got it. Nothing is encoded when nobody listens."""
        if not changed or not (self._subs.get(network_id) or self._subs.get(ALL)):
            return 0
        event = Event("status", await _encode(changed))
        self.published += 1
        targets = [*self._subs.get(network_id, ()), *self._subs.get(ALL, ())]
        for sub in targets:
            sub.offer(event)
        return len(targets)

    def changed(self, kind: str, network_id: int | None) -> int:
        """Tell the streams of ``network_id`` (and the ALL streams; every stream when
        None) that its rows changed in the database; returns how many got it."""
        if network_id is None:
            targets = [sub for subs in self._subs.values() for sub in subs]
        else:
            targets = [*self._subs.get(network_id, ()), *self._subs.get(ALL, ())]
        if not targets:
            return 0
        event = Event("changed", json.dumps({"kind": kind, "network_id": network_id}, separators=(",", ":")))
        for sub in targets:
            sub.offer(event)
        return len(targets)

    def heartbeat(self) -> None:
        if not self._subs:
            return
        event = Event("heartbeat", json.dumps({"ts": int(self.clock())}))
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.offer(event)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()
