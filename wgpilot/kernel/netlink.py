"""Kernel WireGuard: links through rtnetlink (``links.Links``), keys, port and peers through
the "wireguard" generic-netlink family, encoded by ``wggenl``.

Changes go out in as few messages as fit (``wggenl.PEERS_BUDGET`` bytes of peers each),
one at a time, each waiting for its ACK, so a refusal stops the rest and names its
cause. Socket work and encoding/decoding run in a worker thread: a 10 000-peer
dump or set never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno as errno_mod
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable, Sequence

from pyroute2.netlink.exceptions import NetlinkError

from wgpilot.domain.errors import KernelError
from wgpilot.kernel import wggenl
from wgpilot.kernel.driver import MARK, DeviceState, LinkState, PeerConfig
from wgpilot.kernel.links import Links
from wgpilot.kernel.uapi import live_socket_names

log = logging.getLogger(__name__)

NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_ACK_TLVS = 0x200
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLMSGERR_ATTR_MSG = 1
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
# The kernel sizes dump messages after the reader's buffer, up to 32 KB each.
RECV_BUFFER = 64 * 1024

_NLMSG = struct.Struct("<IHHII")
_GENL = struct.Struct("<BBH")
_HEADERS = _NLMSG.size + _GENL.size


class GenlError(OSError):
    """The kernel answered a request with an error (errno plus its extended-ack text)."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, os.strerror(code))
        self.detail = detail


class WgSocket:
    """A blocking generic-netlink socket for the wireguard family, one request at a time."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._family = 0
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _open(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_GENERIC)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                # Errors without an echo of our 64 KB request, but with the kernel's reason.
                sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
                sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
                sock.bind((0, 0))
                self._sock = sock
                self._family = self._resolve_family()
            except BaseException:
                self._reset()
                sock.close()
                raise
        return self._sock

    def _resolve_family(self) -> int:
        found: list[int] = []

        def on_msg(buf: bytes, start: int, end: int) -> None:
            for kind, a, _ in wggenl.attrs(buf, start, end):
                if kind == CTRL_ATTR_FAMILY_ID:
                    found.append(struct.unpack_from("<H", buf, a)[0])

        body = wggenl.attr(CTRL_ATTR_FAMILY_NAME, wggenl.FAMILY_NAME + b"\0")
        try:
            self._exchange(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, body, on_msg)
        except GenlError as exc:
            if exc.errno == errno_mod.ENOENT:
                raise KernelError(
                    "the kernel has no WireGuard support (the wireguard module is not available)"
                ) from exc
            raise
        if not found:
            raise KernelError("the kernel did not report the wireguard netlink family")
        return found[0]

    def _exchange(
        self, kind: int, flags: int, cmd: int, body: bytes, on_msg: Callable[[bytes, int, int], None] | None
    ) -> None:
        """Send one request; feed each answer's attributes to ``on_msg`` until ACK or DONE."""
        sock = self._sock
        assert sock is not None
        self._seq = seq = (self._seq + 1) & 0xFFFFFFFF
        head = _NLMSG.pack(_HEADERS + len(body), kind, NLM_F_REQUEST | flags, seq, 0)
        sock.sendall(head + _GENL.pack(cmd, wggenl.FAMILY_VERSION, 0) + body)
        nlmsg = _NLMSG.unpack_from
        while True:
            buf = sock.recv(RECV_BUFFER)
            pos, size = 0, len(buf)
            while pos + _NLMSG.size <= size:
                length, mtype, mflags, mseq, _ = nlmsg(buf, pos)
                if length < _NLMSG.size or pos + length > size:
                    raise ValueError("truncated netlink message")
                end = pos + length
                if mseq == seq:
                    if mtype == NLMSG_ERROR or mtype == NLMSG_DONE:
                        code = -struct.unpack_from("<i", buf, pos + 16)[0] if length >= 20 else 0
                        if code:
                            raise GenlError(
                                code, _ext_ack(buf, pos, end, mflags) if mtype == NLMSG_ERROR else ""
                            )
                        return
                    if on_msg is not None:
                        on_msg(buf, pos + _HEADERS, end)
                pos = (end + 3) & ~3

    def request(
        self,
        cmd: int,
        body: bytes,
        *,
        dump: bool = False,
        on_msg: Callable[[bytes, int, int], None] | None = None,
    ) -> None:
        """One wireguard-family request; any failure but a kernel refusal resets the socket."""
        with self._lock:
            self._open()
            try:
                self._exchange(self._family, NLM_F_DUMP if dump else NLM_F_ACK, cmd, body, on_msg)
            except GenlError:
                raise
            except BaseException:
                self._reset()  # a half-read answer must not be mistaken for the next one's
                raise


