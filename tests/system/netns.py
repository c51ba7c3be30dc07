"""Hosts built from network namespaces, for tests that send real packets.

Every ``Host`` is a network namespace plus a private ``/run/wireguard`` (a bind
mount inside a private mount namespace, set up for each command run in it), so
WireGuard daemons of different hosts never see each other's control sockets even
when their interfaces share a name. Links are veth pairs created directly inside
the namespaces; a ``Lab`` owns its hosts and destroys them (processes, namespace,
files) when the test ends. Nothing here touches the host's own interfaces or ruleset.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
_counter = itertools.count(1)
_PREFIX = f"wgpt{os.getpid() % 100000}"
# wireguard-go reports "kernel has first class support" noise on stderr; wg-quick
# falls back to it when `ip link add type wireguard` is not supported.
USERSPACE_ENV = {"WG_QUICK_USERSPACE_IMPLEMENTATION": "wireguard-go"}
# Hang guards (never timing assertions) are multiplied by this: the VM stage runs the
# suite under software emulation, where starting Python alone takes many seconds.
PATIENCE = float(os.environ.get("WGPILOT_TEST_PATIENCE", "1"))


def drivers_under_test() -> list[str]:
    """The wgpilot drivers the system suite exercises: ``WGPILOT_TEST_DRIVER``, comma-separated
    (userspace on this host, which has no WireGuard module; the VM stage runs the same
    scenarios with netlink on kernel WireGuard)."""
    return [d.strip() for d in os.environ.get("WGPILOT_TEST_DRIVER", "userspace").split(",") if d.strip()]


def driver_under_test() -> str:
    """The first of ``drivers_under_test()`` (for tests that run with one driver only)."""
    return drivers_under_test()[0]


def wait_for(
    predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"
) -> None:
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class CommandFailed(AssertionError):
    pass


class Host:
    def __init__(self, lab: Lab, name: str) -> None:
        self.lab = lab
        self.name = name
        self.ns = f"{_PREFIX}-{lab.id}-{name}"
        self.root = lab.root / name
        self.wgdir = self.root / "run-wireguard"
        self._procs: list[subprocess.Popen[bytes]] = []

    def create(self) -> None:
        self.wgdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.ip("link", "set", "lo", "up")

    # -- running things inside ---------------------------------------------------------------
    def argv(self, *cmd: str) -> list[str]:
        shim = 'mount --bind "$0" /run/wireguard && exec "$@"'
        return [
            "ip",
            "netns",
            "exec",
            self.ns,
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            shim,
            str(self.wgdir),
            *cmd,
        ]

    def run(
        self,
        *cmd: str,
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            self.argv(*cmd),
            capture_output=True,
            text=True,
            input=input,
            env=full_env,
            timeout=timeout * PATIENCE,
            cwd=REPO,
        )
        if check and proc.returncode != 0:
            raise CommandFailed(
                f"[{self.name}] {' '.join(cmd)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def popen(self, *cmd: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        fh = open(log, "ab")
        proc = subprocess.Popen(
            self.argv(*cmd),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
        fh.close()
        self._procs.append(proc)
        return proc

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("ip", *args, check=check)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-q", "-w", f"{key}={value}")

    def ping(self, address: str, *, count: int = 1, wait: float = 1.0) -> bool:
        return (
            self.run("ping", "-n", "-q", "-c", str(count), "-W", str(wait), address, check=False).returncode
            == 0
        )

    def can_reach(self, address: str, timeout: float = 10.0) -> bool:
        """Ping until one answer arrives or ``timeout`` passes (handshakes take a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping(address):
                return True
        return False

    def write(self, name: str, text: str, mode: int = 0o600) -> Path:
        path = self.root / name
        path.write_text(text)
        path.chmod(mode)
        return path

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def destroy(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 3
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
        for proc in self._procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True)


class Lab:
    """A set of hosts for one test; ``close()`` destroys all of them."""

    def __init__(self) -> None:
        self.id = next(_counter)
        self.root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}-lab{self.id}-"))
        self.hosts: dict[str, Host] = {}
        self._links = itertools.count(1)
        Path("/run/wireguard").mkdir(parents=True, exist_ok=True)

    def host(self, name: str) -> Host:
        h = Host(self, name)
        h.create()
        self.hosts[name] = h
        return h

    def link(self, a: Host, b: Host, a_addr: str | None = None, b_addr: str | None = None) -> tuple[str, str]:
        """A veth pair between two hosts; returns (name in a, name in b)."""
        n = next(self._links)
        ia, ib = f"v{self.id}x{n}a", f"v{self.id}x{n}b"
        subprocess.run(
            ["ip", "-n", a.ns, "link", "add", ia, "type", "veth", "peer", "name", ib, "netns", b.ns],
            check=True,
        )
        for host, iface, addr in ((a, ia, a_addr), (b, ib, b_addr)):
            if addr:
                host.ip("addr", "add", addr, "dev", iface)
            host.ip("link", "set", iface, "up")
        return ia, ib

    def bridge(self, host: Host, name: str, addr: str) -> str:
        host.ip("link", "add", name, "type", "bridge")
        host.ip("addr", "add", addr, "dev", name)
        host.ip("link", "set", name, "up")
        return name

    def attach(self, host: Host, bridge_host: Host, bridge: str, addr: str) -> str:
        """Plug ``host`` into ``bridge`` on ``bridge_host`` with address ``addr``."""
        ia, ib = self.link(host, bridge_host, addr, None)
        bridge_host.ip("link", "set", ib, "master", bridge)
        return ia

    def close(self) -> None:
        for host in reversed(list(self.hosts.values())):
            host.destroy()
        shutil.rmtree(self.root, ignore_errors=True)


