"""Core benchmarks on one wireguard-go interface, each against a reference measured
in the same run:

  sync      wgpilot syncing 10 000 peers from the database   vs  `wg setconf` of the same peers
  add-one   the whole add-peer service call at 10 000 peers  vs  rewrite-everything
            (render the full config and `wg syncconf` it, as other tools do)
  stats     reading + parsing 10 000 peers' stats             vs  `wg show <if> dump`
  rss       peak RSS of `wgpilot serve` holding 10 000 peers

Run as root:  .venv/bin/python bench/core.py [--peers 10000] [--rounds 5]
Everything happens inside a network namespace the script creates and removes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.system.netns import Lab, Wgpilot, wait_for

IFACE = "wgbench0"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


INNER = r"""
import asyncio, os, statistics, subprocess, sys, time, json
sys.path.insert(0, os.environ["REPO"])
from wgpilot import config
from wgpilot.domain import keys
from wgpilot.domain.models import Actor
from wgpilot.runtime import open_context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.services.reconcile import Reconciler, Report
from wgpilot.kernel.uapi import UserspaceDriver
from wgpilot.domain import allowed_ips, render
import ipaddress

N, ROUNDS, IFACE = int(os.environ["N"]), int(os.environ["ROUNDS"]), os.environ["IFACE"]
out = {}

def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

