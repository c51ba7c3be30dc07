"""Edge's body limit holds whatever the headers claim: a body that grows past the limit
is refused even when Content-Length promised a small one (a server that lets
Transfer-Encoding win over Content-Length would deliver it)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from wgpilot.web.middleware import Edge


async def reader(scope: Scope, receive: Receive, send: Send) -> None:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"read": size}).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


async def call(
    headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    edge = Edge(reader, allowed_hosts=lambda: ({"localhost"}, False), body_limit=lambda path: 1000)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/networks",
        "headers": [(b"host", b"localhost"), (b"origin", b"https://localhost"), *headers],
        "client": ("127.0.0.1", 1),
    }
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await edge(scope, receive, send)
    start = sent[0]
    return start["status"], json.loads(sent[-1]["body"]), dict(start["headers"])


async def test_a_body_past_the_limit_is_refused_whatever_content_length_said() -> None:
    status, body, headers = await call([(b"content-length", b"10")], [b"x" * 600, b"x" * 600])
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert headers[b"cache-control"] == b"no-store" and b"content-security-policy" in headers


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, body, _ = await call([(b"content-length", b"5000")], [b"x"])
    assert status == 413 and "larger than 1000 bytes" in body["error"]["message"]


async def test_bodies_within_the_limit_pass_with_the_security_headers() -> None:
    status, body, headers = await call([], [b"x" * 400, b"x" * 400])
    assert status == 200 and body == {"read": 800}
    assert headers[b"x-frame-options"] == b"DENY" and headers[b"cache-control"] == b"no-store"


async def test_a_content_length_in_other_digits_is_a_400() -> None:
    # b"\xb2" is "²" in latin-1, as header bytes are decoded: isdigit() said yes, int() raised.
    for value in (b"\xb2", b"1\xb9", b"1_0", b"-1", b""):
        status, body, _ = await call([(b"content-length", value)], [b"x"])
        assert status == 400 and body["error"]["code"] == "BAD_REQUEST", value
