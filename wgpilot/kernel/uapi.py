"""Userspace WireGuard (wireguard-go, boringtun) through the cross-platform UAPI.

The daemon owns a TUN device and a control socket ``/var/run/wireguard/<iface>.sock``.
wgpilot may start ``wireguard-go -f <iface>`` when no socket exists; keys, port,
peers and statistics then go through the socket only, and links, addresses and
routes through rtnetlink (``links.Links``) like any other interface. A socket file
is stale, and removed, only when kernel/sockets.py finds nobody holding it.

Protocol (https://www.wireguard.com/xplatform/): ``set=1`` or ``get=1``, then
``key=value`` lines, then an empty line; the answer ends with ``errno=N`` and an
empty line. Keys are hex on the wire.
"""

from __future__ import annotations

import asyncio
import binascii
import errno as errno_mod
import ipaddress
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from wgpilot.domain import keys
from wgpilot.domain.errors import KernelError
from wgpilot.kernel import sockets
from wgpilot.kernel.driver import MARK, DeviceState, LinkState, PeerConfig, PeerState
from wgpilot.kernel.links import Links

log = logging.getLogger(__name__)

SOCKET_DIR = Path("/var/run/wireguard")
_ZERO_KEY_HEX = "0" * 64
_READ_LIMIT = 256 * 1024 * 1024
_START_TIMEOUT = 5.0
_PROBE_TIMEOUT = 1.0


class UapiError(KernelError):
    """The daemon answered a request with a non-zero errno."""

    def __init__(self, iface: str, code: int, what: str) -> None:
        reason = {
            errno_mod.EADDRINUSE: "the listen port is already in use",
            errno_mod.EINVAL: "the daemon rejected a value as invalid",
            errno_mod.EPROTO: "the daemon could not parse the request",
            errno_mod.EIO: "the daemon failed to apply the request",
        }.get(code, os.strerror(code) if 0 < code < 200 else f"error {code}")
        super().__init__(f"{iface}: {what} failed: {reason} (errno {code})")
        self.errno = code


def _format_endpoint(endpoint: str) -> str:
    """UAPI wants a literal address; resolve a host name the way ``wg`` does."""
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)
        if not infos:
            raise KernelError(f"cannot resolve endpoint host {host!r}") from None
        ip = ipaddress.ip_address(infos[0][4][0])
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def encode_set(
    *,
    private_key: str | None = None,
    listen_port: int | None = None,
    peers: Sequence[PeerConfig] = (),
    remove: Sequence[str] = (),
    replace_peers: bool = False,
) -> bytes:
    out = ["set=1"]
    if private_key is not None:
        out.append(f"private_key={keys.to_hex(private_key)}")
    if listen_port is not None:
        out.append(f"listen_port={listen_port}")
    if replace_peers:
        out.append("replace_peers=true")
    to_hex = keys.to_hex
    for pub in remove:
        out.append(f"public_key={to_hex(pub)}")
        out.append("remove=true")
    for p in peers:
        out.append(f"public_key={to_hex(p.public_key)}")
        out.append(f"preshared_key={to_hex(p.preshared_key) if p.preshared_key else _ZERO_KEY_HEX}")
        if p.endpoint:
            out.append(f"endpoint={_format_endpoint(p.endpoint)}")
        out.append(f"persistent_keepalive_interval={p.persistent_keepalive or 0}")
        out.append("replace_allowed_ips=true")
        for cidr in p.allowed_ips:
            out.append(f"allowed_ip={cidr}")
    out.append("")
    out.append("")
    return "\n".join(out).encode()


# wireguard-go writes every peer's keys in this order; one regex match per peer is
# several times faster than a Python loop over its lines. The answer is cut into
# peers at "\npublic_key=" first, so the pattern starts after that key.
_PEER_RE = re.compile(
    r"([0-9a-f]{64})\n"
    r"(?:preshared_key=([0-9a-f]{64})\n)?"
    r"(?:protocol_version=[0-9]+\n)?"
    r"(?:endpoint=([^\n]*)\n)?"
    r"(?:last_handshake_time_sec=([0-9]+)\n)?"
    r"(?:last_handshake_time_nsec=([0-9]+)\n)?"
    r"(?:tx_bytes=([0-9]+)\n)?"
    r"(?:rx_bytes=([0-9]+)\n)?"
    r"(?:persistent_keepalive_interval=([0-9]+)\n)?"
    r"((?:allowed_ip=[^\n]*\n)*)"
)


