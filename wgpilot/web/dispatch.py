r"""Route lookup in one regular-expression match instead of one per route.

Starlette's Router tries its routes in order, one ``re.match`` (plus a scope copy and
a path-parameter dict) per route, until one matches fully: about twenty tries for a
peer creation, the busiest write there is. ``IndexedRouter`` joins, per HTTP method,
the path patterns of the routes that allow that method into one alternation in the
same order; the first alternative that matches is the route Starlette's loop would
have picked first, so only that route's own ``matches`` runs.

Everything else — no full match (405 for a known path with another method, slash
redirects, 404), lifespan, a route that is not a plain ``Route`` — goes through
Starlette's loop unchanged, which is therefore still the definition of what matches.

``Route`` is Starlette's, matching the whole path: Starlette compiles ``^...$``, and
``$`` also matches before a final newline, so a path with an encoded newline after an id
(``/api/alerts/4%0A``) would reach the route of that id. Ours end in ``\Z``, in the
route's own regex (Starlette's loop) and so in the index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette import routing
from starlette.routing import BaseRoute, Match, Router, get_route_path
from starlette.types import Receive, Scope, Send

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class Route(routing.Route):
    """Starlette's Route, matching the whole path (see the module docstring)."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        pattern = self.path_regex.pattern
        if pattern.endswith("$"):
            self.path_regex = re.compile(pattern[:-1] + r"\Z")


def method_patterns(routes: Sequence[BaseRoute]) -> dict[str, re.Pattern[str]]:
    """One pattern per method over the leading plain ``Route``s (a route of another
    kind could match first, so indexing stops there); group ``_N`` names route N."""
    alternatives: dict[str, list[str]] = {}
    for i, route in enumerate(routes):
        # Routes that match as Starlette's Route does (ours only change the regex).
        if not isinstance(route, routing.Route) or type(route).matches is not routing.Route.matches:
            break
        body = route.path_regex.pattern
        if not body.startswith("^"):
            break
        # Parameter groups are named in every route alike; inside one alternation the
        # names would clash, and the route's own ``matches`` reads them afterwards.
        body = _NAMED_GROUP.sub("(?:", body[1:])
        for method in route.methods or ():
            alternatives.setdefault(method, []).append(f"(?P<_{i}>{body})")
    return {m: re.compile("|".join(alts)) for m, alts in alternatives.items()}


class IndexedRouter(Router):
    _indexed: tuple[int, dict[str, re.Pattern[str]]] | None = None

    def _patterns(self) -> dict[str, re.Pattern[str]]:
        # Rebuilt if routes were added after construction (Starlette allows it).
        if self._indexed is None or self._indexed[0] != len(self.routes):
            self._indexed = (len(self.routes), method_patterns(self.routes))
        return self._indexed[1]

    def lookup(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The route Starlette's loop would run with a full match, or None when the
        loop itself must decide (no full match, or an unindexed route)."""
        pattern = self._patterns().get(scope["method"])
        if pattern is None:
            return None
        found = pattern.match(get_route_path(scope))
        if found is None or found.lastgroup is None:
            return None
        route = self.routes[int(found.lastgroup[1:])]
        match, child_scope = route.matches(scope)
        return (route, child_scope) if match is Match.FULL else None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.lookup(scope)
            if found is not None:
                route, child_scope = found
                if "router" not in scope:
                    scope["router"] = self
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)
