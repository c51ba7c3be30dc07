"""Serving the app: HTTPS on a TCP socket (443, falling back to 8443 when taken) and
the local control socket ``<data_dir>/wgpilot.sock`` (mode 0600) through which the
CLI talks to a running server. Both are uvicorn servers on sockets we bind
ourselves; the daemon owns signals and asks them to stop, which lets in-flight
requests finish before the process exits.

The HTTPS socket is served by connections.TlsListener (admission per client and in
all, a bounded TLS handshake) beside uvicorn's start-up and shutdown; both servers
speak connections.GuardedH11 (every wait for the client is timed).

``_Server`` subclasses ``uvicorn.Server`` and so relies on parts of it that are not
its documented API (pinned in pyproject.toml, checked by tests/unit/web/test_server.py):
``startup``/``shutdown``/``serve`` taking ``sockets`` (an empty list: start on no socket
of its own), ``capture_signals``, ``should_exit``, ``server_state``, ``lifespan.state``,
``config.http_protocol_class``, and the keyword arguments its start-up passes to the
protocol class, which ``_protocol`` repeats with the connection's ticket."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from wgpilot.config import Settings
from wgpilot.domain.errors import RuntimeFailure
from wgpilot.web.connections import Admission, GuardedH11, Limits, Ticket, TlsListener, protocol_for

log = logging.getLogger(__name__)

DEFAULT_PORTS = (443, 8443)
GRACE_SECONDS = 10


class _Server(uvicorn.Server):
    """uvicorn's server; with a ``tls`` socket, connections there are accepted by a
    TlsListener instead of uvicorn (which is then started on no socket of its own).
    Should the listener ever stop by itself, the server stops (``on_failure`` is called)
    and ``failure`` says why."""

    def __init__(
        self,
        config: uvicorn.Config,
        listening: asyncio.Event | None = None,
        tls: tuple[socket.socket, ssl.SSLContext, Admission] | None = None,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.listening = listening
        self.tls = tls
        self.on_failure = on_failure
        self.failure: BaseException | None = None
        self.listener: TlsListener | None = None
        self._accepting: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to the daemon, which calls stop()

    def _protocol(self, ticket: Ticket) -> GuardedH11:
        # What uvicorn's own start-up builds per connection, plus the connection's ticket.
        cls = self.config.http_protocol_class
        assert issubclass(cls, GuardedH11)
        return cls(
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state, ticket=ticket
        )

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.tls is not None and not self.should_exit:
            sock, ssl_context, admission = self.tls
            self.listener = TlsListener(sock, ssl_context, admission, self._protocol)
            self._accepting = asyncio.create_task(self.listener.serve())
            self._accepting.add_done_callback(self._accept_ended)
        if self.listening is not None and not self.should_exit:
            self.listening.set()

    def _accept_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() and self.should_exit:
            return  # shutdown() stopped it
        self.failure = (None if task.cancelled() else task.exception()) or RuntimeError("stopped accepting")
        log.error("HTTPS stopped accepting connections; stopping the server", exc_info=self.failure)
        self.should_exit = True
        if self.on_failure is not None:
            self.on_failure()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            # Its end was logged by _accept_ended when it was not this cancel.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._accepting
        if self.listener is not None:
            self.listener.close()
        await super().shutdown(sockets)

    def stop(self) -> None:
        self.should_exit = True


def _parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def _bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if (":" in host or host == "") else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # also accept IPv4
        sock.bind((host or "::", port))
        sock.listen(512)
        sock.setblocking(False)
        return sock
    except OSError:
        sock.close()
        raise


def bind_https(
    listen: str, ports: tuple[int, ...] = DEFAULT_PORTS, hosts: tuple[str, ...] = ("", "0.0.0.0")
) -> socket.socket:
    """The HTTPS listening socket: ``listen`` when given, else 443 then 8443 (``ports``)
    on every address (``hosts``: dual-stack first, IPv4 when IPv6 is unavailable)."""
    if listen:
        host, port = _parse_listen(listen)
        try:
            return _bind_tcp(host, port)
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT and host == "":
                return _bind_tcp("0.0.0.0", port)
            raise RuntimeFailure(f"cannot listen on {listen}: {exc.strerror}", code="LISTEN_FAILED") from exc
    last: OSError | None = None
    for port in ports:
        for host in hosts:
            try:
                return _bind_tcp(host, port)
            except OSError as exc:
                last = exc
                if exc.errno == errno.EAFNOSUPPORT:
                    continue
                log.warning("port unavailable, trying the next", extra={"port": port, "error": exc.strerror})
                break
    raise RuntimeFailure(
        f"cannot listen on 443 or 8443: {last.strerror if last else 'unknown'}", code="LISTEN_FAILED"
    )


def bind_control(path: Path) -> socket.socket:
    """The CLI's socket: only the server's own user (and root) may connect."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(64)
    sock.setblocking(False)
    return sock


