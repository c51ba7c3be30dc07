"""The one place where errors become HTTP responses: ``{"error": {code, message, fields}}``.

Domain errors map by class (see wgpilot/domain/errors.py for the tree); anything
else is a bug, logged with its traceback and answered with a generic 500 that
reveals nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wgpilot.domain.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    RuntimeFailure,
    StorageError,
    UnavailableError,
    ValidationError,
    WgpilotError,
)

log = logging.getLogger(__name__)

REALM = "wgpilot"

STATUS = [
    (ValidationError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthError, 401),
    (ForbiddenError, 403),
    (RateLimitedError, 429),
    (StorageError, 503),
    (UnavailableError, 503),
    (RuntimeFailure, 502),
]

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    421: "MISDIRECTED_REQUEST",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
}


class ErrorJson(JSONResponse):
    """An error body, in ASCII: its messages may quote what the client sent, and JSON
    can carry text (a lone surrogate, sent as ``\\ud800``) that has no UTF-8 form."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "fields": fields or []}}
    return ErrorJson(body, status_code=status, headers=headers)


def from_domain(exc: WgpilotError) -> JSONResponse:
    status = next((s for cls, s in STATUS if isinstance(exc, cls)), 400)
    headers: dict[str, str] | None = None
    retry_after = exc.retry_after if isinstance(exc, RateLimitedError | UnavailableError) else None
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    elif isinstance(exc, AuthError) and exc.challenge:
        headers = {"WWW-Authenticate": f'{exc.challenge} realm="{REALM}"'}
    if status >= 500 and retry_after is None:  # a full server (Retry-After) is load, not a fault
        log.error("request failed", extra={"code": exc.code, "error": exc.message})
    return error_response(status, exc.code, exc.message, [f.as_dict() for f in exc.fields], headers)


async def domain_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WgpilotError)
    return from_domain(exc)


async def http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def unexpected_handler(request: Request, exc: Exception) -> Response:
    path = request.url.path
    shown = path if len(path) <= 200 else f"{path[:200]}… ({len(path)} characters)"  # one bounded line
    log.error("unhandled error", extra={"path": shown, "method": request.method}, exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "internal error; see the server log")
