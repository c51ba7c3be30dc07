"""Operations: the declaration of one API endpoint (method, path, schemas, auth,
response) and the wrapper that turns it into a Starlette endpoint. routes.py lists
them once; openapi.py documents the same list; tests walk it."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import ClientDisconnect, Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from wgpilot.domain.errors import AuthError, ValidationError
from wgpilot.domain.models import Actor, User
from wgpilot.web.schemas import Query, Schema

if TYPE_CHECKING:
    from wgpilot.web.state import WebState

log = logging.getLogger(__name__)

SESSION_COOKIE = "__Host-wgpilot_session"
ID_MAX = 10**18 - 1


class IdConvertor(Convertor[int]):
    """Positive ids of at most 18 digits: anything else simply does not match (404),
    so no path parameter can overflow SQLite's 64-bit integers."""

    regex = "[1-9][0-9]{0,17}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

# "bearer": no session needed; the handler checks its own bearer token (/metrics).
AuthMode = Literal["session", "public", "setup", "bearer"]


@dataclass
class ApiRequest:
    request: Request
    state: WebState
    body: dict[str, Any]
    query: dict[str, Any]
    params: dict[str, Any]
    user: User | None
    actor: Actor

    @property
    def ip(self) -> str | None:
        return client_ip(self.request.scope)


Handler = Callable[[ApiRequest], Awaitable[Any]]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: Schema | None = None
    partial: bool = False  # PUT: every field optional
    query: Query = field(default_factory=Query)
    status: int = 200
    response: Schema | str | None = None  # a schema, a media type, or None for 204
    auth: AuthMode = "session"
    raw_body: str | None = None  # media type of a non-JSON body, streamed by the handler (restore)
    max_body: int = 1 << 20
    precheck: Callable[[WebState], Awaitable[None]] | None = None  # runs before auth and parsing

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


def client_ip(scope: Scope) -> str | None:
    if scope.get("wgpilot.local"):
        return "local"
    client = scope.get("client")
    return client[0] if client else None


def _scan(scope: Scope) -> tuple[str | None, str]:
    """The Cookie header and the media type, read in one pass over the raw headers
    (first of each, as ``request.headers.get`` would) without building Headers."""
    cookie: str | None = None
    ctype: str | None = None
    for k, v in scope["headers"]:
        if k == b"cookie":
            if cookie is None:
                cookie = v.decode("latin-1")
        elif k == b"content-type" and ctype is None:
            ctype = v.decode("latin-1")
    return cookie, (ctype or "").split(";")[0].strip().lower()


async def _read_body(receive: Receive) -> bytes:
    """The whole request body, as ``Request.body()`` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _json_body(raw: bytes, ctype: str, op: Op) -> dict[str, Any]:
    assert op.body is not None
    if ctype != "application/json":
        raise UnsupportedMedia("send the body as application/json")
    try:
        # What json.loads(raw, parse_constant=…) does, minus building a decoder per call.
        data = _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, RecursionError):
        raise ValidationError.field("body", "is not valid JSON", code="INVALID_JSON") from None
    return op.body.parse(data, partial=op.partial)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class UnsupportedMedia(Exception):
    pass


class Json(JSONResponse):
    """Starlette's JSONResponse, byte for byte (compact, UTF-8, keys in insertion
    order), rendered by orjson: 0.4 µs for a peer where the standard library's C
    encoder takes 2.9, and every API answer but the errors is one of these. (orjson
    writes a NaN as null where Starlette refuses it; no answer holds one.)"""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class Endpoint:
    """One operation as an ASGI app. Starlette's Route calls it directly (no
    per-route wrapper); an error raised here reaches the app's exception handlers
    in errors.py exactly as from a plain endpoint function."""

    def __init__(self, op: Op) -> None:
        self.op = op
        self.__name__ = op.operation_id
        # Read by the metrics middleware: the template as OpenAPI writes it, no convertors.
        self.route_path = re.sub(r"\{(\w+):\w+\}", r"{\1}", op.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.run(Request(scope, receive, send))
        except ClientDisconnect:
            # Gone before its body had arrived, so before anything was done: there is
            # nothing to undo and nobody to answer (the access log says 499).
            log.debug("client disconnected before its request body arrived")
            return
        await response(scope, receive, send)

    async def run(self, request: Request) -> Response:
        op = self.op
        scope = request.scope
        state: WebState = scope["app"].state.wgpilot
        if op.precheck is not None:
            await op.precheck(state)
        cookie, ctype = _scan(scope)
        user: User | None = None
        local = bool(scope.get("wgpilot.local"))
        if local:
            actor = Actor(None, "cli", "local")
        else:
            token = cookie_parser(cookie).get(SESSION_COOKIE) if cookie else None
            user = await state.auth.authenticate(token) if token else None
            ip = client_ip(scope)
            actor = Actor(user.id, user.username, ip) if user else Actor(None, "anonymous", ip)
        if op.auth == "session" and user is None and not local:
            raise AuthError("log in first", code="UNAUTHORIZED")
        query = op.query.parse(request.query_params if scope["query_string"] else {})
        body: dict[str, Any] = {}
        try:
            if op.body is not None:
                body = _json_body(await _read_body(request.receive), ctype, op)
            elif op.raw_body is not None and ctype != op.raw_body:
                # The handler reads the body itself, as a stream (request.stream()).
                raise UnsupportedMedia(f"send the body as {op.raw_body}")
        except UnsupportedMedia as exc:
            from wgpilot.web.errors import error_response

            return error_response(415, "UNSUPPORTED_MEDIA_TYPE", str(exc))
        api = ApiRequest(request, state, body, query, dict(scope["path_params"]), user, actor)
        result = await op.handler(api)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        return Json(result, status_code=op.status)


def body_limits(ops: list[Op]) -> Callable[[str], int]:
    """Body limit by request path: the largest limit of any operation whose path
    prefix matches (restore takes archives; everything else small JSON)."""
    big = [(o.path.split("{")[0], o.max_body) for o in ops if o.max_body > 1 << 20]
    default = 1 << 20

    def limit(path: str) -> int:
        for prefix, size in big:
            if path == prefix or path.startswith(prefix):
                return size
        return default

    return limit
