"""API throughput and latency with wrk (a second process on loopback), against a bare
Starlette JSON endpoint on the same uvicorn + TLS setup, measured in the same run:

  list     GET /api/networks/1/peers?limit=100 on a network of 10 000 peers
  create   POST /api/networks/1/peers (validate, allocate, SQLite transaction with
           fsync, audit entry, kernel call on the fake driver)
  rss      peak RSS of the server process holding 10 000 peers

Run:  .venv/bin/python bench/api.py [--peers 10000] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
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
  local body = string.format('{"name": "wrk-%d-%d-%d"}', tid, counter, math.random(1, 1000000000))
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


def wrk(
    port: int, token: str, path: str, seconds: int, connections: int, lua: Path | None = None
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
        [*cmd, f"https://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout

    def lat(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert m, out
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat("50"), "p99": lat("99"), "errors": int(non2xx.group(1)) if non2xx else 0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    lua_dir = Path(tempfile.mkdtemp(prefix="wgpilot-bench-lua-"))
    lua = lua_dir / "create.lua"
    lua.write_text(CREATE_LUA)
    print(
        f"== API benchmarks: {args.peers} peers, wrk {args.connections} connections x {args.seconds} s, TLS =="
    )
    results: dict[str, dict[str, dict[str, float]]] = {}
    rss = 0.0
    try:
        for kind in ("bare", "wgpilot"):
            proc, port, token, data = start(kind, args.peers)
            try:
                wrk(port, token, "/api/networks/1/peers?limit=100", 2, args.connections)  # warm-up
                results[kind] = {
                    "list": wrk(
                        port, token, "/api/networks/1/peers?limit=100", args.seconds, args.connections
                    ),
                    "create": wrk(port, token, "/api/networks/1/peers", args.seconds, args.connections, lua),
                }
                if kind == "wgpilot":
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    rss = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
                shutil.rmtree(data, ignore_errors=True)
    finally:
        shutil.rmtree(lua_dir, ignore_errors=True)
    for op in ("list", "create"):
        w, b = results["wgpilot"][op], results["bare"][op]
        print(
            f"{op:7s} wgpilot {w['rps']:8.0f} req/s  p50 {w['p50']:6.1f} ms  p99 {w['p99']:6.1f} ms  errors {w['errors']:.0f}"
            f"   | bare {b['rps']:8.0f} req/s  p50 {b['p50']:6.1f} ms  p99 {b['p99']:6.1f} ms"
            f"   | ratio {w['rps'] / b['rps']:.2f} (target >= 0.5)"
        )
    print(f"peak RSS of the wgpilot server holding {args.peers} peers: {rss:.1f} MiB (target < 150 MiB)")


if __name__ == "__main__":
    main()
