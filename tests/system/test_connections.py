"""``wgpilot serve`` under connections that keep it waiting (issue 16, item 6): idle TCP
and TLS connections, half-sent heads, a slow drip of header bytes and a stalled body are
closed within the configured seconds; the per-address cap (an IPv6 /64 counting as one
address) and the total cap refuse the extra connections with a clear answer, the
machine's own loopback excepted from the total; event streams are capped per address
and in all with a 429; and /health keeps answering from elsewhere throughout.

The server runs in its own namespace, listening dual-stack; the clients run there too,
each from a source address of its own on the namespace's loopback. Bounds are the
configured timeouts: a connection must not be closed before its timer (timers never
fire early) and must be closed by its timer plus a generous margin for a loaded host.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.netns import PYTHON, Host, Lab, Wgpilot

pytestmark = pytest.mark.system

PORT = 8443
HEADER, IDLE = 2, 3  # http.header_timeout, http.idle_timeout
PER_IP, TOTAL = 4, 12  # http.max_connections_per_ip, http.max_connections
STREAMS_PER_IP, STREAMS = 2, 5  # monitor.max_streams_per_ip, monitor.max_streams
SLACK = 5.0  # seconds a loaded machine may add before a timer's close is seen
SOURCES = [  # the server's addresses (.1, 2001:db8:9::1), then the clients'
    "192.0.2.1",
    "2001:db8:9::1",
    *(f"192.0.2.{i}" for i in (10, 11, 20, 21, 22, 23, 30, 31, 32, 33, 34, 40, 41, 42, 43, 44)),
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


def target(src):
    # Where a client from src connects: the server's address of the same family.
    if src.startswith("127."):
        return "127.0.0.1"
    return "2001:db8:9::1" if ":" in src else "192.0.2.1"


async def connect(src, tls=True):
    return await asyncio.open_connection(target(src), PORT, ssl=CTX if tls else None, local_addr=(src, 0))


async def until_closed(reader, t0, limit=25.0):
    # (seconds until the server closed, first bytes it sent); seconds None: still open.
    data = b""
    try:
        async with asyncio.timeout(limit):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    except TimeoutError:
        return None, data[:300].decode("latin-1")
    except (ConnectionError, ssl.SSLError):
        pass
    return round(time.monotonic() - t0, 2), data[:300].decode("latin-1")


def request(path, extra=b""):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n" + extra + b"\r\n"


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


async def held(src, n):
    # n TLS connections that finished their handshake and send nothing.
    return [await connect(src) for _ in range(n)]


async def close_all(conns):
    for _, writer in conns:
        writer.close()
    await asyncio.sleep(0.3)


async def health_loop(src, stop, out):
    while not stop.is_set():
        out.append((await ask(src))["status"])
        await asyncio.sleep(0.5)


async def timeouts():
    srcs = iter(ARGS["srcs"])  # one address per kind: each stays under the per-address cap

    async def raw_idle():
        reader, writer = await connect(next(srcs), tls=False)
        return await until_closed(reader, time.monotonic())

    async def tls_idle():
        reader, writer = await connect(next(srcs))
        return await until_closed(reader, time.monotonic())

    async def half_head():
        reader, writer = await connect(next(srcs))
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        return await until_closed(reader, time.monotonic())

    async def drip():
        reader, writer = await connect(next(srcs))
        t0 = time.monotonic()

        async def send():
            for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        sender = asyncio.create_task(send())
        result = await until_closed(reader, t0)
        sender.cancel()
        return result

    async def stalled_body():
        reader, writer = await connect(next(srcs))
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nOrigin: https://"
            + HOST.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user"
        )
        return await until_closed(reader, time.monotonic())

    stop, health = asyncio.Event(), []
    poller = asyncio.create_task(health_loop(ARGS["health_src"], stop, health))
    names = ["raw_idle", "tls_idle", "half_head", "drip", "stalled_body"]
    results = await asyncio.gather(raw_idle(), tls_idle(), half_head(), drip(), stalled_body())
    stop.set()
    await poller
    return {"closed": dict(zip(names, results)), "health": health}


async def per_address():
    out = {}
    a, b = ARGS["a"], ARGS["b"]
    conns = await held(a, ARGS["per_ip"])
    out["over"] = await ask(a)
    out["other"] = await ask(b)
    six = await held(ARGS["v6"][0], ARGS["per_ip"] // 2) + await held(ARGS["v6"][1], ARGS["per_ip"] // 2)
    out["same_64"] = await ask(ARGS["v6"][2])
    out["other_64"] = await ask(ARGS["v6_other"])
    # The held connections close at the idle timeout; then the address is welcome again.
    out["held_closed"] = [(await until_closed(r, time.monotonic()))[0] for r, _ in conns + six]
    await close_all(conns + six)
    out["after"] = await ask(a)
    return out


async def total():
    out = {}
    conns = []
    for src in ARGS["fill"]:
        conns += await held(src, ARGS["per_ip"])
    out["over"] = await ask(ARGS["extra"])
    out["loopback"] = await ask("127.0.0.1")
    await close_all(conns)
    out["after"] = await ask(ARGS["extra"])
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
    await close_all(open_)
    status, _, conn = await stream(first, cookie)
    out["after"] = status
    await close_all([conn] if conn else [])
    return out


async def long_path():
    return await ask(ARGS["src"], "/" + "a" * 60000)


print(json.dumps(asyncio.run(globals()[PHASE]())), flush=True)
"""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Wgpilot, Host, str]]:
    """One server for the module: every phase closes what it opened, and checks that
    its addresses are welcome again afterwards."""
    lab = Lab()
    try:
        host = lab.host("srv")
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
                "WGPILOT_HTTP_HEADER_TIMEOUT": str(HEADER),
                "WGPILOT_HTTP_IDLE_TIMEOUT": str(IDLE),
                "WGPILOT_HTTP_MAX_CONNECTIONS_PER_IP": str(PER_IP),
                "WGPILOT_HTTP_MAX_CONNECTIONS": str(TOTAL),
                "WGPILOT_MONITOR_MAX_STREAMS_PER_IP": str(STREAMS_PER_IP),
                "WGPILOT_MONITOR_MAX_STREAMS": str(STREAMS),
            }
        )
        wg.start()
        yield wg, host, token.group(1)
        wg.stop()
    finally:
        lab.close()


