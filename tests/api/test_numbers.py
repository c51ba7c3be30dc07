"""Only ASCII digits are numbers, wherever the API reads one from text: a query
parameter, an endpoint's port. Other scripts' digits pass ``str.isdigit`` (and ``int``
reads most of them), so they once became a 500 or a value wireguard-go refuses."""

from __future__ import annotations

import re

import pytest

from wgpilot.web import routes

# "²" passes isdigit and makes int() raise; "\u0665" (Arabic-Indic five) and "\uff15" (fullwidth)
# are read by int() as 5.
NOT_ASCII = ["%C2%B2", "%D9%A5", "%EF%BC%95", "1%D9%A5", "-%C2%B2"]


def integer_queries() -> list[tuple[str, str]]:
    """(path, parameter) for every integer query parameter of every operation."""
    out = []
    for op in routes.OPERATIONS:
        for name, spec in op.query.fields.items():
            if spec.type == "integer" and op.method == "GET":
                out.append((re.sub(r"\{\w+(:\w+)?\}", "1", op.path), name))
    return out


def test_there_are_integer_queries_to_check() -> None:
    found = {path for path, _ in integer_queries()}
    assert {"/api/networks", "/api/networks/1/peers", "/api/audit-log", "/api/alerts"} <= found


@pytest.mark.parametrize(("path", "param"), integer_queries())
async def test_non_ascii_digits_in_a_numeric_query_are_a_422_naming_it(client, path: str, param: str) -> None:
    for value in NOT_ASCII:
        r = await client.get(f"{path}?{param}={value}")
        assert r.status_code == 422, (path, param, value, r.text)
        error = r.json()["error"]
        assert [f["field"] for f in error["fields"]] == [param], error
        assert "0-9" in error["fields"][0]["message"]
    assert (await client.get(f"{path}?{param}=1")).status_code != 422


@pytest.mark.parametrize(
    "endpoint",
    [
        "198.51.100.7:\u0665\u0661\u0668\u0662\u0660",
        "198.51.100.7:\uff15\uff11\uff18\uff12\uff10",
        "[2001:db8::1]:\u0665\u0661\u0668\u0662\u0660",
    ],
)
async def test_a_peer_endpoint_port_in_other_digits_is_refused(client, endpoint: str) -> None:
    r = await client.post("/api/networks/1/peers", json={"name": "phone", "endpoint": endpoint})
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["endpoint"]
    r = await client.put("/api/networks/1/peers/1", json={"endpoint": endpoint})
    assert r.status_code == 422, r.text
    assert (await client.get("/api/networks/1/peers/1")).json()["endpoint"] is None
    names = [p["name"] for p in (await client.get("/api/networks/1/peers")).json()["items"]]
    assert "phone" not in names
