"""Monitor benchmarks on one wireguard-go interface holding 10 000 peers, each against
a reference measured in the same run where there is one:

  poll       one poll + publish (read the device, diff 10 000 peers, encode and hand the
             changes to a subscriber)                         vs  `wg show <if> dump`
             - idle peers (the real device as it is), and
             - every peer changed (synthetic worst case: the real device is read, then
               answered with pre-built states in which every counter moved)
  stall      the longest an event-loop tick (1 ms timer) was late during those polls, and
             the slowest concurrent GET /health served over HTTP by the same process
             while it polls every second (client in another process)
  snapshot   one snapshot tick of 10 000 changed peers (one transaction; target < 50 ms)
  rollup     rolling up one hour of raw rows (1.2 M at 10 000 peers) and deleting it later
  scrape     /metrics rendering and /api/status at 10 000 peers
  fan-out    100 SSE clients (another process, real HTTP through uvicorn + sse-starlette)
             at one change per second: server CPU % of one core, p50/p99/max delivery

Run as root:  .venv/bin/python bench/monitor.py [--peers 10000] [--rounds 5] [--fanout-seconds 30]
              [--gc-freeze]   (call gc.freeze() after start-up, as the daemon could)
Everything happens inside a network namespace the script creates and removes.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

IFACE = "wgmonbench0"
PORT = 18480


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


# -- client process (inside the namespace): /health prober and SSE readers ----------------------
CLIENT = r"""
import asyncio, json, sys, time

async def health(port, seconds):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        await w.drain()
        await r.read()
        w.close()
        out.append(time.monotonic() - t)
        await asyncio.sleep(0.02)
    print(json.dumps(out))