def run(host: Host, phase: str, **args: Any) -> dict[str, Any]:
    script = host.write("conn_client.py", CLIENT, 0o644)
    out = host.run(PYTHON, str(script), str(PORT), phase, json.dumps(args), timeout=120)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def closed_by(result: list[Any], at_least: float, timer: float) -> bool:
    seconds = result[0]
    return seconds is not None and at_least <= seconds <= timer + SLACK


def test_slow_and_idle_connections_are_closed_in_seconds(server: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = server
    r = run(host, "timeouts", srcs=[f"192.0.2.{i}" for i in range(40, 45)], health_src="192.0.2.11")
    closed = r["closed"]
    # No TLS handshake: closed at the handshake timeout.
    assert closed_by(closed["raw_idle"], HEADER - 0.5, HEADER), closed
    # Handshake done, nothing sent: an idle connection.
    assert closed_by(closed["tls_idle"], IDLE - 0.5, IDLE), closed
    # Half a head, and a head dripping one byte at a time: 408 at the header timeout,
    # which the dripped bytes do not extend.
    for kind in ("half_head", "drip"):
        assert closed_by(closed[kind], HEADER - 0.5, HEADER), closed
        assert closed[kind][1].startswith("HTTP/1.1 408 "), closed[kind]
        assert "REQUEST_TIMEOUT" in closed[kind][1]
    # A body that stops arriving: closed at the idle timeout, unanswered.
    assert closed_by(closed["stalled_body"], IDLE - 0.5, IDLE), closed
    assert r["health"] and set(r["health"]) == {200}, r["health"]


def test_connections_are_capped_per_address_and_per_ipv6_64(server: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = server
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
    assert all(s is not None and s <= IDLE + SLACK for s in r["held_closed"]), r["held_closed"]
    assert r["after"]["status"] == 200, r["after"]


def test_total_cap_answers_503_and_spares_loopback(server: tuple[Wgpilot, Host, str]) -> None:
    _, host, _ = server
    fill = ["192.0.2.20", "192.0.2.21", "192.0.2.22"]
    assert len(fill) * PER_IP == TOTAL
    r = run(host, "total", fill=fill, extra="192.0.2.23", per_ip=PER_IP)
    assert r["over"]["status"] == 503 and r["over"]["closed"], r["over"]
    assert r["over"]["body"]["error"]["code"] == "SERVER_BUSY"
    assert r["loopback"]["status"] == 200, r["loopback"]  # the local health probe gets through
    assert r["after"]["status"] == 200, r["after"]


def test_event_streams_are_capped_per_address_and_in_all(server: tuple[Wgpilot, Host, str]) -> None:
    _, host, token = server
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
    assert r["over_address_status"] == 429, r
    assert "monitor.max_streams_per_ip" in r["over_address"]["error"]["message"]
    assert r["over_total_status"] == 503, r  # the server is full: as for connections
    assert r["over_total"]["error"]["code"] == "SERVER_BUSY"
    assert "monitor.max_streams)" in r["over_total"]["error"]["message"]
    assert r["health"]["status"] == 200
    assert r["after"] == 200  # closed streams gave their places back


def test_an_over_long_path_is_a_414_and_one_short_log_line(server: tuple[Wgpilot, Host, str]) -> None:
    wg, host, _ = server
    before = wg.log.stat().st_size
    r = run(host, "long_path", src="192.0.2.10")
    assert r["status"] == 414 and r["body"]["error"]["code"] == "URI_TOO_LONG", r
    grown = wg.log.read_text()[before:]
    assert len(grown) < 1000, grown[:2000]  # was 187 KB for a 60 KB path
