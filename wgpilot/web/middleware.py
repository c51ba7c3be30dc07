"""The one pure-ASGI middleware in front of the router (``Edge``), in this order:

    observe    access log line and request metrics by route template, for every
               request including those refused below (499: the client left before
               it could be answered)
    length     a path over MAX_PATH bytes is a 414, before anything reads it
    guard      Host allow-list (DNS rebinding), same-origin check on state-changing
               requests (CSRF), request body size limit
    headers    CSP, HSTS, nosniff, frame-ancestors, Referrer-Policy; no-store on
               everything that is not a static asset. ``/api/`` answers are data,
               never pages: they get the OWASP REST set with a CSP that allows
               nothing at all, stricter than the UI's and without the two
               document-only headers (COOP, Permissions-Policy)

One layer rather than three: every layer is another coroutine and another ``send``
wrapper on every request, and the three always run together.

Requests arriving on the local control socket (``scope["wgpilot.local"]``) skip the
guard: they are authenticated by the socket's file permissions.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wgpilot.domain.validate import ascii_int

log = logging.getLogger("wgpilot.http")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# A JSON, config, QR or backup answer opened as a page loads nothing and runs nothing.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_COMMON = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    *_COMMON,
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
API_HEADERS = [(b"content-security-policy", API_CSP.encode()), *_COMMON]
# h11 validates and copies every response header (about 1 µs each, measured alone;
# no throughput change showed in runs): a JSON answer carries none that only a
# document reads.
_SECURITY_NAMES = frozenset(k for k, _ in SECURITY_HEADERS)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The longest path we answer (bytes as sent; 414 beyond, before routing, the file system
# or a log record sees it): ours are short, and no file path is longer than PATH_MAX
# (4096 bytes), so a longer one names nothing we serve.
MAX_PATH = 4096


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "fields": []}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            # Edge's send adds the security headers and no-store.
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def split_host(value: str) -> str:
    """Host header → host name or IP, without port and brackets, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Callable[[], tuple[set[str], bool]],
        body_limit: Callable[[str], int],
        record: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts  # → (names, any_ip_literal_allowed)
        self.body_limit = body_limit
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False  # set by send_out; never answered and no error: the client left
        path = scope["path"]
        static_asset = path.startswith("/assets/")
        security = API_HEADERS if path.startswith("/api/") else SECURITY_HEADERS

        async def send_out(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                if present.isdisjoint(_SECURITY_NAMES):
                    headers += security
                else:
                    headers += [(k, v) for k, v in security if k not in present]
                if not static_asset and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers  # in place, as Starlette's own middleware does
            await send(message)

        try:
            if len(scope.get("raw_path") or path.encode("utf-8", "surrogateescape")) > MAX_PATH:
                await _reject(send_out, 414, "URI_TOO_LONG", f"the path is longer than {MAX_PATH} bytes")
            elif scope.get("wgpilot.local"):
                await self.app(scope, receive, send_out)
            else:
                await self.guarded(scope, receive, send_out)
            if not started:
                status = 499
        finally:
            elapsed = time.perf_counter() - start
            # Hashed UI assets are a dozen requests per page load: debug, not info.
            level = logging.DEBUG if static_asset else logging.INFO
            logged = log.isEnabledFor(level)  # the record is built only when written
            template = route_template(scope) if logged or self.record is not None else ""
            if self.record is not None:
                self.record(scope["method"], template, status, elapsed)
            if logged:
                client: Any = scope.get("client")
                log.log(
                    level,
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 1),
                        "ip": "local" if scope.get("wgpilot.local") else (client[0] if client else None),
                    },
                )

    async def guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        host_header = origin = referer = length = None
        for k, v in scope["headers"]:  # one pass for the four headers the guard reads
            if k == b"host":
                host_header = host_header if host_header is not None else v.decode("latin-1")
            elif k == b"origin":
                origin = origin if origin is not None else v.decode("latin-1")
            elif k == b"referer":
                referer = referer if referer is not None else v.decode("latin-1")
            elif k == b"content-length":
                length = length if length is not None else v.decode("latin-1")
        host = split_host(host_header or "")
        names, any_ip = self.allowed_hosts()
        if host not in names and not (any_ip and _is_ip(host)):
            await _reject(
                send,
                421,
                "HOST_NOT_ALLOWED",
                f"this server does not answer to {host or 'an empty Host header'!r}",
            )
            return
        if scope["method"] in UNSAFE_METHODS:
            origin = origin or referer
            if not origin or not _same_origin(origin, host_header or ""):
                await _reject(
                    send, 403, "CROSS_ORIGIN", "cross-origin or origin-less state-changing request refused"
                )
                return
        limit = self.body_limit(scope["path"])
        if length is not None:
            declared = ascii_int(length)
            if declared is None:
                await _reject(send, 400, "BAD_REQUEST", "invalid Content-Length")
                return
            if declared > limit:
                await _reject(send, 413, "PAYLOAD_TOO_LARGE", f"request body larger than {limit} bytes")
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _reject(send, 413, "PAYLOAD_TOO_LARGE", f"request body larger than {limit} bytes")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def route_template(scope: Scope) -> str:
    """The matched route's template (bounded metric labels), never the raw path."""
    # The router put the matched endpoint into the scope; ours carry their template.
    known = getattr(scope.get("endpoint"), "route_path", None)
    if known is not None:
        return str(known)
    router = scope.get("router") or getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "/api/*" if scope["path"].startswith("/api/") else "static"


class BodyTooLarge(Exception):
    pass


def _host_port(netloc: str) -> tuple[str, str]:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else "443"
    host, sep, port = netloc.partition(":")
    return host, port if sep else "443"


def _same_origin(origin: str, host_header: str) -> bool:
    """Origin (or Referer) is https:// and names exactly the host and port we were asked as."""
    origin = origin.strip().lower()
    if not origin.startswith("https://"):
        return False
    netloc = origin[len("https://") :].split("/", 1)[0]
    return _host_port(netloc) == _host_port(host_header)