# hex → base64 for keys seen before: a device's peer set barely changes between polls,
# so after the first read nearly every conversion is one dict lookup.
_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_MAX = 262_144


def _b64(hexkey: str) -> str:
    b64 = _KEY_CACHE.get(hexkey)
    if b64 is None:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        b64 = _KEY_CACHE[hexkey] = binascii.b2a_base64(bytes.fromhex(hexkey), newline=False).decode()
    return b64


# Per interface, each peer's text in the last answer → its parsed state. Between two
# polls most peers are idle and wireguard-go answers the same bytes for them, so
# parsing them again is one string lookup (PeerState is immutable, so sharing is safe).
_BLOCKS: dict[str, dict[str, PeerState]] = {}


def parse_get(name: str, text: str) -> DeviceState:
    """Parse a ``get=1`` answer (without its trailing errno line)."""
    fast = _parse_fast(name, text)
    return fast if fast is not None else _parse_generic(name, text)


def _parse_fast(name: str, text: str) -> DeviceState | None:
    first = text.find("public_key=")
    head = text if first < 0 else text[:first]
    private_key: str | None = None
    listen_port = fwmark = 0
    for line in head.split("\n"):
        key, _, value = line.partition("=")
        if key == "private_key":
            private_key = None if value == _ZERO_KEY_HEX else _b64(value)
        elif key == "listen_port":
            listen_port = int(value)
        elif key == "fwmark":
            fwmark = int(value)
        elif line:
            return None
    peers: dict[str, PeerState] = {}
    known = _BLOCKS.get(name, {})
    blocks: dict[str, PeerState] = {}
    if first >= 0:
        zero = _ZERO_KEY_HEX
        # Peer by peer: the text after each "public_key=", without its last newline.
        for block in text[first + 11 :].rstrip("\n").split("\npublic_key="):
            state = known.get(block)
            if state is not None:  # an idle peer: the very same text as last time
                peers[state.public_key] = blocks[block] = state
                continue
            m = _PEER_RE.fullmatch(block + "\n")
            if m is None:  # a key the pattern does not know: the generic parser takes over
                return None
            pub_hex, psk_hex, endpoint, hs_sec, hs_nsec, tx, rx, ka, allowed = m.groups()
            pub = _b64(pub_hex)
            peers[pub] = blocks[block] = PeerState(
                pub,
                None if not psk_hex or psk_hex == zero else _b64(psk_hex),
                tuple(allowed[11:-1].split("\nallowed_ip=")) if allowed else (),
                endpoint or None,
                int(ka) or None if ka and ka != "0" else None,
                int(hs_sec) + int(hs_nsec or 0) / 1e9 if hs_sec and hs_sec != "0" else 0.0,
                int(rx) if rx else 0,
                int(tx) if tx else 0,
            )
    _BLOCKS[name] = blocks  # only this answer's peers are kept: memory is one poll's worth
    public = keys.public_key(private_key) if private_key else None
    return DeviceState(name, private_key, public, listen_port, fwmark, peers)


