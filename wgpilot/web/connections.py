"""Connections of the HTTPS listener: which are taken, and how long one may keep the
server waiting. uvicorn bounds neither (asyncio's 60 s for a TLS handshake; after it,
a connection that sends nothing, or half a request, stays open until its client
leaves), so the listener admits each connection itself and the HTTP protocol times
every phase in which the server waits for the client.

Contract (``Limits``, from the ``http.*`` settings):

- A connection counts from accept to close against ``max_connections`` in all and
  ``max_per_client`` for its client (``client_key``: an IPv4 address, an IPv6 /64).
  The machine's own connections (loopback) count but are never refused for the total,
  so its health probe gets through however full the server is.
- A connection over a cap is refused with an answer: after its handshake, its request
  gets 429 TOO_MANY_CONNECTIONS (its client is at its cap) or 503 SERVER_BUSY (the
  server is), with Retry-After and Connection: close. At most REFUSING_PER_CLIENT such
  answers per client, REFUSING_TOTAL in all, are in progress at once; a connection past
  those is closed unanswered.
- The TLS handshake ends within ``header_timeout`` seconds of accept, and a request's
  head within ``header_timeout`` of its first byte (else 408 and close; more bytes do
  not extend it).
- A request's body arrives whole within ``body_seconds`` of the end of its head:
  ``header_timeout`` plus its Content-Length at MIN_BODY_RATE, at most MAX_BODY_SECONDS;
  without a length, ``header_timeout`` + CHUNKED_BODY_SECONDS. It closes earlier when no
  byte of it arrives for ``idle_timeout``. Dripping bytes extends neither. While the
  application holds the body up (uvicorn stopped reading because it has not taken what
  came), neither runs, and the client gets its whole time again after.
- A request answered before its body is in (a 401, a 413) closes its connection: the
  rest is not read and discarded (that would last as long as the client sends).
- A connection with no request in progress (before its first, or between two: uvicorn's
  keep-alive timer, set to the same) closes after ``idle_timeout``.
- A request that is being answered is not timed here (an event stream ends at
  ``monitor.stream_max_age``).

Seams: uvicorn's ``Config(http=<protocol class>)`` takes ``GuardedH11``, a subclass of
uvicorn's own ``H11Protocol``: it reads h11's public connection state, and relies on
these uvicorn internals, which pyproject.toml pins to the tested range and
tests/unit/web/test_connections.py checks: the constructor's ``config``,
``server_state`` and ``app_state``; the attributes ``conn``, ``flow.read_paused``,
``headers``, ``timeout_keep_alive``, ``app``, ``transport`` and ``loop``; the methods
``connection_made``, ``data_received``, ``connection_lost`` and ``on_response_complete``.
(A protocol of our own driving h11 would not end that: uvicorn's server builds, tracks
and shuts down its protocols through the same internals; only a server of our own would.)
The listening socket is served by ``TlsListener`` through asyncio's
``connect_accepted_socket`` (its handshake timeout), beside uvicorn's own start-up and
shutdown (web/server.py).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import h11
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from wgpilot.domain.clients import client_key, is_loopback

log = logging.getLogger(__name__)

REFUSING_PER_CLIENT = 4
REFUSING_TOTAL = 64
RETRY_AFTER = 10  # seconds, in refusals
WARN_EVERY = 60.0  # at most one warning about refusals per this many seconds
_ACCEPT_PAUSE = 0.5  # out of file descriptors: wait before accepting again
MIN_BODY_RATE = 16 * 1024  # bytes per second a request body must average (128 kbit/s)
MAX_BODY_SECONDS = 3600  # however long a body says it is (a 256 MiB restore at >= 73 KB/s)
CHUNKED_BODY_SECONDS = 60  # a body of unknown length, after header_timeout: up to ~1 MiB


@dataclass(frozen=True)
class Limits:
    max_connections: int = 256
    max_per_client: int = 32
    header_timeout: int = 10
    idle_timeout: int = 30


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "fields": []}}).encode()


@dataclass(frozen=True)
class Refusal:
    """The answer to every request on a refused connection (an ASGI app)."""

    status: int
    code: str
    message: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = _error_body(self.code, self.message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Ticket:
    """One admitted connection's place in the counts; ``release`` gives it back, once."""

    __slots__ = ("_admission", "_open", "key", "refusal")

    def __init__(self, admission: Admission, key: str, refusal: Refusal | None) -> None:
        self._admission = admission
        self.key = key
        self.refusal = refusal
        self._open = True

    def release(self) -> None:
        if self._open:
            self._open = False
            self._admission._release(self.key, self.refusal is not None)


