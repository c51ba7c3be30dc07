"""``wgpilot serve`` under connections that keep it waiting (issue 16, item 6): idle TCP
and TLS connections, half-sent heads, a slow drip of header bytes, a stalled body and
trickled bodies are closed; the per-address cap (an IPv6 /64 counting as one address)
and the total cap refuse the extra connections with a clear answer, the machine's own
loopback excepted from the total; event streams are capped per address (429) and in all
(503); and /health keeps answering from elsewhere throughout.

Two servers, each in a namespace of its own, listening dual-stack; the clients run
there too, each from a source address of its own on the namespace's loopback. ``fast``
has short timers, for the phases about timers; ``caps`` has long ones, so that the
connections held open to fill a cap are not closed by a timer while a loaded machine
opens the rest. The tests assert what happened (a 408, a close while the client still
had bytes to send, an end of file), never when: that no timer fires early is for the
unit tests (tests/unit/web/test_connections.py, on a manual clock). Every limit in
seconds below is a hang guard only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.netns import PYTHON, Host, Lab, Wgpilot, wait_for

pytestmark = pytest.mark.system

PORT = 8443
PER_IP, TOTAL = 4, 12  # http.max_connections_per_ip, http.max_connections
STREAMS_PER_IP, STREAMS = 2, 5  # monitor.max_streams_per_ip, monitor.max_streams
FAST = {"WGPILOT_HTTP_HEADER_TIMEOUT": "2", "WGPILOT_HTTP_IDLE_TIMEOUT": "3"}
# Far longer than any phase takes: nothing held open to fill a cap is closed by a timer.
CAPS = {"WGPILOT_HTTP_HEADER_TIMEOUT": "300", "WGPILOT_HTTP_IDLE_TIMEOUT": "600"}
SOURCES = [  # the server's addresses (.1, 2001:db8:9::1), then the clients'
    "192.0.2.1",
    "2001:db8:9::1",
    *(f"192.0.2.{i}" for i in (10, 11, 20, 21, 22, 23, 30, 31, 32, 33, 34, 40, 41, 42, 43, 44, 45, 46)),
    "2001:db8:1::10",
    "2001:db8:1::11",
    "2001:db8:1::12",
    "2001:db8:2::10",
]

CLIENT = r"""
import asyncio, json, socket, ssl, sys, time

PORT = int(sys.argv[1])
PHASE = sys.argv[2]
ARGS = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
HOST = f"localhost:{PORT}"  # a Host header the server answers to
HANG = 60.0  # seconds: a hang guard, far beyond every timer of the fast server
DRIP = 0.2  # seconds between the bytes of a drip


def target(src):
    # Where a client from src connects: the server's address of the same family.
    if src.startswith("127."):
        return "127.0.0.1"
    return "2001:db8:9::1" if ":" in src else "192.0.2.1"


async def connect(src, tls=True):
    return await asyncio.open_connection(target(src), PORT, ssl=CTX if tls else None, local_addr=(src, 0))


async def until_closed(reader):
    # Whether the server closed the connection (end of file) before the hang guard, and
    # the first bytes it sent.
    data = b""
    try:
        async with asyncio.timeout(HANG):
            while chunk := await reader.read(65536):
                data += chunk
    except TimeoutError:
        return {"closed": False, "data": data[:300].decode("latin-1")}
    except (ConnectionError, ssl.SSLError):
        pass
    return {"closed": True, "data": data[:300].decode("latin-1")}


async def dripping(reader, writer, payload):
    # Send payload a byte at a time until the server closes; "left": bytes not yet sent then.
    left = len(payload)

    async def send():
        nonlocal left
        for byte in payload:
            writer.write(bytes([byte]))
            left -= 1
            await asyncio.sleep(DRIP)

    sender = asyncio.create_task(send())
    result = await until_closed(reader)
    sender.cancel()
    return {**result, "left": left}


def request(path, extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n" + extra + b"\r\n"


def post_head(path, length):
    host = HOST.encode()
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: https://" + host
        + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n"
    )


