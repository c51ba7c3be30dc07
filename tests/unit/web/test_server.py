from __future__ import annotations

import asyncio
import errno
import inspect
import socket
import ssl
import stat
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.server import ServerState

from wgpilot.domain.errors import RuntimeFailure
from wgpilot.tls.certs import make_self_signed
from wgpilot.web import server
from wgpilot.web.connections import Limits, protocol_for


def test_listening_sockets_say_tcp_so_asyncio_sets_nodelay() -> None:
    # asyncio enables TCP_NODELAY only when sock.proto == IPPROTO_TCP; without it every
    # response sent in two writes waits for a delayed ACK (~40 ms measured).
    sock = server._bind_tcp("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_accepted_connections_have_nodelay() -> None:
    sock = server._bind_tcp("127.0.0.1", 0)
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = writer.get_extra_info("socket")
        seen.append(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    srv = await asyncio.start_server(handle, sock=sock)
    port = sock.getsockname()[1]
    _, w = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    w.close()
    srv.close()
    await srv.wait_closed()
    assert seen and seen[0] != 0


def test_control_socket_is_private(tmp_path: Path) -> None:
    path = tmp_path / "wgpilot.sock"
    sock = server.bind_control(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        sock.close()


def test_fallback_to_the_next_port_when_the_first_is_taken() -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy = taken.getsockname()[1]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    fallback = probe.getsockname()[1]
    probe.close()
    try:
        sock = server.bind_https("", ports=(busy, fallback), hosts=("127.0.0.1",))
        assert sock.getsockname()[1] == fallback
        sock.close()
    finally:
        taken.close()


async def test_a_listener_that_stops_by_itself_stops_the_server_with_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    control = tmp_path / "wgpilot.sock"
    web = server.WebServer(Starlette(), ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), "127.0.0.1:0", control)
    running = asyncio.create_task(web.run())
    async with asyncio.timeout(10):  # hang guards only
        await web.listening.wait()
    https = web._servers[0]
    assert https.listener is not None
    # The listening socket goes away under the accept loop: accept(2) fails with EINVAL.
    https.listener.sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(RuntimeFailure, match="stopped accepting") as err:
        async with asyncio.timeout(20):
            await running
    assert err.value.code == "LISTENER_FAILED"
    assert isinstance(https.failure, OSError) and https.failure.errno == errno.EINVAL
    assert all(s.should_exit for s in web._servers) and not control.exists()  # both stopped
    assert any(r.getMessage().startswith("HTTPS stopped accepting") for r in caplog.records)


def test_the_uvicorn_internals_the_server_relies_on_are_there() -> None:
    """_Server subclasses uvicorn.Server (server.py names what it uses; pyproject.toml
    pins the range tested): a uvicorn without these fails here."""
    for method in ("startup", "shutdown", "serve"):
        assert "sockets" in inspect.signature(getattr(uvicorn.Server, method)).parameters, method
    assert "capture_signals" in vars(uvicorn.Server)
    config = uvicorn.Config(Starlette(), http=protocol_for(Limits()))
    config.load()
    assert config.http_protocol_class.__name__ == "Guarded"
    plain = uvicorn.Server(config)
    assert plain.should_exit is False and isinstance(plain.server_state, ServerState)


async def test_both_sockets_answer_and_stop_cleanly(tmp_path: Path) -> None:
    """HTTPS through the TlsListener and the control socket through uvicorn itself, from
    start-up (on no socket of uvicorn's own) to shutdown."""

    async def where(request: Request) -> JSONResponse:
        return JSONResponse({"local": request.scope.get("wgpilot.local", False)})

    cert, key = make_self_signed(["localhost"])
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    control = tmp_path / "wgpilot.sock"
    web = server.WebServer(Starlette(routes=[Route("/", where)]), context, "127.0.0.1:0", control)
    running = asyncio.create_task(web.run())
    async with asyncio.timeout(10):  # a hang guard only
        await web.listening.wait()
    assert web.address is not None
    async with httpx.AsyncClient(verify=False) as https:
        r = await https.get(f"https://127.0.0.1:{web.address[1]}/")
    assert r.status_code == 200 and r.json() == {"local": False}
    async with httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(control))) as local:
        r = await local.get("http://localhost/")
    assert r.status_code == 200 and r.json() == {"local": True}
    web.stop()
    async with asyncio.timeout(20):
        await running  # no failure: returns
    assert not control.exists()