def _take(counter: Counter[str], key: str) -> None:
    if counter[key] <= 1:
        counter.pop(key, None)  # no entry left behind per client that ever connected
    else:
        counter[key] -= 1


class Admission:
    """Open connections per client and in all; refused ones being answered, likewise."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.open: Counter[str] = Counter()
        self.total = 0
        self.refusing: Counter[str] = Counter()
        self.refusing_total = 0
        self._warned_at = float("-inf")
        self._refused = 0

    def admit(self, ip: str) -> Ticket | None:
        """A ticket (``refusal`` set when over a cap), or None: close without an answer."""
        key = client_key(ip)
        refusal: Refusal | None = None
        if self.open[key] >= self.limits.max_per_client:
            refusal = Refusal(
                429,
                "TOO_MANY_CONNECTIONS",
                f"this address already has {self.limits.max_per_client} connections open to the server "
                "(http.max_connections_per_ip); close some and try again",
            )
        elif self.total >= self.limits.max_connections and not is_loopback(ip):
            refusal = Refusal(
                503,
                "SERVER_BUSY",
                f"the server has its maximum of {self.limits.max_connections} connections open "
                "(http.max_connections); try again shortly",
            )
        if refusal is None:
            self.open[key] += 1
            self.total += 1
            return Ticket(self, key, None)
        self._warn(key, refusal)
        if self.refusing[key] >= REFUSING_PER_CLIENT or self.refusing_total >= REFUSING_TOTAL:
            return None
        self.refusing[key] += 1
        self.refusing_total += 1
        return Ticket(self, key, refusal)

    def _release(self, key: str, refused: bool) -> None:
        if refused:
            _take(self.refusing, key)
            self.refusing_total -= 1
        else:
            _take(self.open, key)
            self.total -= 1

    def _warn(self, key: str, refusal: Refusal) -> None:
        self._refused += 1
        now = self.clock()
        if now - self._warned_at >= WARN_EVERY:
            log.warning(
                "connections refused",
                extra={"client": key, "code": refusal.code, "refused": self._refused, "open": self.total},
            )
            self._warned_at, self._refused = now, 0


def _timeout_response(seconds: int) -> bytes:
    body = _error_body("REQUEST_TIMEOUT", f"the request head did not arrive within {seconds} s")
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def body_seconds(limits: Limits, length: int | None) -> float:
    """How long a request body of ``length`` bytes (None: chunked, length unknown) may take
    to arrive in all, from the end of its head."""
    if length is None:
        return limits.header_timeout + CHUNKED_BODY_SECONDS
    return min(limits.header_timeout + length / MIN_BODY_RATE, MAX_BODY_SECONDS)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    # h11 has validated the framing: one Content-Length of digits, or chunked.
    if any(name == b"transfer-encoding" for name, _ in headers):
        return None
    for name, value in headers:
        if name == b"content-length":
            return int(value)
    return 0


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, with a timer on every phase in which it waits for the
    client (see the module docstring) and, on a refused connection, the refusal as
    its application. ``protocol_for`` binds the limits."""

    limits: ClassVar[Limits] = Limits()

    def __init__(self, *args: Any, ticket: Ticket | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.idle_timeout  # uvicorn's timer between requests
        self.ticket = ticket
        if ticket is not None and ticket.refusal is not None:
            self.app = cast(Any, ticket.refusal)
        self._timer: asyncio.TimerHandle | None = None
        self._phase = ""  # what the timer waits for: "idle", "head" or "body"
        self._body_budget = 0.0  # seconds the body in progress may take in all
        self._body_deadline = 0.0  # loop time by which it must be in
        self._last_input = 0.0  # loop time of the latest bytes from the client
        self._held_up = False  # the body timer last found uvicorn not reading

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("idle", self.limits.idle_timeout)  # until the first request begins

    def data_received(self, data: bytes) -> None:
        self._last_input = self.loop.time()
        super().data_received(data)
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        if self.ticket is not None:
            self.ticket.release()

    def on_response_complete(self) -> None:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.SEND_BODY:
            # Answered before the body was in (a 401, a 413): close rather than read the
            # rest to discard it, which the client could make last as long as it sends.
            self.transport.close()
        super().on_response_complete()

    def _follow(self) -> None:
        """Time the phase the connection is in after new bytes arrived."""
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self.conn.trailing_data[0] and self._phase != "head":
                self._arm("head", self.limits.header_timeout)  # from the head's first byte
        elif state is h11.SEND_BODY:
            if self._phase != "body":  # the head just completed: one deadline for the body
                self._held_up = False
                self._body_budget = body_seconds(self.limits, _declared_length(self.headers))
                self._start_body()
        else:
            self._disarm()  # the request is in: answering it is the application's business

    def _start_body(self) -> None:
        self._body_deadline = self.loop.time() + self._body_budget
        self._arm_body()

    def _arm_body(self) -> None:
        # The earlier of the whole body's deadline and idle_timeout since the latest bytes
        # (a stalled body); pieces that arrive move only _last_input, never the deadline.
        due = min(self._body_deadline, self._last_input + self.limits.idle_timeout)
        self._arm("body", max(due - self.loop.time(), 0.0))

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._timer = self.loop.call_later(seconds, self._expired, phase)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._phase = ""

    def _expired(self, phase: str) -> None:
        self._timer, self._phase = None, ""
        if self.transport.is_closing():
            return
        if phase == "body":
            now = self.loop.time()
            if self.flow.read_paused or self._held_up:
                # The application has not taken the body so far (uvicorn stopped reading):
                # the wait is ours, not the client's, which gets its whole time again
                # from the first check that finds reading resumed.
                self._held_up = self.flow.read_paused
                self._last_input = now
                self._start_body()
                return
            if now < self._body_deadline and now - self._last_input < self.limits.idle_timeout:
                self._arm_body()  # bytes arrived since the timer was set
                return
        if phase == "head":
            self.transport.write(_timeout_response(self.limits.header_timeout))
        self.transport.close()


def protocol_for(limits: Limits) -> type[GuardedH11]:
    """``GuardedH11`` with these limits, for ``uvicorn.Config(http=...)``."""

    class Guarded(GuardedH11):
        pass

    Guarded.limits = limits
    return Guarded


_LISTENER_GONE = frozenset({errno.EBADF, errno.ENOTSOCK, errno.EINVAL})  # the socket itself
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_CLIENT_LEFT = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})


