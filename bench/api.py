"""API throughput and latency with wrk (a second process on loopback), against a bare
Starlette JSON endpoint on the same uvicorn + TLS setup, measured in the same run:

  list     GET /api/networks/1/peers?limit=100 on a network of 10 000 peers
  create   POST /api/networks/1/peers (validate, allocate, SQLite transaction with
           fsync, audit entry, kernel call on the fake driver)
  rss      peak RSS of the server process holding 10 000 peers (after the list runs,
           before it creates any)

Both servers run side by side (the idle one costs nothing) and the runs alternate,
bare-wgpilot then wgpilot-bare, for --rounds rounds, with a fresh wgpilot server of
--peers peers for every concurrency level of every round: on a shared 2-core machine the speed of the same code drifts
by 10 % and more between minutes, so one run of each, minutes apart, measures the
drift as much as the code. Each round's ratio compares two adjacent runs; the summary
is the median of the rounds.

Two concurrency levels by default. At 16 connections the bare endpoint saturates its
event loop but wgpilot does not: its creations wait for their group commit (about 7
to one COMMIT, which takes 1.1 ms from the loop's side: 0.5 ms of write and fsync on
the database thread, 0.6 ms of hand-offs between the threads), so
16 measures latency under moderate load as much as capacity. At 64 both are
saturated: requests/s is each server's peak throughput (128 was no higher for either).

Run:  .venv/bin/python bench/api.py [--peers 10000] [--seconds 10] [--connections 16,64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CREATE_LUA = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  -- Unique in every run: a name already taken is a cheap 409, not a creation.
  local body = string.format('{"name": "%s-%d-%d"}', os.getenv("WGPILOT_BENCH_RUN") or "run", tid, counter)
  return wrk.format("POST", "/api/networks/1/peers", nil, body)
end
"""


def start(kind: str, peers: int) -> tuple[subprocess.Popen[str], int, str, Path]:
    data = Path(tempfile.mkdtemp(prefix=f"wgpilot-bench-{kind}-"))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "apiserver.py"), kind, str(data), str(peers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        raise SystemExit(f"{kind} server did not start")
    _, port, token = line.split()
    return proc, int(port), token, data


def peak_rss(proc: subprocess.Popen[str]) -> float:
    status = Path(f"/proc/{proc.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[str], port: int, token: str, data: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)


def wrk(
    port: int,
    token: str,
    path: str,
    seconds: int,
    connections: int,
    lua: Path | None = None,
    run: str = "run",
) -> dict[str, float]:
    cmd = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Cookie: __Host-wgpilot_session={token}",
        "-H",
        f"Origin: https://127.0.0.1:{port}",
        "-H",
        "Content-Type: application/json",
    ]
    if lua:
        cmd += ["-s", str(lua)]
    out = subprocess.run(
        [*cmd, f"https://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "WGPILOT_BENCH_RUN": run},
    ).stdout

    def lat(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert m, out
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = int(non2xx.group(1)) if non2xx else 0
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "errors": errors, "ok": done - errors}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="16,64", help="comma-separated wrk connection counts")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    lua_dir = Path(tempfile.mkdtemp(prefix="wgpilot-bench-lua-"))
    lua = lua_dir / "create.lua"
    lua.write_text(CREATE_LUA)
    print(
        f"== API benchmarks: {args.peers} peers, wrk with {'/'.join(map(str, levels))} connections x {args.seconds} s,"
        f" TLS, {args.rounds} alternating rounds =="
    )
    ops = {"list": ("/api/networks/1/peers?limit=100", None), "create": ("/api/networks/1/peers", lua)}
    rounds: dict[tuple[str, int], list[dict[str, dict[str, float]]]] = {
        (op, c): [] for c in levels for op in ops
    }
    servers: dict[str, tuple[subprocess.Popen[str], int, str, Path]] = {}
    rss = rss_after = 0.0
    try:
        servers["bare"] = start("bare", args.peers)
        wrk(servers["bare"][1], "-", ops["list"][0], 2, levels[0])  # warm-up
        for r in range(args.rounds):
            order = ("bare", "wgpilot") if r % 2 == 0 else ("wgpilot", "bare")
            for conns in levels:
                # A fresh wgpilot server for every level of every round: each create run
                # starts from a network of --peers peers, not from the tens of thousands
                # the run before it added.
                servers["wgpilot"] = start("wgpilot", args.peers)
                _, port, token, _ = servers["wgpilot"]
                wrk(port, token, ops["list"][0], 2, conns)  # warm-up
                for op, (path, script) in ops.items():
                    result = {}
                    for kind in order:
                        _, port, token, _ = servers[kind]
                        result[kind] = wrk(port, token, path, args.seconds, conns, script, f"r{r}c{conns}")
                    rounds[(op, conns)].append(result)
                    w, b = result["wgpilot"], result["bare"]
                    print(
                        f"  round {r + 1} {op:7s} {conns:3d} conn  wgpilot {w['rps']:6.0f} req/s"
                        f"  bare {b['rps']:6.0f} req/s  ratio {w['rps'] / b['rps']:.2f}",
                        flush=True,
                    )
                    if op == "list":  # holding --peers peers, and nothing it created itself
                        rss = max(rss, peak_rss(servers["wgpilot"][0]))
                rss_after = max(rss_after, peak_rss(servers["wgpilot"][0]))
                stop(*servers.pop("wgpilot"))
    finally:
        for server in servers.values():
            stop(*server)
        shutil.rmtree(lua_dir, ignore_errors=True)
    for (op, conns), results in rounds.items():
        ratios = [x["wgpilot"]["rps"] / x["bare"]["rps"] for x in results]
        mid = sorted(range(len(results)), key=lambda i: ratios[i])[len(results) // 2]
        w, b = results[mid]["wgpilot"], results[mid]["bare"]
        errors = sum(x["wgpilot"]["errors"] for x in results)
        print(
            f"{op:7s} {conns:3d} conn  wgpilot {w['rps']:6.0f} req/s  p50 {w['p50']:5.1f} ms  p99 {w['p99']:5.1f} ms"
            f"  errors {errors:.0f}  | bare {b['rps']:6.0f} req/s  p50 {b['p50']:5.1f} ms  p99 {b['p99']:5.1f} ms"
            f"  | ratio {ratios[mid]:.2f}, median of {len(ratios)} ({min(ratios):.2f}-{max(ratios):.2f}; target >= 0.5)"
        )
    created = max(x["wgpilot"]["ok"] for op, c in rounds if op == "create" for x in rounds[(op, c)])
    print(f"peak RSS of a wgpilot server holding {args.peers} peers: {rss:.1f} MiB (target < 150 MiB)")
    print(f"  (after also creating up to {created} peers through the API: {rss_after:.1f} MiB)")


if __name__ == "__main__":
    main()