async def main():
    settings = config.load(None, env={"WGPILOT_DATA_DIR": os.environ["DATA"], "WGPILOT_AUTH_BCRYPT_COST": "4"})
    driver = UserspaceDriver()
    async with open_context(settings, driver=driver) as ctx:
        actor = Actor.cli()
        net = await NetworkService(ctx).create(actor, name="bench", subnet="10.100.0.0/16", listen_port=51999,
                                               interface=IFACE)
        # Fill the database quickly (without touching the kernel), then sync it.
        now = ctx.now()
        async with ctx.db.transaction() as tx:
            rows = []
            for i in range(N):
                priv, pub = keys.generate_keypair()
                idx = i + 2
                addr = ipaddress.IPv4Address(int(net.subnet.network_address) + idx)
                rows.append((net.id, f"p{i}", None, ctx.cipher.encrypt(priv, "peer.private_key"), pub, None, idx,
                             str(addr), None, f'["{addr}/32"]', "[]", None, None, "client", "[]", 1, None, now, now))
            await tx.executemany(
                "INSERT INTO peers (network_id, name, email, private_key, public_key, preshared_key, ip_index,"
                " address, address6, allowed_ips, client_allowed_ips, endpoint, persistent_keepalive, role,"
                " site_networks, enabled, expires_at, created_at, updated_at) VALUES"
                " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        rec = Reconciler(ctx)
        peers_conf = "/tmp/wgbench-peers.conf"
        priv = await ctx.networks.private_key(ctx.db, net.id)
        lines = [f"[Interface]\nPrivateKey = {priv}\nListenPort = 51999\n"]
        for r in await ctx.peers.kernel_peers(ctx.db, net.id, now):
            lines.append(f"[Peer]\nPublicKey = {r.public_key}\nAllowedIPs = {', '.join(r.allowed_ips)}\n")
        open(peers_conf, "w").write("\n".join(lines))

        ours, theirs = [], []
        for _ in range(ROUNDS):
            await driver.configure(IFACE, replace_peers=True)
            t = time.perf_counter()
            await rec.converge_network(ctx.db, net, Report())
            ours.append(time.perf_counter() - t)
            assert len((await driver.device(IFACE)).peers) == N
            await driver.configure(IFACE, replace_peers=True)
            t = time.perf_counter()
            run("wg", "setconf", IFACE, peers_conf)
            theirs.append(time.perf_counter() - t)
        out["sync"] = (statistics.median(ours), statistics.median(theirs))
        await rec.converge_network(ctx.db, net, Report())

        # add one peer: the whole service call vs render-everything + wg syncconf
        svc = PeerService(ctx)
        adds = []
        for i in range(max(20, ROUNDS)):
            t = time.perf_counter()
            await svc.create(actor, net.id, name=f"extra{i}")
            adds.append(time.perf_counter() - t)
        rewrites = []
        for i in range(ROUNDS):
            t = time.perf_counter()
            priv_k, pub_k = keys.generate_keypair()
            rows = await ctx.peers.kernel_peers(ctx.db, net.id, now)
            text = [f"[Interface]\nPrivateKey = {priv}\nListenPort = 51999\n"]
            for r in rows:
                text.append(f"[Peer]\nPublicKey = {r.public_key}\nAllowedIPs = {', '.join(r.allowed_ips)}\n")
            text.append(f"[Peer]\nPublicKey = {pub_k}\nAllowedIPs = 10.100.250.{i + 1}/32\n")
            open(peers_conf, "w").write("\n".join(text))
            run("wg", "syncconf", IFACE, peers_conf)
            rewrites.append(time.perf_counter() - t)
        out["add"] = (statistics.median(adds), statistics.median(rewrites))

        # The first read parses every peer; later reads (the monitor's polls) reuse the
        # parse of every peer whose text did not change. Both are printed.
        from wgpilot.kernel import uapi

        uapi._BLOCKS.clear()
        t = time.perf_counter()
        await driver.device(IFACE)
        out["first_read"] = time.perf_counter() - t
        stats, dumps = [], []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            dev = await driver.device(IFACE)
            stats.append(time.perf_counter() - t)
            t = time.perf_counter()
            run("wg", "show", IFACE, "dump")
            dumps.append(time.perf_counter() - t)
        out["stats"] = (statistics.median(stats), statistics.median(dumps), len(dev.peers))
        await driver.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces)")
    lab = Lab()
    try:
        host = lab.host("bench")
        data = host.root / "data"
        script = host.write("inner.py", INNER, 0o644)
        env = {
            "REPO": str(Path(__file__).resolve().parents[1]),
            "N": str(args.peers),
            "ROUNDS": str(args.rounds),
            "IFACE": IFACE,
            "DATA": str(data),
        }
        print(f"== core benchmarks: {args.peers} peers, median of {args.rounds} rounds, wireguard-go ==")
        r = host.run(sys.executable, str(script), env=env, timeout=3600)
        import json

        res = json.loads(r.stdout.strip().splitlines()[-1])
        ours, theirs = res["sync"]
        print(
            f"sync {args.peers} peers:   wgpilot {fmt(ours)}  vs  wg setconf {fmt(theirs)}   ratio {ours / theirs:.2f}x  (target <= 1.2x)"
        )
        add, rewrite = res["add"]
        print(
            f"add one peer at {args.peers}: wgpilot {fmt(add)} (median service call)  vs  render + wg syncconf {fmt(rewrite)}"
            f"   {rewrite / add:.0f}x faster  (targets < 10 ms, >= 50x)"
        )
        st, dump, n = res["stats"]
        print(
            f"stats of {n} peers (a poll):  wgpilot {fmt(st)}  vs  wg show dump {fmt(dump)}"
            f"   ratio {st / dump:.2f}x  (target <= 1.2x)"
            f"\n    (first read of the device, every peer parsed: {fmt(res['first_read'])},"
            f" ratio {res['first_read'] / dump:.2f}x)"
        )

        # Peak RSS of the server holding those peers (its start-up reconcile loads them all).
        host.run("ip", "link", "del", IFACE, check=False)
        wg = Wgpilot(host, driver="userspace")
        wg.env["WGPILOT_DATA_DIR"] = str(data)
        wg.env["WGPILOT_LISTEN"] = "127.0.0.1:18443"
        wg.start(timeout=300)
        assert wg.server is not None
        pid = wg.server.pid
        wait_for(lambda: Path(f"/proc/{pid}/status").exists(), 5)
        time.sleep(2)
        hwm = next(
            line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
        )
        print(f"peak RSS of wgpilot serve with {args.peers + 20} peers: {int(hwm.split()[1]) / 1024:.1f} MiB")
        wg.stop()
    finally:
        lab.close()


if __name__ == "__main__":
    main()
