"""Admission of HTTPS connections and the protocol's timers, without sockets (the listener
and the timers' seconds are exercised against a real ``wgpilot serve`` in
tests/system/test_connections.py)."""

from __future__ import annotations

import asyncio
import json

import uvicorn
from uvicorn.server import ServerState

from wgpilot.web.connections import (
    REFUSING_PER_CLIENT,
    REFUSING_TOTAL,
    Admission,
    GuardedH11,
    Limits,
    Refusal,
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


def guarded() -> tuple[GuardedH11, FakeTransport]:
    config = uvicorn.Config(
        never, http=protocol_for(Limits(header_timeout=7, idle_timeout=9)), lifespan="off"
    )
    config.load()
    proto = config.http_protocol_class(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    assert isinstance(proto, GuardedH11)
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport


async def test_each_wait_for_the_client_has_its_timer() -> None:
    proto, transport = guarded()
    assert proto._phase == "idle"  # connected, nothing sent
    proto.data_received(b"GET /health HTTP/1.1\r\n")
    assert proto._phase == "head"
    timer = proto._timer
    proto.data_received(b"Host: x\r\n")
    assert proto._timer is timer  # more bytes of the head do not extend its deadline
    proto._expired("head")
    assert transport.written.startswith(b"HTTP/1.1 408 ") and transport.closed


async def test_a_stalled_body_closes_unless_the_application_holds_it_up() -> None:
    proto, transport = guarded()
    proto.data_received(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert proto._phase == "body"
    proto.flow.pause_reading()  # uvicorn stopped reading: the application has not taken the body
    proto._expired("body")
    assert not transport.closed and proto._phase == "body"
    proto.flow.resume_reading()
    proto._expired("body")
    assert transport.closed and transport.written == b""
    for task in proto.tasks:
        task.cancel()
