"""Admission of HTTPS connections and the protocol's timers, without sockets (the listener
and the timers' seconds are exercised against a real ``wgpilot serve`` in
tests/system/test_connections.py)."""

from __future__ import annotations

import asyncio
import errno
import inspect
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

import h11
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from wgpilot.web import connections
from wgpilot.web.connections import (
    CHUNKED_BODY_SECONDS,
    MAX_BODY_SECONDS,
    MIN_BODY_RATE,
    REFUSING_PER_CLIENT,
    REFUSING_TOTAL,
    Admission,
    GuardedH11,
    Limits,
    Refusal,
    Ticket,
    TlsListener,
    body_seconds,
    protocol_for,
)


def test_a_client_over_its_cap_gets_a_429_ticket_and_ipv6_counts_per_64() -> None:
    adm = Admission(Limits(max_connections=100, max_per_client=2))
    held = [adm.admit("2001:db8:1::1"), adm.admit("2001:db8:1::2")]
    assert all(t is not None and t.refusal is None for t in held)
    over = adm.admit("2001:db8:1::ffff")
    assert over is not None and over.refusal is not None
    assert (over.refusal.status, over.refusal.code) == (429, "TOO_MANY_CONNECTIONS")
    other = adm.admit("2001:db8:2::1")
    assert other is not None and other.refusal is None
    assert adm.open["2001:db8:1::/64"] == 2 and adm.total == 3


def test_the_total_cap_is_a_503_except_for_loopback() -> None:
    adm = Admission(Limits(max_connections=2, max_per_client=10))
    assert adm.admit("192.0.2.1") and adm.admit("192.0.2.2")
    over = adm.admit("192.0.2.3")
    assert over is not None and over.refusal is not None and over.refusal.status == 503
    local = adm.admit("::ffff:127.0.0.1")
    assert local is not None and local.refusal is None  # the machine's own health probe


def test_refusals_being_answered_are_bounded_then_closed_unanswered() -> None:
    adm = Admission(Limits(max_connections=1000, max_per_client=1))
    assert adm.admit("192.0.2.1")
    refused = [adm.admit("192.0.2.1") for _ in range(REFUSING_PER_CLIENT)]
    assert all(t is not None and t.refusal is not None for t in refused)
    assert adm.admit("192.0.2.1") is None
    refused[0].release()  # type: ignore[union-attr]
    assert adm.admit("192.0.2.1") is not None
    crowd = Admission(Limits(max_connections=1, max_per_client=1000))
    assert crowd.admit("192.0.2.1")
    answered = [crowd.admit(f"198.51.100.{i}") for i in range(REFUSING_TOTAL)]
    assert all(t is not None for t in answered)
    assert crowd.admit("198.51.100.250") is None


def test_release_gives_the_place_back_once_and_leaves_no_entry() -> None:
    adm = Admission(Limits(max_connections=10, max_per_client=1))
    ticket = adm.admit("192.0.2.1")
    assert ticket is not None
    ticket.release()
    ticket.release()
    assert adm.total == 0 and not adm.open
    again = adm.admit("192.0.2.1")
    assert again is not None and again.refusal is None


async def test_a_refusal_answers_with_retry_after_and_connection_close() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await Refusal(429, "TOO_MANY_CONNECTIONS", "too many")({}, None, send)  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])  # type: ignore[call-overload]
    assert sent[0]["status"] == 429 and headers[b"connection"] == b"close" and b"retry-after" in headers
    assert json.loads(sent[1]["body"])["error"]["code"] == "TOO_MANY_CONNECTIONS"  # type: ignore[arg-type]


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.reading = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("192.0.2.7", 5000), "sockname": ("192.0.2.1", 443)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


async def never(scope: object, receive: object, send: object) -> None:
    await asyncio.Event().wait()  # an application that takes its time


