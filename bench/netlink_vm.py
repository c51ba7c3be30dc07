"""Kernel WireGuard through the netlink driver, each against wireguard-tools in the same run:

  sync     10 000 peers set on an empty device (driver.configure, replace)  vs  `wg setconf`
  remove   1 000 of them deleted (driver.configure(remove=...))            vs  `wg syncconf` without them
  stats    reading 10 000 peers with their counters (driver.device)        vs  `wg show <if> dump`
           as a poll (the driver read the device before, as the monitor does)
           and as a first read (informational)

Needs the WireGuard kernel module, so it runs in the VM:
    python -m tests.vm.vm run -- python bench/netlink_vm.py [--peers 10000] [--rounds 5]
It works in a network namespace of its own, created and removed here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wgpilot.domain import keys
from wgpilot.kernel.driver import PeerConfig
from wgpilot.kernel.netlink import NetlinkDriver
from wgpilot.services.reconcile import peer_diff

IFACE = "wgbench0"
NETNS = f"wgpbench{os.getpid()}"


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


def wg(*args: str) -> str:
    return subprocess.run(["wg", *args], check=True, capture_output=True, text=True).stdout


def make_peers(n: int) -> list[PeerConfig]:
    """Peers as wgpilot configures them: a key, a preshared key, a /32 and a /128."""
    return [
        PeerConfig(
            keys.generate_keypair()[1],
            keys.generate_preshared_key(),
            (f"10.{100 + (i >> 16)}.{i >> 8 & 255}.{i & 255}/32", f"fd00:100::{i:x}/128"),
        )
        for i in range(n)
    ]


def conf(private_key: str, port: int, peers: list[PeerConfig]) -> str:
    out = [f"[Interface]\nPrivateKey = {private_key}\nListenPort = {port}\n"]
    for p in peers:
        out.append(f"[Peer]\nPublicKey = {p.public_key}\nPresharedKey = {p.preshared_key}\n")
        out.append(f"AllowedIPs = {', '.join(p.allowed_ips)}\n")
    return "\n".join(out)


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


def run_wg(*args: str) -> float:
    t = time.perf_counter()
    wg(*args)
    return time.perf_counter() - t


async def bench(n: int, rounds: int, removed: int) -> None:
    d = NetlinkDriver()
    priv, port = keys.generate_private_key(), 51999
    peers = make_peers(n)
    kept = peers[removed:]
    tmp = Path(tempfile.mkdtemp(prefix="wgpbench-"))
    full, without = tmp / "full.conf", tmp / "without.conf"
    full.write_text(conf(priv, port, peers))
    without.write_text(conf(priv, port, kept))
    try:
        await d.create(IFACE)
        await d.set_link(IFACE, addresses=["10.99.0.1/16"], mtu=1420, up=True)
        clear = lambda: d.configure(IFACE, replace_peers=True)  # noqa: E731

        ours, theirs = [], []
        for _ in range(rounds):
            await clear()
            ours.append(
                await timed(
                    lambda: d.configure(
                        IFACE, private_key=priv, listen_port=port, peers=peers, replace_peers=True
                    )
                )
            )
            assert len((await d.device(IFACE)).peers) == n
            await clear()
            theirs.append(run_wg("setconf", IFACE, str(full)))
            assert len((await d.device(IFACE)).peers) == n
        report(f"sync {n} peers", "wgpilot", ours, "wg setconf", theirs, 1.0)

        gone = [p.public_key for p in peers[:removed]]
        ours, diffed, theirs = [], [], []
        desired = {p.public_key: p for p in kept}

        async def converge() -> None:
            upserts, removes = peer_diff(desired, await d.device(IFACE))
            await d.configure(IFACE, peers=upserts, remove=removes)

        for _ in range(rounds):
            ours.append(await timed(lambda: d.configure(IFACE, remove=gone)))
            assert len((await d.device(IFACE)).peers) == n - removed
            await d.configure(IFACE, peers=peers[:removed])
            diffed.append(await timed(converge))
            assert len((await d.device(IFACE)).peers) == n - removed
            await d.configure(IFACE, peers=peers[:removed])
            theirs.append(run_wg("syncconf", IFACE, str(without)))
            assert len((await d.device(IFACE)).peers) == n - removed
            await d.configure(IFACE, peers=peers[:removed])
        report(f"remove {removed} of {n}", "wgpilot", ours, "wg syncconf", theirs, 1.1)
        report("  (with a dump + diff first)", "wgpilot", diffed, "wg syncconf", theirs, None)

        # A poll: the driver has read this device before (what the monitor does every few
        # seconds); a first read: a new driver, nothing decoded yet.
        polls, firsts, theirs = [], [], []
        for _ in range(rounds):
            polls.append(await timed(lambda: d.device(IFACE)))
            fresh = NetlinkDriver()
            firsts.append(await timed(lambda: fresh.device(IFACE)))  # noqa: B023
            await fresh.close()
            theirs.append(run_wg("show", IFACE, "dump"))
        report(f"stats of {n} peers (poll)", "wgpilot", polls, "wg show dump", theirs, 1.0)
        report("  (first read)", "wgpilot", firsts, "wg show dump", theirs, None)
    finally:
        await d.delete(IFACE)
        await d.close()
        for f in (full, without):
            f.unlink(missing_ok=True)
        tmp.rmdir()


def report(what: str, a: str, ours: list[float], b: str, theirs: list[float], target: float | None) -> None:
    mo, mt = statistics.median(ours), statistics.median(theirs)
    note = "info"
    if target is not None:
        note = f"target <= {target}x, " + ("ok" if mo / mt <= target else "OVER TARGET")
    print(f"{what:<30} {a} {fmt(mo):>10}  vs  {b} {fmt(mt):>10}   ratio {mo / mt:.2f}x  ({note})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=10_000)
    ap.add_argument("--remove", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        asyncio.run(bench(args.peers, args.rounds, args.remove))
        return
    if os.geteuid() != 0:
        sys.exit("run as root (a network namespace and kernel WireGuard)")
    print(
        f"== netlink driver vs wireguard-tools: {args.peers} peers, median of {args.rounds} rounds, kernel {os.uname().release} =="
    )
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        cmd = [
            sys.executable,
            __file__,
            "--inside",
            f"--peers={args.peers}",
            f"--remove={args.remove}",
            f"--rounds={args.rounds}",
        ]
        sys.exit(subprocess.run(["ip", "netns", "exec", NETNS, *cmd]).returncode)
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)


if __name__ == "__main__":
    main()
