"""IndexedRouter picks, for every request, the route Starlette's own loop picks: checked
over every route the app registers, every method, and awkward paths."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match, Route

from wgpilot.web import routes
from wgpilot.web.dispatch import IndexedRouter, method_patterns

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
ROUTES = routes.build()


def starlette_pick(routes_: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    """Starlette's Router.app loop: the first route that matches fully."""
    for route in routes_:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def scope_for(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def sample_paths() -> list[str]:
    out = []
    for route in ROUTES:
        assert isinstance(route, Route)
        for value in ("7", "1", "123456789012345678", "x/y/z.js", "0"):
            out.append(re.sub(r"\{\w+(:\w+)?\}", value, route.path))
    return out


EDGE_PATHS = [
    "/",
    "",
    "/api",
    "/api/",
    "/api/networks/",
    "/api/networks/1/",
    "/api/networks/1/peers/",
    "/api/networks/1/peers\n",
    "/api/networks/1234567890123456789/peers",  # 19 digits: no id matches
    "/api/networks/-1/peers",
    "/api/networks/%2e%2e/peers",
    "/api/networks/../peers",
    "//etc/passwd",
    "/API/NETWORKS",
    "/api/networks/1/peers/2/config",
    "/assets/index.js",
]


@pytest.mark.parametrize("method", METHODS)
def test_every_registered_path_and_method_goes_where_starlette_sends_it(method: str) -> None:
    router = IndexedRouter(ROUTES)
    for path in sample_paths() + EDGE_PATHS:
        scope = scope_for(method, path)
        want = starlette_pick(ROUTES, scope)
        got = router.lookup(scope)
        if got is None:
            # Left to Starlette's loop, which must then find no full match either.
            assert want is None, (method, path)
        else:
            assert got[0] is want, (method, path)
            assert got[1] == want.matches(scope)[1]


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(METHODS),
    path=st.lists(
        st.sampled_from(
            ["api", "networks", "peers", "1", "42", "config", "qr", "x", "", "..", "audit", "bridges"]
        ),
        max_size=6,
    ).map(lambda parts: "/" + "/".join(parts)),
)
def test_random_paths_agree_with_starlette(method: str, path: str) -> None:
    router = IndexedRouter(ROUTES)
    scope = scope_for(method, path)
    want = starlette_pick(ROUTES, scope)
    got = router.lookup(scope)
    assert (got[0] if got else None) is want


def test_routes_added_later_are_indexed() -> None:
    async def ep(request: object) -> None:
        return None

    router = IndexedRouter([Route("/a/{x:int}", ep, methods=["GET"])])
    assert router.lookup(scope_for("GET", "/b/1")) is None
    router.routes.insert(0, Route("/b/{y:int}", ep, methods=["GET"]))
    found = router.lookup(scope_for("GET", "/b/1"))
    assert found is not None and found[1]["path_params"] == {"y": 1}


def test_indexing_stops_at_the_first_route_of_another_kind() -> None:
    from starlette.routing import Mount

    async def ep(request: object) -> None:
        return None

    first = Route("/a", ep, methods=["GET"])
    patterns = method_patterns([first, Mount("/m", routes=[]), Route("/b", ep, methods=["GET"])])
    assert patterns["GET"].match("/a") and not patterns["GET"].match("/b")


@pytest.mark.parametrize("method", METHODS)
def test_no_route_matches_before_a_trailing_newline(method: str) -> None:
    # "$" also matches before a final "\n"; every route of the list must match the whole path.
    router = IndexedRouter(ROUTES)
    for path in sample_paths():
        for tail in ("\n", "\r\n", "\n\n"):
            scope = scope_for(method, path + tail)
            assert starlette_pick(ROUTES, scope) is None, (method, path)
            assert router.lookup(scope) is None, (method, path)
