"""The Starlette application: routes, error mapping, middleware."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from wgpilot.domain.errors import WgpilotError
from wgpilot.web import errors, routes
from wgpilot.web.api import body_limits
from wgpilot.web.dispatch import IndexedRouter
from wgpilot.web.hosts import HostPolicy
from wgpilot.web.middleware import Edge
from wgpilot.web.state import WebState
from wgpilot.web.static import StaticUI


def create_app(state: WebState, *, static: StaticUI | None = None, record: Any = None) -> Starlette:
    hosts = HostPolicy(state.ctx, state.settings["listen"])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hosts.refresh()
        on_change = state.ctx.on_identity_change(hosts.refresh)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                state.ctx.listeners.remove(on_change)

    limits = body_limits(routes.OPERATIONS)
    app = Starlette(
        middleware=[Middleware(Edge, allowed_hosts=hosts, body_limit=limits, record=record)],
        exception_handlers={
            WgpilotError: errors.domain_handler,
            HTTPException: errors.http_handler,
            Exception: errors.unexpected_handler,
        },
    )
    # Starlette's Router with a faster lookup (see dispatch.py); it owns routes and lifespan.
    app.router = IndexedRouter(routes.build(static), lifespan=lifespan)
    app.state.wgpilot = state
    app.state.hosts = hosts
    return app