def http_limits(settings: Settings) -> Limits:
    """The ``http.*`` settings as the connection guard's limits."""
    return Limits(
        max_connections=settings["http.max_connections"],
        max_per_client=settings["http.max_connections_per_ip"],
        header_timeout=settings["http.header_timeout"],
        idle_timeout=settings["http.idle_timeout"],
    )


def local_app(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "wgpilot.local": True}
        await app(scope, receive, send)

    return wrapped


def _config(app: ASGIApp, *, lifespan: Literal["on", "off"], limits: Limits) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=protocol_for(limits),
        lifespan=lifespan,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        ws="none",
        timeout_graceful_shutdown=GRACE_SECONDS,
        timeout_keep_alive=limits.idle_timeout,
        h11_max_incomplete_event_size=65536,
    )


class WebServer:
    def __init__(
        self,
        app: ASGIApp,
        ssl_context: ssl.SSLContext,
        listen: str,
        control: Path,
        limits: Limits | None = None,
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.listen = listen
        self.control = control
        self.limits = limits or Limits()
        self._servers: list[_Server] = []
        self.address: tuple[str, int] | None = None
        self.listening = asyncio.Event()  # set once HTTPS accepts connections
        self.on_bound: list[Callable[[tuple[str, int]], None]] = []

    async def run(self) -> None:
        tcp = bind_https(self.listen)
        self.address = tcp.getsockname()[:2]
        for callback in self.on_bound:
            callback(self.address)
        uds = bind_control(self.control)
        https_cfg = _config(self.app, lifespan="on", limits=self.limits)
        https_cfg.load()
        local_cfg = _config(local_app(self.app), lifespan="off", limits=self.limits)
        local_cfg.load()
        tls = (tcp, self.ssl_context, Admission(self.limits))
        self._servers = [_Server(https_cfg, self.listening, tls, on_failure=self.stop), _Server(local_cfg)]
        log.info(
            "listening",
            extra={
                "address": f"{self.display_host()}:{self.address[1]}",
                "control_socket": str(self.control),
            },
        )
        try:
            # HTTPS: uvicorn on no socket of its own; its TlsListener accepts on tcp.
            await asyncio.gather(self._servers[0].serve(sockets=[]), self._servers[1].serve(sockets=[uds]))
        finally:
            tcp.close()
            uds.close()
            with contextlib.suppress(FileNotFoundError):
                self.control.unlink()
        failure = self._servers[0].failure
        if failure is not None:  # the daemon exits non-zero; the unit starts it again
            raise RuntimeFailure(
                f"HTTPS stopped accepting connections: {failure}", code="LISTENER_FAILED"
            ) from failure

    def display_host(self) -> str:
        """The bound host as written in a URL (the URLs themselves: web/banner.py)."""
        assert self.address is not None
        host = self.address[0]
        return f"[{host}]" if ":" in host else host

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