def _ext_ack(buf: bytes, pos: int, end: int, flags: int) -> str:
    if not flags & NLM_F_ACK_TLVS:
        return ""
    # error code (4) + our request's header (16: NETLINK_CAP_ACK leaves out its payload)
    start = pos + _NLMSG.size + 4 + _NLMSG.size
    for kind, a, b in wggenl.attrs(buf, start, end):
        if kind == NLMSGERR_ATTR_MSG:
            return buf[a:b].rstrip(b"\0").decode(errors="replace")
    return ""


def _error(name: str, exc: GenlError, what: str, listen_port: int | None = None) -> KernelError:
    code = exc.errno
    if code == errno_mod.ENODEV:
        text = f"interface {name} does not exist"
    elif code == errno_mod.EOPNOTSUPP:
        text = f"{name} is not a WireGuard interface"
    elif code == errno_mod.EADDRINUSE:
        text = (
            f"{name}: listen port {listen_port} is already in use"
            if listen_port
            else f"{name}: listen port is already in use"
        )
    elif code == errno_mod.EPERM:
        text = f"{name}: {what} failed: permission denied (CAP_NET_ADMIN is required)"
    else:
        text = f"{name}: {what} failed: {exc.strerror} (errno {code})"
    if exc.detail:
        text += f" ({exc.detail})"
    return KernelError(text)