def _parse_generic(name: str, text: str) -> DeviceState:
    """Key by key, any order (boringtun, future keys)."""
    private_key: str | None = None
    listen_port = 0
    fwmark = 0
    peers: dict[str, PeerState] = {}
    from_hex = keys.from_hex
    cur: dict[str, object] | None = None
    allowed: list[str] = []

    def flush() -> None:
        if cur is None:
            return
        pub = cur["public_key"]
        psk = cur.get("preshared_key")
        ka = int(cur.get("persistent_keepalive_interval", 0))  # type: ignore[call-overload]
        peers[pub] = PeerState(  # type: ignore[index]
            public_key=pub,  # type: ignore[arg-type]
            preshared_key=psk,  # type: ignore[arg-type]
            allowed_ips=tuple(allowed),
            endpoint=cur.get("endpoint"),  # type: ignore[arg-type]
            persistent_keepalive=ka or None,
            last_handshake=int(cur.get("last_handshake_time_sec", 0))  # type: ignore[call-overload]
            + int(cur.get("last_handshake_time_nsec", 0)) / 1e9,  # type: ignore[call-overload]
            rx_bytes=int(cur.get("rx_bytes", 0)),  # type: ignore[call-overload]
            tx_bytes=int(cur.get("tx_bytes", 0)),  # type: ignore[call-overload]
        )

    for line in text.split("\n"):
        if not line:
            continue
        key, _, value = line.partition("=")
        if key == "public_key":
            flush()
            cur = {"public_key": from_hex(value)}
            allowed = []
        elif cur is None:
            if key == "private_key":
                private_key = None if value == _ZERO_KEY_HEX else from_hex(value)
            elif key == "listen_port":
                listen_port = int(value)
            elif key == "fwmark":
                fwmark = int(value)
        elif key == "allowed_ip":
            allowed.append(value)
        elif key == "preshared_key":
            cur[key] = None if value == _ZERO_KEY_HEX else from_hex(value)
        else:
            cur[key] = value
    flush()
    public = keys.public_key(private_key) if private_key else None
    return DeviceState(name, private_key, public, listen_port, fwmark, peers)


async def _probe(path: Path) -> sockets.Probe:
    return await asyncio.to_thread(sockets.probe, path, _PROBE_TIMEOUT)


async def live_socket_names(socket_dir: Path = SOCKET_DIR) -> set[str]:
    """Names whose UAPI socket in ``socket_dir`` is held by a daemon, in this network
    namespace or any other (they all share the directory); kernel/sockets.py says
    when a socket counts as held."""
    try:
        candidates = sorted(p for p in socket_dir.glob("*.sock") if p.is_socket())
    except OSError:
        return set()
    found = await asyncio.gather(*(_probe(p) for p in candidates))
    return {p.name[: -len(".sock")] for p, probe in zip(candidates, found, strict=True) if probe.live}