async def ask(src, path="/health", extra=b""):
    # One request on a new connection: (status, JSON body or None, whether it closed).
    try:
        reader, writer = await connect(src)
    except (ConnectionError, ssl.SSLError) as exc:
        return {"status": None, "error": repr(exc)}
    writer.write(request(path, extra))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(next((l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")), b"0"))
    body = await reader.readexactly(length)
    closed = b"connection: close" in head.lower()
    writer.close()
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return {"status": status, "body": doc, "closed": closed, "retry_after": b"retry-after" in head.lower()}


async def welcome_again(src):
    # 200 once the server has seen the client's closes and freed their places, which takes
    # a moment (polled; HANG is a hang guard): else the last status it gave src.
    deadline = time.monotonic() + HANG
    while True:
        status = (await ask(src))["status"]
        if status == 200 or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.1)


async def held(src, n):
    # n TLS connections that finished their handshake and send nothing.
    return [await connect(src) for _ in range(n)]


def close_all(conns):
    for _, writer in conns:
        writer.close()


async def health_loop(src, stop, out):
    while not stop.is_set():
        out.append((await ask(src))["status"])
        await asyncio.sleep(0.5)


async def timeouts():
    srcs = iter(ARGS["srcs"])  # one address per kind: each stays under the per-address cap

    async def raw_idle():  # no TLS handshake
        reader, writer = await connect(next(srcs), tls=False)
        return await until_closed(reader)

    async def tls_idle():  # handshake done, nothing sent
        reader, writer = await connect(next(srcs))
        return await until_closed(reader)

    async def half_head():
        reader, writer = await connect(next(srcs))
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        return await until_closed(reader)

    async def drip():  # a head a byte at a time
        reader, writer = await connect(next(srcs))
        return await dripping(reader, writer, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200)

    async def stalled_body():
        reader, writer = await connect(next(srcs))
        writer.write(post_head("/api/auth/login", 100) + b'{"user')
        return await until_closed(reader)

    async def trickled_body():  # read by the application (a login), a byte at a time
        reader, writer = await connect(next(srcs))
        writer.write(post_head("/api/auth/login", 2000))
        return await dripping(reader, writer, b'{"username": "' + b"a" * 1986)

    async def trickled_after_answer():  # answered at once (no session: 401), then trickled on
        reader, writer = await connect(next(srcs))
        writer.write(post_head("/api/networks", 2000))
        return await dripping(reader, writer, b'{"name": "' + b"a" * 1990)

    stop, health = asyncio.Event(), []
    poller = asyncio.create_task(health_loop(ARGS["health_src"], stop, health))
    kinds = [raw_idle, tls_idle, half_head, drip, stalled_body, trickled_body, trickled_after_answer]
    results = await asyncio.gather(*(kind() for kind in kinds))
    stop.set()
    await poller
    return {"closed": {kind.__name__: r for kind, r in zip(kinds, results)}, "health": health}


async def per_address():
    out = {}
    a, b = ARGS["a"], ARGS["b"]
    conns = await held(a, ARGS["per_ip"])
    out["over"] = await ask(a)
    out["other"] = await ask(b)
    six = await held(ARGS["v6"][0], ARGS["per_ip"] // 2) + await held(ARGS["v6"][1], ARGS["per_ip"] // 2)
    out["same_64"] = await ask(ARGS["v6"][2])
    out["other_64"] = await ask(ARGS["v6_other"])
    close_all(conns + six)  # then the address, and the /64, are welcome again
    out["after"] = await welcome_again(a)
    out["after_64"] = await welcome_again(ARGS["v6"][2])
    return out


async def total():
    out = {}
    conns = []
    for src in ARGS["fill"]:
        conns += await held(src, ARGS["per_ip"])
    out["over"] = await ask(ARGS["extra"])
    out["loopback"] = await ask("127.0.0.1")
    close_all(conns)
    out["after"] = await welcome_again(ARGS["extra"])
    return out


async def stream(src, cookie):
    reader, writer = await connect(src)
    writer.write(request("/api/events", b"Accept: text/event-stream\r\nCookie: __Host-wgpilot_session=" + cookie.encode() + b"\r\n"))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status == 200:
        await reader.readuntil(b"event: snapshot")
        return status, None, (reader, writer)
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
    body = json.loads(await reader.readexactly(length))
    writer.close()
    return status, body, None


async def streams():
    reader, writer = await connect(ARGS["login_src"])
    body = json.dumps({"install_token": ARGS["token"], "username": "admin", "password": "correct horse battery"}).encode()
    host = HOST.encode()
    writer.write(
        b"POST /api/setup/admin HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: https://" + host
        + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )
    head = (await reader.read(65536)).decode("latin-1")
    writer.close()
    cookie = head.split("__Host-wgpilot_session=", 1)[1].split(";", 1)[0]
    out, open_ = {}, []
    first, second, third, fourth = ARGS["srcs"]
    for src, n in ((first, ARGS["per_ip"]), (second, ARGS["per_ip"])):
        for _ in range(n):
            status, _, conn = await stream(src, cookie)
            assert status == 200, status
            open_.append(conn)
    status, out["over_address"], _ = await stream(first, cookie)
    out["over_address_status"] = status
    while len(open_) < ARGS["total"]:
        status, _, conn = await stream(third, cookie)
        assert status == 200, status
        open_.append(conn)
    status, out["over_total"], _ = await stream(fourth, cookie)
    out["over_total_status"] = status
    out["health"] = await ask(ARGS["health_src"])
    close_all(open_)
    # Closed streams give their places back once the server has seen them go (polled).
    deadline = time.monotonic() + HANG
    while True:
        status, _, conn = await stream(first, cookie)
        if status == 200 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    out["after"] = status
    close_all([conn] if conn else [])
    return out


async def long_path():
    return await ask(ARGS["src"], "/" + "a" * 60000)


print(json.dumps(asyncio.run(globals()[PHASE]())), flush=True)
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        lab.close()


def _serve(lab: Lab, name: str, timers: dict[str, str]) -> tuple[Wgpilot, Host, str]:
    """A server listening dual-stack on PORT in a namespace of its own, with SOURCES on
    its loopback; (it, its host, its install token)."""
    host = lab.host(name)
    for src in SOURCES:
        host.ip("addr", "add", src + ("/128" if ":" in src else "/32"), "dev", "lo")
    wg = Wgpilot(host, "none")
    token = re.search(r"one-time install token: (\S+)", wg.cli("init", "--public-ip", "192.0.2.1").stdout)
    assert token is not None
    wg.env.update(
        {
            "WGPILOT_LISTEN": f"[::]:{PORT}",
            "WGPILOT_TLS_HTTP_PORT": "0",
            "WGPILOT_AUTH_BCRYPT_COST": "4",
            "WGPILOT_HTTP_MAX_CONNECTIONS_PER_IP": str(PER_IP),
            "WGPILOT_HTTP_MAX_CONNECTIONS": str(TOTAL),
            "WGPILOT_MONITOR_MAX_STREAMS_PER_IP": str(STREAMS_PER_IP),
            "WGPILOT_MONITOR_MAX_STREAMS": str(STREAMS),
            **timers,
        }
    )
    wg.start()
    # Started means reconciled; HTTPS listens a moment later.
    wait_for(lambda: " listening " in wg.log.read_text(), 30, what=f"{name} to listen")
    return wg, host, token.group(1)


@pytest.fixture(scope="module")
def fast(lab: Lab) -> Iterator[tuple[Wgpilot, Host, str]]:
    """Short timers (header 2 s, idle 3 s)."""
    served = _serve(lab, "fast", FAST)
    yield served
    served[0].stop()


@pytest.fixture(scope="module")
def caps(lab: Lab) -> Iterator[tuple[Wgpilot, Host, str]]:
    """Timers far longer than any phase; every phase closes what it opened and checks that
    its addresses are welcome again afterwards."""
    served = _serve(lab, "caps", CAPS)
    yield served
    served[0].stop()


def run(host: Host, phase: str, **args: Any) -> dict[str, Any]:
    script = host.write("conn_client.py", CLIENT, 0o644)
    out = host.run(PYTHON, str(script), str(PORT), phase, json.dumps(args), timeout=180)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_slow_and_idle_connections_are_closed(fast: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = fast
    r = run(host, "timeouts", srcs=[f"192.0.2.{i}" for i in range(40, 47)], health_src="192.0.2.11")
    closed = r["closed"]
    # No TLS handshake; handshake done and nothing sent; a body that stops arriving:
    # each closed by its timer, unanswered.
    for kind in ("raw_idle", "tls_idle", "stalled_body"):
        assert closed[kind] == {"closed": True, "data": ""}, (kind, closed[kind])
    # Half a head, and a head dripping a byte at a time: a 408. The drip was cut off with
    # bytes still to send: dripped bytes do not extend the head's deadline.
    for kind in ("half_head", "drip"):
        assert closed[kind]["closed"] and closed[kind]["data"].startswith("HTTP/1.1 408 "), closed[kind]
        assert "REQUEST_TIMEOUT" in closed[kind]["data"]
    assert closed["drip"]["left"] > 0, closed["drip"]
    # A body trickled a byte at a time, read by the application or answered before it is
    # in: closed while the client still had bytes to send (the answer, 401, first).
    assert closed["trickled_body"]["closed"] and closed["trickled_body"]["left"] > 0, closed
    late = closed["trickled_after_answer"]
    assert late["closed"] and late["left"] > 0 and late["data"].startswith("HTTP/1.1 401 "), late
    assert r["health"] and set(r["health"]) == {200}, r["health"]


def test_connections_are_capped_per_address_and_per_ipv6_64(caps: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = caps
    r = run(
        host,
        "per_address",
        a="192.0.2.20",
        b="192.0.2.21",
        per_ip=PER_IP,
        v6=["2001:db8:1::10", "2001:db8:1::11", "2001:db8:1::12"],
        v6_other="2001:db8:2::10",
    )
    for over in (r["over"], r["same_64"]):
        assert over["status"] == 429 and over["closed"] and over["retry_after"], over
        assert over["body"]["error"]["code"] == "TOO_MANY_CONNECTIONS", over
        assert "http.max_connections_per_ip" in over["body"]["error"]["message"]
    assert r["other"]["status"] == 200 and r["other_64"]["status"] == 200, r
    assert r["after"] == 200 and r["after_64"] == 200, r  # closed connections gave their places back


def test_total_cap_answers_503_and_spares_loopback(caps: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = caps
    fill = ["192.0.2.20", "192.0.2.21", "192.0.2.22"]
    assert len(fill) * PER_IP == TOTAL
    r = run(host, "total", fill=fill, extra="192.0.2.23", per_ip=PER_IP)
    assert r["over"]["status"] == 503 and r["over"]["closed"], r["over"]
    assert r["over"]["body"]["error"]["code"] == "SERVER_BUSY"
    assert r["loopback"]["status"] == 200, r["loopback"]  # the local health probe gets through
    assert r["after"] == 200, r


def test_event_streams_are_capped_per_address_and_in_all(caps: tuple[Wgpilot, Host, str]) -> None:
    _, host, token = caps
    r = run(
        host,
        "streams",
        token=token,
        login_src="192.0.2.30",
        srcs=["192.0.2.31", "192.0.2.32", "192.0.2.33", "192.0.2.34"],
        per_ip=STREAMS_PER_IP,
        total=STREAMS,
        health_src="192.0.2.10",
    )
    assert r["over_address_status"] == 429, r  # this address has too many
    assert "monitor.max_streams_per_ip" in r["over_address"]["error"]["message"]
    assert r["over_total_status"] == 503, r  # the server is full: as for connections
    assert r["over_total"]["error"]["code"] == "SERVER_BUSY"
    assert "monitor.max_streams)" in r["over_total"]["error"]["message"]
    assert r["health"]["status"] == 200
    assert r["after"] == 200  # closed streams gave their places back


def test_an_over_long_path_is_a_414_and_one_short_log_line(fast: tuple[Wgpilot, Host, str]) -> None:
    wg, host, _ = fast
    before = wg.log.stat().st_size
    r = run(host, "long_path", src="192.0.2.10")
    assert r["status"] == 414 and r["body"]["error"]["code"] == "URI_TOO_LONG", r

    def logged() -> list[bytes]:  # the new lines, once the request's own is among them
        lines = wg.log.read_bytes()[before:].splitlines()
        return lines if any(b": request " in line and b"status=414" in line for line in lines) else []

    wait_for(lambda: bool(logged()), 30, what="the request's log line")
    assert all(len(line) < 1000 for line in logged()), max(logged(), key=len)[:2000]
