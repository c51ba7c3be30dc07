"""Helpers shared by the use-case modules: collecting field errors, mapping SQLite
constraint violations, and resolving a network by name or id."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from wgpilot.domain.errors import ConflictError, FieldError, NotFoundError, ValidationError
from wgpilot.domain.models import Network
from wgpilot.domain.validate import ascii_int
from wgpilot.services.context import Context
from wgpilot.storage.db import Conn

T = TypeVar("T")
UNSET: Any = object()  # "the caller did not send this field" (None may be a real value)


class Fields:
    """Run several validators and report every bad field at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def check(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            self.errors.extend(exc.fields or [FieldError("?", exc.message)])
            return None  # type: ignore[return-value]

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def failed(self, field: str) -> bool:
        return any(e.field == field or e.field.startswith(field + "[") for e in self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError.many(self.errors)


def integrity_error(exc: sqlite3.IntegrityError, names: dict[str, str]) -> ConflictError:
    """Turn a UNIQUE violation into a 409 naming the field. ``names`` maps a column
    fragment of SQLite's message (e.g. 'networks.name') to the wire field name."""
    text = str(exc)
    for fragment, field in names.items():
        if fragment in text:
            return ConflictError.field(field, "is already in use", code="ALREADY_EXISTS")
    return ConflictError(f"conflicts with existing data: {text}")


async def resolve_network(ctx: Context, conn: Conn, ref: str | int) -> Network:
    """A network by id (int or digits) or by name/interface."""
    net = None
    number = ascii_int(ref, max_digits=18) if isinstance(ref, str) else ref  # ids fit SQLite's int64
    if number is not None:
        net = await ctx.networks.get(conn, number)
    if net is None and isinstance(ref, str):
        net = await ctx.networks.get_by_name(conn, ref) or await ctx.networks.get_by_interface(conn, ref)
    if net is None:
        raise NotFoundError(f"network {ref!r} does not exist", code="NETWORK_NOT_FOUND")
    return net