class UserspaceDriver:
    name = "userspace"

    def __init__(self, binary: str = "wireguard-go", socket_dir: Path = SOCKET_DIR) -> None:
        self.binary = binary
        self.socket_dir = Path(socket_dir)
        self.links_ = Links()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # -- the control socket ----------------------------------------------------
    def socket_path(self, name: str) -> Path:
        return self.socket_dir / f"{name}.sock"

    async def _request(self, name: str, payload: bytes, what: str) -> str:
        path = self.socket_path(name)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=_READ_LIMIT)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise KernelError(f"{name}: no WireGuard daemon is listening on {path}") from exc
        except OSError as exc:
            raise KernelError(f"{name}: cannot reach the WireGuard daemon: {exc.strerror}") from exc
        try:
            writer.write(payload)
            await writer.drain()
            data = await reader.readuntil(b"\n\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise KernelError(f"{name}: the WireGuard daemon closed the connection during {what}") from exc
        finally:
            writer.close()
        text = data.decode()
        body, _, last = text.rstrip("\n").rpartition("\n")
        if not last.startswith("errno="):
            raise KernelError(f"{name}: malformed answer from the WireGuard daemon during {what}")
        code = abs(int(last[6:]))
        if code:
            raise UapiError(name, code, what)
        return body

    def _reap(self) -> None:
        for iface, child in list(self._children.items()):
            if child.poll() is not None:
                log.warning("wireguard daemon exited", extra={"interface": iface, "code": child.returncode})
                del self._children[iface]

    # -- Driver ----------------------------------------------------------------
    async def links(self) -> list[LinkState]:
        self._reap()
        found = await self.links_.dump({"tun", "wireguard"})
        return [link for link in found if link.kind == "wireguard" or self.socket_path(link.name).exists()]

    async def held_names(self) -> set[str]:
        return await live_socket_names(self.socket_dir)

    async def create(self, name: str) -> None:
        path = self.socket_path(name)
        if path.exists() and not (await _probe(path)).live:
            path.unlink(missing_ok=True)  # stale socket of a daemon that died
        if not path.exists():
            if await self.links_.index(name) is not None:
                raise KernelError(f"{name}: an interface with this name exists and is not a WireGuard daemon")
            await self._spawn(name)
        elif await self.links_.index(name) is None:
            # A live socket without a link here: a daemon in another network namespace.
            raise KernelError(
                f"{name}: a WireGuard process outside this network namespace holds {path}; "
                "wgpilot does not manage it — give the network another interface name"
            )
        await self.links_.mark(name)

    async def _spawn(self, name: str) -> None:
        exe = shutil.which(self.binary)
        if exe is None:
            raise KernelError(f"{self.binary} is not installed (apt install wireguard-go)")
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "WG_PROCESS_FOREGROUND"}
        # -f: stay in the foreground under our supervision; a new session so a
        # Ctrl-C or SIGTERM to wgpilot does not take the tunnels down with it.
        # Popen, not asyncio's subprocess: closing an asyncio transport kills the child,
        # and the daemon must outlive a short CLI invocation. fork+exec does not block.
        child = subprocess.Popen(  # noqa: ASYNC220
            [exe, "-f", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        self._children[name] = child
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if child.poll() is not None:
                del self._children[name]
                raise KernelError(f"{self.binary} exited with code {child.returncode} creating {name}")
            if self.socket_path(name).exists() and await self.links_.index(name) is not None:
                log.info("wireguard daemon started", extra={"interface": name, "pid": child.pid})
                return
            await asyncio.sleep(0.02)
        child.terminate()
        raise KernelError(f"{self.binary} did not create {name} within {_START_TIMEOUT:.0f} s")

    async def delete(self, name: str) -> None:
        alias = await self.links_.alias(name) if await self.links_.index(name) is not None else None
        if alias is not None and alias != MARK:
            raise KernelError(f"{name} is not managed by wgpilot; refusing to delete it")
        peer = (await _probe(self.socket_path(name))).peer
        pid = peer.pid if peer is not None else None
        # Deleting the TUN link makes the daemon shut down and remove its socket.
        await self.links_.delete(name)
        gone = lambda: not self.socket_path(name).exists()  # noqa: E731
        if not await _wait_until(gone, 3.0) and pid is not None and _is_wireguard_daemon(pid):
            os.kill(pid, signal.SIGTERM)
            await _wait_until(gone, 3.0)
        _BLOCKS.pop(name, None)
        child = self._children.pop(name, None)
        if child is not None:
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    async def mark(self, name: str) -> None:
        await self.links_.mark(name)

    async def unmark(self, name: str) -> None:
        await self.links_.unmark(name)

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        await self.links_.set_link(name, addresses=addresses, mtu=mtu, up=up)

    async def routes(self, name: str) -> list[str]:
        return await self.links_.routes(name)

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        await self.links_.set_routes(name, routes)

    async def device(self, name: str) -> DeviceState:
        body = await self._request(name, b"get=1\n\n", "reading the device")
        if len(body) > 65536:
            return await asyncio.to_thread(parse_get, name, body)
        return parse_get(name, body)

    async def configure(
        self,
        name: str,
        *,
        private_key: str | None = None,
        listen_port: int | None = None,
        peers: Sequence[PeerConfig] = (),
        remove: Sequence[str] = (),
        replace_peers: bool = False,
    ) -> None:
        if private_key is None and listen_port is None and not peers and not remove and not replace_peers:
            return
        needs_dns = any(p.endpoint and not _is_literal(p.endpoint) for p in peers)
        kwargs = dict(
            private_key=private_key,
            listen_port=listen_port,
            peers=peers,
            remove=remove,
            replace_peers=replace_peers,
        )
        if needs_dns or len(peers) > 256:
            payload = await asyncio.to_thread(lambda: encode_set(**kwargs))  # type: ignore[arg-type]
        else:
            payload = encode_set(**kwargs)  # type: ignore[arg-type]
        await self._request(name, payload, "configuring the device")

    async def close(self) -> None:
        self._reap()
        await self.links_.close()


async def _wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    """Poll a file-system condition (there is no event to wait on for a daemon's socket)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _is_literal(endpoint: str) -> bool:
    host = endpoint.rpartition(":")[0].strip("[]")
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _is_wireguard_daemon(pid: int) -> bool:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm in {"wireguard-go", "boringtun", "boringtun-cli"}
