from __future__ import annotations

import asyncio

from wgpilot.tls.acme_client import ChallengeStore
from wgpilot.tls.http01 import HttpServer, respond


def _store() -> ChallengeStore:
    s = ChallengeStore()
    s.put("tok_en-1", "tok_en-1.thumb")
    return s


def test_challenge_answered() -> None:
    out = respond("GET", "/.well-known/acme-challenge/tok_en-1", "vpn.example", _store(), 443, "x")
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(b"\r\n\r\ntok_en-1.thumb")


def test_unknown_or_malformed_token_is_404() -> None:
    for target in ("/.well-known/acme-challenge/nope", "/.well-known/acme-challenge/../../etc/passwd"):
        assert respond("GET", target, "h", _store(), 443, "x").startswith(b"HTTP/1.1 404")


def test_everything_else_redirects_to_https() -> None:
    out = respond("GET", "/login?next=/", "vpn.example:80", _store(), 443, "x")
    assert b"Location: https://vpn.example/login?next=/\r\n" in out
    out = respond("POST", "/", "[2001:db8::1]:80", _store(), 8443, "x")
    assert b"Location: https://[2001:db8::1]:8443/\r\n" in out


def test_bad_host_header_uses_fallback() -> None:
    out = respond("GET", "/a", "evil.example/\x00", _store(), 443, "vpn.example")
    assert b"Location: https://vpn.example/a\r\n" in out


async def test_server_over_socket() -> None:
    server = HttpServer(_store(), lambda: 8443, lambda: "fallback")
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /.well-known/acme-challenge/tok_en-1 HTTP/1.1\r\nHost: a\r\n\r\n")
        data = await reader.read()
        writer.close()
        assert data.endswith(b"tok_en-1.thumb")
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /x HTTP/1.1\r\nHost: vpn.example\r\n\r\n")
        data = await reader.read()
        writer.close()
        assert b"Location: https://vpn.example:8443/x" in data
    finally:
        await server.close()


def test_a_trailing_newline_matches_no_token_or_host() -> None:
    # "^...$" with re.match also matched before a final "\n"; fullmatch does not.
    store = _store()
    store.put("tok\n", "smuggled")
    out = respond("GET", "/.well-known/acme-challenge/tok\n", "h", store, 443, "x")
    assert out.startswith(b"HTTP/1.1 404")
    out = respond("GET", "/a", "vpn.example\n", store, 443, "fallback.example")
    assert b"Location: https://fallback.example/a\r\n" in out
    out = respond("GET", "/a", "vpn.example:\u0664\u0664\u0663", store, 443, "fallback.example")
    assert b"Location: https://fallback.example/a\r\n" in out
