"""The plain-HTTP listener on ``tls.http_port`` (80): answers ACME HTTP-01 challenges
from a ``ChallengeStore`` and redirects every other request to HTTPS.

A few lines of asyncio rather than a second uvicorn: it only ever reads one request
line and headers, and a second uvicorn server in the process would fight the daemon
over signal handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable

from wgpilot.tls.acme_client import ChallengeStore

log = logging.getLogger(__name__)

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
MAX_HEAD = 8192
READ_TIMEOUT = 10.0
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # fullmatch: "$" would also match before a "\n"
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:[0-9]{1,5})?")


def _response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def respond(
    method: str, target: str, host: str | None, store: ChallengeStore, https_port: int, fallback_host: str
) -> bytes:
    """The whole response for one request (pure, so tests need no sockets)."""
    path = target.split("?", 1)[0]
    if path.startswith(CHALLENGE_PREFIX) and method in ("GET", "HEAD"):
        token = path[len(CHALLENGE_PREFIX) :]
        value = store.get(token) if _TOKEN.fullmatch(token) else None
        if value is None:
            return _response("404 Not Found", {"Content-Type": "text/plain"}, b"no such challenge\n")
        body = value.encode()
        return _response("200 OK", {"Content-Type": "text/plain"}, b"" if method == "HEAD" else body)
    # Never echo an unchecked Host header into Location (header injection, open redirect).
    name = fallback_host
    if host and _HOST.fullmatch(host):
        name = host[: host.index("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
    if not target.startswith("/"):
        target = "/"
    port = "" if https_port == 443 else f":{https_port}"
    location = f"https://{name}{port}{target}"
    if any(c in location for c in "\r\n"):
        location = f"https://{fallback_host}{port}/"
    return _response("301 Moved Permanently", {"Location": location, "Content-Type": "text/plain"}, b"")


class HttpServer:
    """asyncio server for port 80. ``https_port`` is read per request, so the web layer
    can set it once it knows whether it got 443 or fell back to 8443."""

    def __init__(
        self, store: ChallengeStore, https_port: Callable[[], int], fallback_host: Callable[[], str]
    ) -> None:
        self.store = store
        self.https_port = https_port
        self.fallback_host = fallback_host
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            writer.close()
            return
        try:
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            host = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "host":
                    host = value.strip()
            data = respond(method, target, host, self.store, self.https_port(), self.fallback_host())
        except ValueError:
            data = _response("400 Bad Request", {"Content-Type": "text/plain"}, b"bad request\n")
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def start(self, host: str | None, port: int) -> None:
        """Bind (``host`` None = every address, IPv4 and IPv6)."""
        self.server = await asyncio.start_server(self._handle, host=host, port=port, limit=MAX_HEAD)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