class Wgpilot:
    """wgpilot (CLI and server) running on a lab host, with its own data directory."""

    def __init__(self, host: Host, driver: str | None = None) -> None:
        self.host = host
        self.data_dir = host.root / "data"
        self.driver = driver or driver_under_test()
        self.env = {
            "WGPILOT_DATA_DIR": str(self.data_dir),
            "WGPILOT_WIREGUARD_DIR": str(host.root / "wireguard"),  # not the host's /etc/wireguard
            "WGPILOT_RUNTIME_DIR": str(host.root / "run-wgpilot"),  # not the host's /run/wgpilot
            "WGPILOT_DRIVER": self.driver,
            "WGPILOT_LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.log = host.root / "wgpilot-serve.log"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.host.run(PYTHON, "-m", "wgpilot", *args, check=check, env=self.env)

    def json(self, *args: str) -> object:
        import json

        return json.loads(self.cli(*args, "--json").stdout)

    def config(self, network: str, peer: str) -> str:
        return self.cli("peer", "config", "--network", network, peer).stdout

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "wgpilot.pid"

    def start(self, *extra: str, timeout: float = 30) -> None:
        assert self.server is None, "already running"
        self.pid_file.unlink(missing_ok=True)
        self.server = self.host.popen(PYTHON, "-m", "wgpilot", "serve", *extra, log=self.log, env=self.env)
        wait_for(
            lambda: self.pid_file.exists() or self.server is None or self.server.poll() is not None,
            timeout,
            what="wgpilot serve to finish its start-up reconcile",
        )
        if self.server.poll() is not None:
            raise AssertionError(f"wgpilot serve exited {self.server.returncode}:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.server is not None
        # The server is the last process of the exec chain (ip netns exec → unshare → sh → python).
        self.server.send_signal(sig)
        try:
            code = self.server.wait(timeout=timeout * PATIENCE)
        finally:
            self.server = None
        return code


def dump(host: Host, iface: str) -> list[list[str]]:
    """``wg show <iface> dump`` split into rows (first row = the interface)."""
    out = host.run("wg", "show", iface, "dump").stdout
    return [line.split("\t") for line in out.strip().splitlines()]


def peers_of(host: Host, iface: str) -> dict[str, list[str]]:
    """public key → (psk, endpoint, allowed ips, handshake, rx, tx, keepalive)."""
    return {row[0]: row[1:] for row in dump(host, iface)[1:]}


def client_up(host: Host, iface: str, conf: str) -> Path:
    """Bring a client interface up from a wgpilot-rendered .conf with wg-quick."""
    path = host.write(f"{iface}.conf", conf)
    host.run("wg-quick", "up", str(path), env=USERSPACE_ENV)
    return path


def client_down(host: Host, iface: str) -> None:
    host.run("wg-quick", "down", str(host.root / f"{iface}.conf"), env=USERSPACE_ENV, check=False)


def interfaces(host: Host) -> list[str]:
    out = host.run("ip", "-o", "link", "show").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def nft_json(host: Host, *what: str) -> dict[str, object]:
    import json

    return json.loads(host.run("nft", "-j", "list", *what).stdout)


def strip_handles(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: strip_handles(v) for k, v in doc.items() if k not in {"handle", "metainfo"}}
    if isinstance(doc, list):
        return [strip_handles(v) for v in doc if not (isinstance(v, dict) and "metainfo" in v)]
    return doc


TCP_SOURCE_ECHO = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
print("listening", flush=True)
while True:
    c, (addr, _) = s.accept()
    c.sendall(addr.encode() + b"\\n"); c.close()
"""

TCP_ASK = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print(c.recv(100).decode().strip())
"""


def serve_source_echo(host: Host, addr: str, port: int) -> None:
    """A TCP server on ``host`` that answers each connection with the source address it saw."""
    script = host.write("echo_source.py", TCP_SOURCE_ECHO, 0o644)
    log = host.root / "echo.log"
    host.popen(PYTHON, str(script), addr, str(port), log=log)
    wait_for(lambda: log.exists() and "listening" in log.read_text(), 10, what="echo server")


def ask_source(host: Host, addr: str, port: int) -> str:
    script = host.write("ask.py", TCP_ASK, 0o644)
    return host.run(PYTHON, str(script), addr, str(port)).stdout.strip()


__all__ = [
    "Host",
    "Lab",
    "Sequence",
    "Wgpilot",
    "ask_source",
    "client_down",
    "client_up",
    "driver_under_test",
    "drivers_under_test",
    "dump",
    "interfaces",
    "nft_json",
    "peers_of",
    "serve_source_echo",
    "strip_handles",
    "wait_for",
]


API_AGENT = r"""
import json, sys
import httpx
base = sys.argv[1]
client = httpx.Client(base_url=base, verify=False, timeout=60, headers={"Origin": base})
for line in sys.stdin:
    req = json.loads(line)
    try:
        r = client.request(req["method"], req["path"], json=req.get("json"),
                           content=bytes.fromhex(req["raw"]) if req.get("raw") else None,
                           headers=req.get("headers") or {})
        ctype = r.headers.get("content-type", "")
        body = r.json() if ctype.startswith("application/json") else None
        out = {"status": r.status_code, "json": body, "text": r.text if body is None and ctype.startswith("text/") else None,
               "hex": r.content.hex() if body is None and not ctype.startswith("text/") else None, "headers": dict(r.headers)}
    except Exception as exc:  # connection refused etc.: the test decides what that means
        out = {"status": 0, "error": repr(exc)}
    print(json.dumps(out), flush=True)
"""


class ApiAgent:
    """An HTTPS client living inside a lab host (the server is only reachable there):
    one process, one cookie jar, JSON lines in and out."""

    def __init__(self, host: Host, base_url: str) -> None:
        script = host.write("api_agent.py", API_AGENT, 0o644)
        self.proc = subprocess.Popen(
            host.argv(PYTHON, str(script), base_url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=REPO,
        )
        host._procs.append(self.proc)  # type: ignore[arg-type]

    def call(
        self,
        method: str,
        path: str,
        json_body: object = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, object]:
        import json

        assert self.proc.stdin is not None and self.proc.stdout is not None
        req = {"method": method, "path": path, "json": json_body, "headers": headers or {}}
        if raw is not None:
            req["raw"] = raw.hex()
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the API agent died")
        return dict(json.loads(line))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