class TlsListener:
    """Accepts on a listening socket, admits each connection (``Admission``) and serves
    it over TLS with the protocol ``make(ticket)`` builds."""

    def __init__(
        self,
        sock: socket.socket,
        ssl_context: ssl.SSLContext,
        admission: Admission,
        make: Callable[[Ticket], asyncio.Protocol],
    ) -> None:
        self.sock = sock
        self.ssl_context = ssl_context
        self.admission = admission
        self.make = make
        self._starting: set[asyncio.Task[None]] = set()
        self._warned_at = float("-inf")
        self._failed = 0

    async def serve(self) -> None:
        """Accept until cancelled, or until the listening socket itself is gone (raises).

        accept(2) also reports errors of one pending connection (ECONNABORTED, EPROTO)
        and the network's (ENETDOWN, EHOSTUNREACH, ...): those are passed over, and so
        is a lack of descriptors or memory, after a pause (as asyncio's own loop does)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, address = await loop.sock_accept(self.sock)
            except OSError as exc:
                if exc.errno in _LISTENER_GONE:
                    raise
                self._accept_failed(exc)
                if exc.errno in _OUT_OF_RESOURCES:
                    await asyncio.sleep(_ACCEPT_PAUSE)
                continue
            ticket = self.admission.admit(str(address[0]))
            if ticket is None:
                conn.close()
                continue
            task = loop.create_task(self._start(conn, ticket))
            self._starting.add(task)
            task.add_done_callback(self._starting.discard)

    def _accept_failed(self, exc: OSError) -> None:
        if exc.errno in _CLIENT_LEFT:
            log.debug("a connection left before it was accepted", extra={"error": exc.strerror})
            return
        self._failed += 1
        now = self.admission.clock()
        if now - self._warned_at >= WARN_EVERY:
            log.warning("cannot accept connections", extra={"error": exc.strerror, "failures": self._failed})
            self._warned_at, self._failed = now, 0

    async def _start(self, conn: socket.socket, ticket: Ticket) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.admission.limits.header_timeout
        try:
            await loop.connect_accepted_socket(
                lambda: self.make(ticket),
                conn,
                ssl=self.ssl_context,
                ssl_handshake_timeout=timeout,
                ssl_shutdown_timeout=timeout,
            )
        except OSError as exc:  # the handshake failed or timed out (ssl.SSLError is an OSError)
            ticket.release()
            log.debug("TLS handshake failed", extra={"client": ticket.key, "error": str(exc)[:200]})
        except BaseException:
            ticket.release()
            conn.close()
            raise

    def close(self) -> None:
        """Drop the connections still in their handshake (the server is stopping)."""
        for task in list(self._starting):
            task.cancel()