async def sse_one(port, received, ready):
    r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 26)  # the snapshot is one long line
    w.write(b"GET /events/1 HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
    await w.drain()
    ready.append(1)
    while True:
        line = await r.readline()
        if not line:
            return
        if line.startswith(b"event: status"):
            received.append(time.monotonic())

async def sse(port, n, seconds):
    received = [[] for _ in range(n)]
    ready = []
    tasks = [asyncio.create_task(sse_one(port, received[i], ready)) for i in range(n)]
    while len(ready) < n:
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    print(json.dumps(received), flush=True)

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "health":
    asyncio.run(health(port, float(sys.argv[3])))
else:
    asyncio.run(sse(port, int(sys.argv[3]), float(sys.argv[4])))
"""


class GcPauses:
    """Longest garbage-collector pause (any thread holds the GIL meanwhile)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.worst = max(self.worst, time.perf_counter() - self._start)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


class Stall:
    """Measures how late a 1 ms timer fires while something else runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - t - 0.001)

    def __enter__(self) -> Stall:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0.002)


async def inner() -> dict[str, Any]:
    import ipaddress

    import uvicorn
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from wgpilot import config
    from wgpilot.domain import keys
    from wgpilot.domain.models import Actor
    from wgpilot.kernel.driver import DeviceState
    from wgpilot.kernel.uapi import UserspaceDriver
    from wgpilot.monitor import Monitor
    from wgpilot.monitor.state import NetworkLive, PeerStatus
    from wgpilot.runtime import open_context
    from wgpilot.services.networks import NetworkService
    from wgpilot.services.reconcile import Reconciler, Report

    n, rounds, fan_seconds = int(os.environ["N"]), int(os.environ["ROUNDS"]), float(os.environ["FANOUT"])
    out: dict[str, Any] = {}
    settings = config.load(
        None, env={"WGPILOT_DATA_DIR": os.environ["DATA"], "WGPILOT_AUTH_BCRYPT_COST": "4"}
    )
    driver = UserspaceDriver()
    async with open_context(settings, driver=driver) as ctx:
        net = await NetworkService(ctx).create(
            Actor.cli(), name="bench", subnet="10.100.0.0/16", listen_port=51998, interface=IFACE
        )
        now = ctx.now()
        rows = []
        for i in range(n):
            _, pub = keys.generate_keypair()
            idx = i + 2
            addr = ipaddress.IPv4Address(int(net.subnet.network_address) + idx)
            rows.append((net.id, f"p{i}", pub, idx, str(addr), f'["{addr}/32"]', now, now))
        async with ctx.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO peers (network_id, name, public_key, ip_index, address, allowed_ips,"
                " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )
        await Reconciler(ctx).converge_network(ctx.db, net, Report())
        monitor = Monitor(ctx, settings)
        if os.environ.get("GC_FREEZE"):
            gc.collect()
            gc.freeze()  # start-up objects leave the collector's view: shorter full collections

        # A subscriber, so every publish really encodes its change.
        sub = await monitor.subscribe(net.id)

        async def drain() -> None:
            async for _ in sub:
                pass

        drainer = asyncio.create_task(drain())

        async def poll_publish() -> tuple[float, float, int]:
            c0, w0 = time.process_time(), time.perf_counter()
            _, changes = await monitor.poller.poll()
            for nid, changed in changes.items():
                await monitor.hub.publish(nid, changed)
            return time.perf_counter() - w0, time.process_time() - c0, sum(map(len, changes.values()))

        def wg_dump() -> tuple[float, float]:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            subprocess.run(["wg", "show", IFACE, "dump"], check=True, capture_output=True)
            wall = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

        await poll_publish()  # first sight: every peer is new
        idle, dumps, changed_idle, idle_stalls = [], [], 0, []
        with GcPauses() as gc_idle:
            for _ in range(rounds):
                with Stall() as st:
                    wall, cpu, changed_idle = await poll_publish()
                    await settle()
                idle.append((wall, cpu))
                idle_stalls.append(st.worst)
        reads = []
        for _ in range(rounds):
            dumps.append(wg_dump())
        with Stall() as stall_read:
            for _ in range(rounds):
                c0, w0 = time.process_time(), time.perf_counter()
                await driver.device(IFACE)
                reads.append((time.perf_counter() - w0, time.process_time() - c0))
                await settle()
        out["device"] = [statistics.median(x) for x in zip(*reads, strict=True)]
        out["stall_read"] = stall_read.worst
        out["poll_idle"] = [statistics.median(x) for x in zip(*idle, strict=True)]
        out["poll_idle_changed"] = changed_idle
        out["dump"] = [statistics.median(x) for x in zip(*dumps, strict=True)]
        out["stall_idle"] = (statistics.median(idle_stalls), max(idle_stalls))
        out["gc_idle"] = gc_idle.worst

        class Churn:
            """The real driver read (its cost is real), answered with one of a few
            pre-built states in which every peer's counters moved: all 10 000 peers change
            on every poll, and building those states costs the polls nothing."""

            name = driver.name

            def __init__(self, base: DeviceState, variants: int = 8) -> None:
                self.reads = 0
                hs = time.time() - 10
                self.states = [
                    replace(
                        base,
                        peers={
                            key: p._replace(
                                rx_bytes=p.rx_bytes + k * 1000,
                                tx_bytes=p.tx_bytes + k * 500,
                                last_handshake=hs,
                            )
                            for key, p in base.peers.items()
                        },
                    )
                    for k in range(1, variants + 1)
                ]

            def __getattr__(self, attr: str) -> Any:
                return getattr(driver, attr)

            async def device(self, name: str) -> DeviceState:
                await driver.device(name)
                self.reads += 1
                return self.states[self.reads % len(self.states)]

        churn = Churn(await driver.device(IFACE))
        ctx.driver = churn  # type: ignore[assignment]
        await poll_publish()
        busy, busy_stalls = [], []
        with GcPauses() as gc_busy:
            for _ in range(rounds):
                with Stall() as st:
                    wall, cpu, changed = await poll_publish()
                    await settle()
                busy.append((wall, cpu))
                busy_stalls.append(st.worst)
        out["poll_busy"] = [statistics.median(x) for x in zip(*busy, strict=True)]
        out["poll_busy_changed"] = changed
        out["stall_busy"] = (statistics.median(busy_stalls), max(busy_stalls))
        out["gc_busy"] = gc_busy.worst

        # Snapshot ticks of every peer changed.
        state = monitor.poller.state
        live = state.network(net.id)
        assert live is not None
        history = monitor.history
        t0 = (int(time.time()) // 3600 + 1) * 3600  # the next full hour: after the peers' created_at

        def churned(k: int) -> list[NetworkLive]:
            peers = {
                pid: PeerStatus(
                    pid, net.id, p.public_key, True, p.last_handshake, k * 1000, k * 500, 0.0, 0.0, None
                )
                for pid, p in live.peers.items()
            }
            return [replace(live, peers=MappingProxyType(peers))]

        ticks, tick_stalls = [], []
        for k in range(120):  # one hour of ticks
            nets = churned(k + 1)
            await settle()
            with Stall() as stall_snap:
                await history.snapshot(nets, now=t0 + 30 * k)
                await settle()
            ticks.append(history.last_tick_seconds)
            tick_stalls.append(stall_snap.worst)
        out["stall_snapshot"] = (statistics.median(tick_stalls), max(tick_stalls))
        out["snapshot"] = (statistics.median(ticks), max(ticks), history.last_tick_rows)
        raw_rows = await ctx.db.fetchval("SELECT COUNT(*) FROM peer_snapshots")
        with Stall() as stall_roll:
            w0 = time.perf_counter()
            report = await history.compact(t0 + 3600 + 60)
            roll = time.perf_counter() - w0
        out["rollup"] = (roll, report.hours_rolled, raw_rows, stall_roll.worst)
        with Stall() as stall_prune:
            w0 = time.perf_counter()
            report = await history.compact(t0 + 25 * 3600 + 60)
            prune = time.perf_counter() - w0
        out["prune"] = (prune, report.raw_deleted, stall_prune.worst)

        # Scrape and status at N peers.
        ctx.driver = driver
        await monitor.poller.poll()
        with Stall() as stall_scrape:
            w0 = time.perf_counter()
            text = await monitor.render_metrics()
            scrape = time.perf_counter() - w0
        w0 = time.perf_counter()
        await monitor.status()
        status_t = time.perf_counter() - w0
        out["scrape"] = (scrape, len(text), stall_scrape.worst, status_t)
        sub.close()
        await drainer

        # HTTP: /health and SSE served by this process, clients in another one.
        async def health(request: Request) -> JSONResponse:
            return JSONResponse(await monitor.health())

        async def events(request: Request) -> EventSourceResponse:
            s = await monitor.subscribe(int(request.path_params["nid"]))
            return EventSourceResponse(s.sse(), ping=3600)

        app = Starlette(routes=[Route("/health", health), Route("/events/{nid}", events)])
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=PORT, log_config=None, access_log=False, lifespan="off"
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)

        # /health while the monitor polls every second, every peer changing.
        ctx.driver = churn  # type: ignore[assignment]
        monitor.poll_interval = 1.0
        runner = asyncio.create_task(monitor._poll_loop())
        prober = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLIENT, "health", str(PORT), "10", stdout=asyncio.subprocess.PIPE
        )
        hout, _ = await prober.communicate()
        monitor._stop.set()
        await runner
        monitor._stop.clear()
        lat = json.loads(hout)
        out["health"] = (statistics.median(lat), pct(lat, 0.99), max(lat), len(lat), monitor.poller.polls)

        # Fan-out: 100 SSE clients, one change per second, no polling (its cost is above).
        ctx.driver = driver
        n_clients = 100
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            "sse",
            str(PORT),
            str(n_clients),
            str(fan_seconds + 2),
            stdout=asyncio.subprocess.PIPE,
        )
        assert client.stdout is not None
        assert (await client.stdout.readline()).strip() == b"ready"
        while monitor.hub.subscribers(net.id) < n_clients:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        first = next(iter(live.peers.values()))
        sent: list[float] = []
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(int(fan_seconds)):
            change = first._replace(rx_bytes=first.rx_bytes + i + 1)
            sent.append(time.monotonic())
            await monitor.hub.publish(net.id, [change])
            await asyncio.sleep(1.0)
        cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
        received = json.loads((await client.stdout.readline()).decode())
        await client.wait()
        delays = [conn[i] - sent[i] for conn in received for i in range(min(len(conn), len(sent)))]
        complete = sum(1 for conn in received if len(conn) >= len(sent))
        out["fanout_counts"] = sorted({len(conn) for conn in received})
        # Idle baseline: same process, same clients gone, nothing published.
        c0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(5)
        idle_cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
        out["fanout"] = {
            "clients": n_clients,
            "complete": complete,
            "events": len(sent),
            "cpu": cpu,
            "idle_cpu": idle_cpu,
            "p50": pct(delays, 0.5),
            "p99": pct(delays, 0.99),
            "max": max(delays),
        }
        server.should_exit = True
        await serving
        ctx.driver = driver
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fanout-seconds", type=int, default=30)
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after start-up")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        print(json.dumps(asyncio.run(inner())))
        return
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces)")
    from tests.system.netns import PYTHON, Lab

    lab = Lab()
    try:
        host = lab.host("monbench")
        env = {
            "N": str(args.peers),
            "ROUNDS": str(args.rounds),
            "FANOUT": str(args.fanout_seconds),
            "DATA": str(host.root / "data"),
            "GC_FREEZE": "1" if args.gc_freeze else "",
        }
        print(
            f"== monitor benchmarks: {args.peers} peers on wireguard-go, median of {args.rounds} rounds"
            f"{', gc.freeze() after start-up' if args.gc_freeze else ''} =="
        )
        r = host.run(PYTHON, str(Path(__file__).resolve()), "--inner", env=env, timeout=3600)
        res = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        lab.close()
    (iw, ic), (bw, bc), (dw, dc) = res["poll_idle"], res["poll_busy"], res["dump"]
    print(
        f"poll+publish, idle peers:        wall {fmt(iw)}  cpu {fmt(ic)}   vs wg show dump wall {fmt(dw)}"
        f" cpu {fmt(dc)}   ratio wall {iw / dw:.2f}x  cpu {ic / dc:.2f}x   ({res['poll_idle_changed']} changed)"
    )
    rw, rc = res["device"]
    print(
        f"  of which the driver's device read (UAPI + parse, not monitor code): wall {fmt(rw)}  cpu {fmt(rc)}"
        f"   -> monitor's own work: wall {fmt(iw - rw)}  cpu {fmt(ic - rc)}"
    )
    print(
        f"poll+publish, all peers changed: wall {fmt(bw)}  cpu {fmt(bc)}   ratio wall {bw / dw:.2f}x"
        f"  cpu {bc / dc:.2f}x   ({res['poll_busy_changed']} changed)"
    )
    print(
        "event-loop stall per poll (lateness of a 1 ms timer), median/max:"
        f" idle {fmt(res['stall_idle'][0])}/{fmt(res['stall_idle'][1])}"
        f"  all changed {fmt(res['stall_busy'][0])}/{fmt(res['stall_busy'][1])}"
        f"   longest GC pause {fmt(res['gc_idle'])}/{fmt(res['gc_busy'])}"
        f"   driver read alone {fmt(res['stall_read'])}"
    )
    h50, h99, hmax, hn, polls = res["health"]
    print(
        f"GET /health during polls (1/s, all changed, HTTP from another process): p50 {fmt(h50)}"
        f"  p99 {fmt(h99)}  max {fmt(hmax)}   ({hn} requests, {polls} polls)"
    )
    med, worst, nrows = res["snapshot"]
    print(
        f"snapshot tick, {nrows} changed peers, one transaction: median {fmt(med)}  max {fmt(worst)}"
        f"  (target < 50 ms)   loop stall median {fmt(res['stall_snapshot'][0])}"
        f" max {fmt(res['stall_snapshot'][1])}"
    )
    roll, hours, raw_rows, roll_stall = res["rollup"]
    print(
        f"roll-up of one hour ({raw_rows} raw rows): {fmt(roll)} ({hours} hours)   loop stall {fmt(roll_stall)}"
    )
    prune, deleted, prune_stall = res["prune"]
    print(f"retention, deleting {deleted} raw rows in slices: {fmt(prune)}   loop stall {fmt(prune_stall)}")
    scrape, size, scrape_stall, status_t = res["scrape"]
    print(
        f"/metrics render: {fmt(scrape)} ({size / 1e6:.1f} MB, written in slices; loop stall {fmt(scrape_stall)})"
        f"   /api/status body: {fmt(status_t)}"
    )
    f = res["fanout"]
    print(
        f"SSE fan-out to {f['clients']} clients at 1 change/s over HTTP: server cpu {f['cpu'] * 100:.2f}% of a core"
        f" (idle {f['idle_cpu'] * 100:.2f}%)   delivery p50 {fmt(f['p50'])}  p99 {fmt(f['p99'])}"
        f"  max {fmt(f['max'])}   ({f['complete']}/{f['clients']} clients got all {f['events']} events"
        f" {res['fanout_counts']};"
        " targets < 5%, p99 < 100 ms)"
    )


if __name__ == "__main__":
    main()