async def unauthorized(scope: object, receive: Any, send: Any) -> None:
    # Answers at once without reading the body (as the auth check does).
    await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def reads_then_answers(scope: object, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


class Handle:
    def __init__(self, when: float, callback: Callable[..., object], args: tuple[object, ...]) -> None:
        self._when, self.callback, self.args = when, callback, args
        self.cancelled = False

    def when(self) -> float:
        return self._when

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """The protocol's loop for its timers, on a clock the test moves; tasks still run on
    the real loop."""

    def __init__(self, real: asyncio.AbstractEventLoop) -> None:
        self.real = real
        self.now = 1000.0
        self.handles: list[Handle] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., object], *args: object) -> Handle:
        handle = Handle(self.now + delay, callback, args)
        self.handles.append(handle)
        return handle

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        return self.real.create_task(coro, **kwargs)

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing the timers that fall due, in order."""
        self.now += seconds
        while due := sorted(
            (h for h in self.handles if not h.cancelled and h.when() <= self.now), key=Handle.when
        ):
            due[0].cancelled = True
            due[0].callback(*due[0].args)


TIMERS = Limits(header_timeout=7, idle_timeout=9)


def guarded(
    app: Any = never, limits: Limits = TIMERS, ticket: Ticket | None = None
) -> tuple[GuardedH11, FakeTransport, ManualClock]:
    config = uvicorn.Config(app, http=protocol_for(limits), lifespan="off")
    config.load()
    proto = config.http_protocol_class(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}, ticket=ticket
    )
    assert isinstance(proto, GuardedH11)
    clock = ManualClock(asyncio.get_running_loop())
    proto.loop = clock  # type: ignore[assignment]
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport, clock


def cancel_tasks(proto: GuardedH11) -> None:
    for task in proto.tasks:
        task.cancel()


async def test_each_wait_for_the_client_has_its_timer() -> None:
    proto, transport, clock = guarded()
    clock.advance(8.9)
    assert not transport.closed  # connected, nothing sent: idle until 9 s
    clock.advance(0.2)
    assert transport.closed and transport.written == b""
    proto, transport, clock = guarded()
    proto.data_received(b"GET /health HTTP/1.1\r\n")
    clock.advance(6)
    proto.data_received(b"Host: x\r\n")  # more bytes of the head do not extend its deadline
    clock.advance(1.1)
    assert transport.written.startswith(b"HTTP/1.1 408 ") and transport.closed
    assert b"REQUEST_TIMEOUT" in transport.written


async def test_a_trickled_body_is_closed_at_its_deadline_while_it_still_drips() -> None:
    # Each piece arrives well within idle_timeout, yet the body as a whole has a deadline.
    proto, transport, clock = guarded(limits=Limits(header_timeout=1, idle_timeout=1))
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    sent = 0
    while not transport.closed and sent < 99:
        clock.advance(0.6)
        if not transport.closed:
            proto.data_received(b"a")
            sent += 1
    assert transport.closed and sent < 99, sent  # closed with bytes still to send
    assert sent * 0.6 <= body_seconds(Limits(header_timeout=1), 100)  # not before its deadline
    cancel_tasks(proto)


def test_a_body_has_header_timeout_plus_its_length_at_the_minimum_rate() -> None:
    limits = Limits(header_timeout=10)
    assert body_seconds(limits, 0) == 10
    assert body_seconds(limits, 10 * MIN_BODY_RATE) == 20
    assert body_seconds(limits, 1 << 40) == MAX_BODY_SECONDS  # capped however long it says it is
    assert body_seconds(limits, None) == 10 + CHUNKED_BODY_SECONDS  # no length declared


async def test_a_stalled_body_closes_unless_the_application_holds_it_up() -> None:
    proto, transport, clock = guarded()  # idle 9 s; a 1 MB body may take 7 + 64 s
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{")
    clock.advance(8)
    proto.data_received(b"a")  # still coming: not stalled
    clock.advance(8)
    assert not transport.closed
    clock.advance(1.1)  # 9 s without a byte
    assert transport.closed and transport.written == b""
    cancel_tasks(proto)

    proto, transport, clock = guarded()
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{")
    proto.flow.pause_reading()  # uvicorn stopped reading: the application has not taken the body
    clock.advance(200)  # past the stall timer and the whole body's deadline
    assert not transport.closed
    proto.flow.resume_reading()
    clock.advance(9)
    assert not transport.closed  # the client has its time again once reading resumed
    clock.advance(9.1)
    assert transport.closed and transport.written == b""
    cancel_tasks(proto)


async def test_an_answer_before_the_body_is_in_closes_the_connection_at_once() -> None:
    proto, transport, _ = guarded(unauthorized)
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    await asyncio.wait(proto.tasks)
    # Not read to the end and discarded: that would let the client keep it open while it sends.
    assert transport.written.startswith(b"HTTP/1.1 401 ") and transport.closed


async def test_a_request_read_whole_keeps_its_connection_for_the_next() -> None:
    proto, transport, clock = guarded(reads_then_answers)
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{")
    proto.data_received(b"}")
    await asyncio.wait(proto.tasks)
    assert transport.written.startswith(b"HTTP/1.1 200 ") and not transport.closed
    clock.advance(100)  # the body timer went with the body; the keep-alive timer is uvicorn's
    assert transport.closed


async def test_the_uvicorn_internals_the_guard_relies_on_are_there() -> None:
    """GuardedH11 subclasses uvicorn's H11Protocol (connections.py names what it uses;
    pyproject.toml pins the range tested): a uvicorn without these fails here, not in
    production."""
    assert {"config", "server_state", "app_state"} <= set(inspect.signature(H11Protocol).parameters)
    for method in ("connection_made", "data_received", "connection_lost", "on_response_complete"):
        assert method in vars(H11Protocol), method
    proto, transport, clock = guarded(limits=Limits(idle_timeout=9))
    assert isinstance(proto.conn, h11.Connection) and proto.transport is transport
    assert proto.loop is clock and proto.timeout_keep_alive == 9
    assert proto.flow.read_paused is False
    proto.flow.pause_reading()
    assert proto.flow.read_paused is True and not transport.reading
    proto.flow.resume_reading()
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    assert (b"content-length", b"5") in proto.headers  # the request's head, names lowercased
    # uvicorn's keep-alive timer after an answer is the one we set (idle_timeout).
    cancel_tasks(proto)
    proto, transport, clock = guarded(reads_then_answers, Limits(idle_timeout=9))
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait(proto.tasks)
    clock.advance(8.9)
    assert not transport.closed
    clock.advance(0.2)
    assert transport.closed
    # A refused connection's ticket replaces the application (``app``).
    ticket = Admission(Limits(max_per_client=0)).admit("192.0.2.7")
    assert ticket is not None and ticket.refusal is not None
    proto, transport, clock = guarded(reads_then_answers, ticket=ticket)
    proto.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait(proto.tasks)
    assert transport.written.startswith(b"HTTP/1.1 429 ") and transport.closed


class ScriptedSocket(socket.socket):
    """A listening socket whose accept() first raises the given errors, as accept(2)
    reports those of a pending connection or of the network."""

    def __init__(self, errors: list[int]) -> None:
        super().__init__(socket.AF_INET, socket.SOCK_STREAM)
        self.errors = [OSError(e, os.strerror(e)) for e in errors]
        self.bind(("127.0.0.1", 0))
        self.listen()
        self.setblocking(False)

    def accept(self) -> tuple[socket.socket, Any]:
        if self.errors:
            raise self.errors.pop(0)
        return super().accept()


def listener_on(sock: socket.socket) -> tuple[TlsListener, Admission]:
    admission = Admission(Limits())
    made: Callable[[Ticket], asyncio.Protocol] = lambda ticket: asyncio.Protocol()  # noqa: E731
    return TlsListener(sock, ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), admission, made), admission


TRANSIENT = [
    errno.ENETDOWN, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENONET, errno.EOPNOTSUPP,
    errno.EHOSTDOWN, errno.ENOPROTOOPT, errno.EPROTO, errno.ECONNABORTED, errno.EPERM,
    errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ETIMEDOUT,
]  # fmt: skip


async def test_accept_errors_of_a_connection_or_the_network_are_passed_over(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(connections, "_ACCEPT_PAUSE", 0.0)
    sock = ScriptedSocket(TRANSIENT)
    listener, admission = listener_on(sock)
    caplog.set_level(logging.DEBUG, logger=connections.__name__)
    accepting = asyncio.create_task(listener.serve())
    _, writer = await asyncio.open_connection(*sock.getsockname())
    try:
        async with asyncio.timeout(10):  # a hang guard only
            while admission.total == 0:
                assert not accepting.done(), accepting.exception()
                await asyncio.sleep(0.01)
        assert not sock.errors  # every error was met, and the connection after them admitted
        # One warning for the burst (at most one per WARN_EVERY); a client that left is no warning.
        warned = [r for r in caplog.records if r.getMessage() == "cannot accept connections"]
        assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    finally:
        writer.close()
        listener.close()
        accepting.cancel()
        sock.close()


@pytest.mark.parametrize("gone", [errno.EBADF, errno.ENOTSOCK, errno.EINVAL])
async def test_accept_ends_when_the_listening_socket_itself_is_gone(gone: int) -> None:
    sock = ScriptedSocket([gone])
    listener, _ = listener_on(sock)
    try:
        with pytest.raises(OSError) as err:
            await listener.serve()
        assert err.value.errno == gone
    finally:
        sock.close()