def _literal_endpoints(peers: Sequence[PeerConfig]) -> list[PeerConfig]:
    """Resolve host-name endpoints the way ``wg`` does (the kernel takes addresses only)."""
    out = []
    for p in peers:
        if p.endpoint:
            try:
                wggenl.parse_endpoint(p.endpoint)
            except ValueError:
                host, _, port = p.endpoint.rpartition(":")
                try:
                    infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_DGRAM)
                except (OSError, ValueError) as exc:
                    raise KernelError(f"cannot resolve endpoint {p.endpoint!r}") from exc
                ip = str(infos[0][4][0])
                p = dataclasses.replace(p, endpoint=f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
        out.append(p)
    return out


class NetlinkDriver:
    name = "netlink"

    def __init__(self) -> None:
        self.links_ = Links()
        self._wg = WgSocket()
        # Per device, the peers' decoded static parts from its last dump: a poll of an
        # unchanged peer set then only reads counters.
        self._known: dict[str, wggenl.Known] = {}

    # -- WireGuard device (generic netlink) --------------------------------------------
    def _get(self, name: str) -> DeviceState:
        parser = wggenl.DumpParser(known=self._known.get(name, {}))
        try:
            self._wg.request(
                wggenl.WG_CMD_GET_DEVICE, wggenl.ifname_attr(name), dump=True, on_msg=parser.feed
            )
        except GenlError as exc:
            raise _error(name, exc, "reading the device") from exc
        except ValueError as exc:
            raise KernelError(f"{name}: malformed device dump from the kernel: {exc}") from exc
        self._known[name] = parser.seen
        return parser.device(name)

    def _set(
        self,
        name: str,
        private_key: str | None,
        listen_port: int | None,
        peers: Sequence[PeerConfig],
        remove: Sequence[str],
        replace_peers: bool,
    ) -> None:
        try:
            messages = wggenl.encode_set_device(
                name,
                private_key=private_key,
                listen_port=listen_port,
                peers=_literal_endpoints(peers),
                remove=remove,
                replace_peers=replace_peers,
            )
        except (ValueError, struct.error) as exc:
            raise KernelError(f"{name}: invalid device configuration: {exc}") from exc
        for i, body in enumerate(messages):
            try:
                self._wg.request(wggenl.WG_CMD_SET_DEVICE, body)
            except GenlError as exc:
                what = "configuring the device" + (f" (message {i + 1} of {len(messages)})" if i else "")
                raise _error(name, exc, what, listen_port) from exc

    async def device(self, name: str) -> DeviceState:
        return await asyncio.to_thread(self._get, name)

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
        await asyncio.to_thread(self._set, name, private_key, listen_port, peers, remove, replace_peers)

    # -- links (rtnetlink) ----------------------------------------------------------------
    async def links(self) -> list[LinkState]:
        return await self.links_.dump({"wireguard"})

    async def held_names(self) -> set[str]:
        # Kernel links do not use UAPI sockets, but `wg` and wg-quick ask a socket of the
        # same name before the kernel, so a name a daemon holds would confuse them.
        return await live_socket_names()

    async def _link(self, name: str) -> LinkState | None:
        return next((link for link in await self.links_.dump({"wireguard"}) if link.name == name), None)

    async def create(self, name: str) -> None:
        if await self.links_.index(name) is not None:
            link = await self._link(name)
            if link is not None and link.marked:
                return
            raise KernelError(f"{name}: an interface with this name exists and is not managed by wgpilot")
        try:
            await self.links_.add_wireguard(name)
        except KernelError as exc:
            if _cause_errno(exc) == errno_mod.EOPNOTSUPP:
                raise KernelError(
                    f"cannot create {name}: the kernel has no WireGuard support (no wireguard module)"
                ) from exc
            raise
        try:
            await self.links_.mark(name)
        except BaseException:
            # An unmarked link would be refused by delete() forever: take it back now.
            await self.links_.delete(name)
            raise

    async def delete(self, name: str) -> None:
        if await self.links_.index(name) is None:
            return
        if await self.links_.alias(name) != MARK:
            raise KernelError(f"{name} is not managed by wgpilot; refusing to delete it")
        # Unregistering a device frees its peers one RCU grace period each (35 s for
        # 2 000 peers in the VM); dropping them first with REPLACE_PEERS takes one batch.
        try:
            await asyncio.to_thread(self._set, name, None, None, (), (), True)
        except KernelError as exc:
            log.debug("could not empty %s before deleting it: %s", name, exc)
        self._known.pop(name, None)
        await self.links_.delete(name)

    async def mark(self, name: str) -> None:
        await self.links_.mark(name)

    async def unmark(self, name: str) -> None:
        await self.links_.unmark(name)

    async def set_link(self, name: str, *, addresses: Sequence[str], mtu: int, up: bool) -> None:
        try:
            await self.links_.set_link(name, addresses=addresses, mtu=mtu, up=up)
        except KernelError as exc:
            # A down device only remembers its port; bringing it up binds it.
            if _cause_errno(exc) != errno_mod.EADDRINUSE:
                raise
            port = (await self.device(name)).listen_port
            raise KernelError(f"{name}: listen port {port} is already in use") from exc

    async def routes(self, name: str) -> list[str]:
        return await self.links_.routes(name)

    async def set_routes(self, name: str, routes: Sequence[str]) -> None:
        await self.links_.set_routes(name, routes)

    async def close(self) -> None:
        self._wg.close()
        await self.links_.close()


def _cause_errno(exc: BaseException) -> int | None:
    cause = exc.__cause__
    return cause.code if isinstance(cause, NetlinkError) else None
