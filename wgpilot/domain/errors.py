"""Domain errors: the one exception tree every layer raises and every interface maps.

    WgpilotError                      code, message, fields
    ├── ValidationError               bad input, names the field(s)      → HTTP 422, CLI exit 2
    ├── NotFoundError                 a named thing does not exist       → HTTP 404, CLI exit 2
    ├── ConflictError                 clashes with existing state        → HTTP 409, CLI exit 2
    │   └── ExhaustedError            no free address left in a subnet   → HTTP 409
    ├── AuthError                     not logged in / bad credentials    → HTTP 401
    ├── ForbiddenError                logged in but not allowed          → HTTP 403
    ├── RateLimitedError              too many attempts                  → HTTP 429
    └── RuntimeFailure                the host refused (kernel, disk)    → HTTP 502/503, CLI exit 1
        ├── KernelError               a driver or firewall operation failed
        ├── StorageError              the database is unusable           → HTTP 503
        └── UnavailableError          a part not running, or full        → HTTP 503 (Retry-After when full)

Interfaces map these in one place each (web/errors.py, cli/output.py); services
and storage never know about HTTP status codes or exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class WgpilotError(Exception):
    code = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = list(fields or [])

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "fields": [f.as_dict() for f in self.fields],
        }


class ValidationError(WgpilotError):
    code = "VALIDATION_ERROR"

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> ValidationError:
        return cls(f"{field}: {message}", code=code, fields=[FieldError(field, message)])

    @classmethod
    def many(cls, errors: list[FieldError]) -> ValidationError:
        text = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return cls(text, fields=errors)


class NotFoundError(WgpilotError):
    code = "NOT_FOUND"


class ConflictError(WgpilotError):
    code = "CONFLICT"

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> ConflictError:
        return cls(f"{field}: {message}", code=code, fields=[FieldError(field, message)])


class ExhaustedError(ConflictError):
    code = "SUBNET_EXHAUSTED"


class AuthError(WgpilotError):
    code = "UNAUTHORIZED"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: list[FieldError] | None = None,
        challenge: str | None = None,
    ) -> None:
        super().__init__(message, code=code, fields=fields)
        self.challenge = challenge  # the credential scheme to present instead (e.g. "Bearer"), if any


class ForbiddenError(WgpilotError):
    code = "FORBIDDEN"


class RateLimitedError(WgpilotError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RuntimeFailure(WgpilotError):
    code = "RUNTIME_FAILURE"


class KernelError(RuntimeFailure):
    code = "KERNEL_ERROR"


class StorageError(RuntimeFailure):
    code = "STORAGE_ERROR"


class UnavailableError(RuntimeFailure):
    """A part this process does not run (e.g. the monitor in a database-only tool), or
    one that is full for now: then ``retry_after`` seconds (a client's own excess is a
    RateLimitedError instead)."""

    code = "UNAVAILABLE"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
