"""The WireGuard generic-netlink family on the wire: a small encoder and decoder, no I/O.

Layout (include/uapi/linux/wireguard.h): a WG_CMD_SET_DEVICE message carries device
attributes and WGDEVICE_A_PEERS, an array of nested peers, each with an array of
nested allowed IPs. A nested attribute's length is a u16, so peers are packed into
messages whose peer array stays below ``PEERS_BUDGET`` bytes (a peer too large for one
message is split: its later allowed IPs follow in UPDATE_ONLY continuations).
A WG_CMD_GET_DEVICE dump arrives as several messages; a peer whose allowed IPs did
not fit is repeated (public key + the rest of its allowed IPs) in the next one, so
``DumpParser`` merges peers by public key. Every message's attributes are parsed
with a fast path for the kernel's fixed peer layout and a generic fallback.
"""

from __future__ import annotations

import re
import socket
import struct
from binascii import b2a_base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from wgpilot.domain.keys import decode_key
from wgpilot.kernel.driver import DeviceState, PeerConfig, PeerState

FAMILY_NAME = b"wireguard"
FAMILY_VERSION = 1
WG_CMD_GET_DEVICE, WG_CMD_SET_DEVICE = 0, 1

WGDEVICE_A_IFINDEX, WGDEVICE_A_IFNAME, WGDEVICE_A_PRIVATE_KEY, WGDEVICE_A_PUBLIC_KEY = 1, 2, 3, 4
WGDEVICE_A_FLAGS, WGDEVICE_A_LISTEN_PORT, WGDEVICE_A_FWMARK, WGDEVICE_A_PEERS = 5, 6, 7, 8
WGDEVICE_F_REPLACE_PEERS = 1

WGPEER_A_PUBLIC_KEY, WGPEER_A_PRESHARED_KEY, WGPEER_A_FLAGS, WGPEER_A_ENDPOINT = 1, 2, 3, 4
WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, WGPEER_A_LAST_HANDSHAKE_TIME = 5, 6
WGPEER_A_RX_BYTES, WGPEER_A_TX_BYTES, WGPEER_A_ALLOWEDIPS, WGPEER_A_PROTOCOL_VERSION = 7, 8, 9, 10
WGPEER_F_REMOVE_ME, WGPEER_F_REPLACE_ALLOWEDIPS, WGPEER_F_UPDATE_ONLY = 1, 2, 4

WGALLOWEDIP_A_FAMILY, WGALLOWEDIP_A_IPADDR, WGALLOWEDIP_A_CIDR_MASK = 1, 2, 3

NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
# Bytes of WGDEVICE_A_PEERS per message: its length field is a u16 (max 65 535).
PEERS_BUDGET = 65_000
ZERO_KEY = bytes(32)

_HDR = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_TIMESPEC = struct.Struct("<qq")
_KEY = 4 + 32
# A peer to upsert: nest, public key, preshared key, flags, keepalive (u16 + pad).
_UPSERT = struct.Struct("<HHHH32sHH32sHHIHHH2x")
_REMOVE = struct.Struct("<HHHH32sHHI")  # nest, public key, flags
_CONT = struct.Struct("<HH32sHHI")  # continuation: public key, flags (inside a nest)
_IP4 = struct.Struct("<HHHHH2xHH4sHHB3x")  # nest, family, address, cidr
_IP6 = struct.Struct("<HHHHH2xHH16sHHB3x")
_SIN = struct.Struct("<HH2s2s4s8x")  # attr header + sockaddr_in (port in network order)
_SIN6 = struct.Struct("<HH2s2sI16sI")  # attr header + sockaddr_in6
_AF_INET, _AF_INET6 = int(socket.AF_INET), int(socket.AF_INET6)
_ntop = socket.inet_ntop
_MAX_IPS_PER_CHUNK = (PEERS_BUDGET - 200) // _IP6.size


# -- encoding --------------------------------------------------------------------------------------
def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    n = 4 + len(payload)
    return _HDR.pack(n, kind) + payload + b"\0" * (-n % 4)


def nested(kind: int, payload: bytes) -> bytes:
    return _HDR.pack(4 + len(payload), kind | NLA_F_NESTED) + payload


def ifname_attr(name: str) -> bytes:
    raw = name.encode()
    if not 0 < len(raw) < 16 or b"\0" in raw or b"/" in raw:
        raise ValueError(f"{name!r} is not a valid interface name")
    return attr(WGDEVICE_A_IFNAME, raw + b"\0")


def parse_endpoint(endpoint: str) -> tuple[int, bytes, int]:
    """``"1.2.3.4:51820"`` / ``"[fd00::1]:51820"`` → (family, packed address, port); literals only."""
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"endpoint {endpoint!r} needs a port")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return family, socket.inet_pton(family, host), int(port_text)
        except OSError:
            continue
    raise ValueError(f"endpoint {endpoint!r} is not an IP address and port")


def _endpoint_attr(endpoint: str) -> bytes:
    family, packed, port = parse_endpoint(endpoint)
    if family == socket.AF_INET:
        return _SIN.pack(20, WGPEER_A_ENDPOINT, family.to_bytes(2, "little"), port.to_bytes(2, "big"), packed)
    return _SIN6.pack(
        32, WGPEER_A_ENDPOINT, family.to_bytes(2, "little"), port.to_bytes(2, "big"), 0, packed, 0
    )


def _allowed_ip(cidr: str) -> bytes:
    addr, sep, plen_text = cidr.partition("/")
    v6 = ":" in addr
    family, top, st = (socket.AF_INET6, 128, _IP6) if v6 else (socket.AF_INET, 32, _IP4)
    try:
        packed = socket.inet_pton(family, addr)
    except OSError:
        raise ValueError(f"{cidr!r} is not a CIDR") from None
    if sep and not plen_text.isdigit():
        raise ValueError(f"{cidr!r} is not a CIDR")
    plen = int(plen_text) if sep else top
    if plen > top:
        raise ValueError(f"{cidr!r} is not a CIDR")
    return st.pack(st.size, NLA_F_NESTED, 6, WGALLOWEDIP_A_FAMILY, family, st.size - 20, WGALLOWEDIP_A_IPADDR,
                   packed, 5, WGALLOWEDIP_A_CIDR_MASK, plen)  # fmt: skip


def _allowed_ips(cidrs: Sequence[str]) -> bytes:
    body = b"".join([_allowed_ip(c) for c in cidrs])
    return _HDR.pack(4 + len(body), WGPEER_A_ALLOWEDIPS | NLA_F_NESTED) + body


def encode_upsert(peer: PeerConfig) -> list[bytes]:
    """A peer set with replaced allowed IPs, preshared key (zero clears it) and keepalive.

    Usually one array element; a peer with more allowed IPs than fit in a message
    gives several, the later ones UPDATE_ONLY continuations adding the rest.
    """
    pub = decode_key(peer.public_key)
    psk = decode_key(peer.preshared_key) if peer.preshared_key else ZERO_KEY
    ips = peer.allowed_ips
    first, rest = ips[:_MAX_IPS_PER_CHUNK], ips[_MAX_IPS_PER_CHUNK:]
    tail = (_endpoint_attr(peer.endpoint) if peer.endpoint else b"") + (_allowed_ips(first) if first else b"")
    size = _UPSERT.size + len(tail)
    head = _UPSERT.pack(size, NLA_F_NESTED, _KEY, WGPEER_A_PUBLIC_KEY, pub, _KEY, WGPEER_A_PRESHARED_KEY, psk,
                        8, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS,
                        6, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, peer.persistent_keepalive or 0)  # fmt: skip
    out = [head + tail]
    while rest:
        chunk, rest = rest[:_MAX_IPS_PER_CHUNK], rest[_MAX_IPS_PER_CHUNK:]
        body = _CONT.pack(_KEY, WGPEER_A_PUBLIC_KEY, pub, 8, WGPEER_A_FLAGS, WGPEER_F_UPDATE_ONLY)
        body += _allowed_ips(chunk)
        out.append(_HDR.pack(4 + len(body), NLA_F_NESTED) + body)
    return out


def encode_remove(public_key: str) -> bytes:
    return _REMOVE.pack(
        _REMOVE.size, NLA_F_NESTED, _KEY, WGPEER_A_PUBLIC_KEY, decode_key(public_key),
        8, WGPEER_A_FLAGS, WGPEER_F_REMOVE_ME,
    )  # fmt: skip


def encode_set_device(
    ifname: str,
    *,
    private_key: str | None = None,
    listen_port: int | None = None,
    peers: Sequence[PeerConfig] = (),
    remove: Sequence[str] = (),
    replace_peers: bool = False,
    budget: int = PEERS_BUDGET,
) -> list[bytes]:
    """The attribute payloads of the WG_CMD_SET_DEVICE messages that apply this change.

    The first message carries the private key, port and REPLACE_PEERS (which must not
    repeat: it would drop the peers the earlier messages added); removals come before
    upserts, as in the UAPI driver, so a key both removed and upserted ends up set.
    """
    if not 64 <= budget <= 0xFFFF:
        raise ValueError("the peer array of one message must stay within a u16 length")
    name = ifname_attr(ifname)
    head = name
    if private_key is not None:
        head += attr(WGDEVICE_A_PRIVATE_KEY, decode_key(private_key))
    if listen_port is not None:
        head += attr(WGDEVICE_A_LISTEN_PORT, _U16.pack(listen_port))
    if replace_peers:
        head += attr(WGDEVICE_A_FLAGS, _U32.pack(WGDEVICE_F_REPLACE_PEERS))
    elements = [encode_remove(pub) for pub in remove]
    for p in peers:
        elements += encode_upsert(p)
    messages: list[bytes] = []
    batch: list[bytes] = []
    used = 4
    for el in elements:
        if batch and used + len(el) > budget:
            messages.append((head if not messages else name) + _peers_attr(batch, used))
            batch, used = [], 4
        batch.append(el)
        used += len(el)
    if batch or not messages:
        messages.append((head if not messages else name) + (_peers_attr(batch, used) if batch else b""))
    return messages


def _peers_attr(batch: list[bytes], used: int) -> bytes:
    return _HDR.pack(used, WGDEVICE_A_PEERS | NLA_F_NESTED) + b"".join(batch)


# -- decoding --------------------------------------------------------------------------------------
def attrs(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(type without flags, payload start, payload end) of each attribute in buf[start:end]."""
    unpack = _HDR.unpack_from
    while start + 4 <= end:
        n, kind = unpack(buf, start)
        if n < 4 or start + n > end:
            raise ValueError("truncated netlink attribute")
        yield kind & NLA_TYPE_MASK, start + 4, start + n
        start += (n + 3) & ~3


def _key_str(raw: bytes) -> str:
    return b2a_base64(raw, newline=False).decode()


def format_endpoint(buf: bytes, start: int, end: int) -> str | None:
    """A sockaddr_in/in6 as ``wg`` prints it: ``1.2.3.4:51820`` or ``[fd00::1]:51820``."""
    family = buf[start] | buf[start + 1] << 8
    port = buf[start + 2] << 8 | buf[start + 3]
    if family == _AF_INET and end - start >= 8:
        return f"{_ntop(_AF_INET, buf[start + 4 : start + 8])}:{port}"
    if family == _AF_INET6 and end - start >= 24:
        return f"[{_ntop(_AF_INET6, buf[start + 8 : start + 24])}]:{port}"
    return None


# The kernel writes every peer's first appearance in this order (get_peer() in
# drivers/net/wireguard/netlink.c); one regex match checks all seven attribute headers.
_FIXED = re.compile(
    rb"\x24\x00\x01\x00.{32}\x24\x00\x02\x00.{32}\x14\x00\x06\x00.{16}\x06\x00\x05\x00..\x00\x00"
    rb"\x0c\x00\x08\x00.{8}\x0c\x00\x07\x00.{8}\x08\x00\x0a\x00.{4}",
    re.DOTALL,
)
_EP4, _EP6 = _HDR.pack(20, WGPEER_A_ENDPOINT), _HDR.pack(32, WGPEER_A_ENDPOINT)
_IPS = _U16.pack(WGPEER_A_ALLOWEDIPS | NLA_F_NESTED)
_FIXED_VALUES = struct.Struct("<4x32s4x32s4xqq4xH2x4xQ4xQ8x")
_IP4_ENTRY = re.compile(
    rb"\x1c\x00\x00\x80\x05\x00\x03\x00.\x00\x00\x00\x06\x00\x01\x00\x02\x00\x00\x00\x08\x00\x02\x00",
    re.DOTALL,
)


@dataclass(slots=True)
class _Peer:
    preshared_key: bytes = ZERO_KEY
    endpoint: str | None = None
    keepalive: int = 0
    handshake: float = 0.0
    rx: int = 0
    tx: int = 0
    allowed: list[str] = field(default_factory=list)


@dataclass
class DumpParser:
    """Collects the messages of one WG_CMD_GET_DEVICE dump into a ``DeviceState``."""

    private_key: bytes | None = None
    public_key: bytes | None = None
    listen_port: int = 0
    fwmark: int = 0
    peers: dict[bytes, _Peer] = field(default_factory=dict)

    def feed(self, buf: bytes, start: int, end: int) -> None:
        """Parse the attributes of one message (after its genl header)."""
        for kind, a, b in attrs(buf, start, end):
            if kind == WGDEVICE_A_PEERS:
                for _, ps, pe in attrs(buf, a, b):
                    self._peer(buf, ps, pe)
            elif kind == WGDEVICE_A_PRIVATE_KEY:
                self.private_key = buf[a:b]
            elif kind == WGDEVICE_A_PUBLIC_KEY:
                self.public_key = buf[a:b]
            elif kind == WGDEVICE_A_LISTEN_PORT:
                self.listen_port = _U16.unpack_from(buf, a)[0]
            elif kind == WGDEVICE_A_FWMARK:
                self.fwmark = _U32.unpack_from(buf, a)[0]

    def _peer(self, buf: bytes, start: int, end: int) -> None:
        if _FIXED.match(buf, start):
            pub, psk, sec, nsec, ka, tx, rx = _FIXED_VALUES.unpack_from(buf, start)
            peer = self.peers.get(pub)
            if peer is None:
                peer = self.peers[pub] = _Peer()
            peer.preshared_key, peer.keepalive, peer.tx, peer.rx = psk, ka, tx, rx
            peer.handshake = sec + nsec / 1e9
            pos = start + 132
            # The usual tail (an endpoint, then the allowed IPs) without the generic walk.
            head = buf[pos : pos + 4]
            if (head == _EP4 or head == _EP6) and pos + head[0] <= end:
                peer.endpoint = format_endpoint(buf, pos + 4, pos + head[0])
                pos += head[0]
            if (
                pos + 4 <= end
                and buf[pos + 2 : pos + 4] == _IPS
                and pos + (buf[pos] | buf[pos + 1] << 8) == end
            ):
                self._allowed(buf, pos + 4, end, peer.allowed)
                return
            for kind, a, b in attrs(buf, pos, end):
                if kind == WGPEER_A_ENDPOINT:
                    peer.endpoint = format_endpoint(buf, a, b)
                elif kind == WGPEER_A_ALLOWEDIPS:
                    self._allowed(buf, a, b, peer.allowed)
            return
        self._peer_generic(buf, start, end)

    def _peer_generic(self, buf: bytes, start: int, end: int) -> None:
        found = {kind: (a, b) for kind, a, b in attrs(buf, start, end)}
        if WGPEER_A_PUBLIC_KEY not in found:
            raise ValueError("peer without a public key in the device dump")
        a, b = found[WGPEER_A_PUBLIC_KEY]
        pub = buf[a:b]
        peer = self.peers.get(pub)
        if peer is None:
            peer = self.peers[pub] = _Peer()
        for kind, (a, b) in found.items():
            if kind == WGPEER_A_PRESHARED_KEY:
                peer.preshared_key = buf[a:b]
            elif kind == WGPEER_A_ENDPOINT:
                peer.endpoint = format_endpoint(buf, a, b)
            elif kind == WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                peer.keepalive = _U16.unpack_from(buf, a)[0]
            elif kind == WGPEER_A_LAST_HANDSHAKE_TIME:
                sec, nsec = _TIMESPEC.unpack_from(buf, a)
                peer.handshake = sec + nsec / 1e9
            elif kind == WGPEER_A_RX_BYTES:
                peer.rx = _U64.unpack_from(buf, a)[0]
            elif kind == WGPEER_A_TX_BYTES:
                peer.tx = _U64.unpack_from(buf, a)[0]
            elif kind == WGPEER_A_ALLOWEDIPS:
                self._allowed(buf, a, b, peer.allowed)

    @staticmethod
    def _allowed(buf: bytes, start: int, end: int, out: list[str]) -> None:
        ntop = _ntop
        fast = _IP4_ENTRY.match
        while start < end:
            if fast(buf, start):  # the kernel's IPv4 entry: cidr, family, address
                out.append(f"{ntop(_AF_INET, buf[start + 24 : start + 28])}/{buf[start + 8]}")
                start += 28
                continue
            n = _HDR.unpack_from(buf, start)[0]
            if n < 4 or start + n > end:
                raise ValueError("truncated allowed IP in the device dump")
            family = plen = 0
            packed = b""
            for kind, a, b in attrs(buf, start + 4, start + n):
                if kind == WGALLOWEDIP_A_FAMILY:
                    family = _U16.unpack_from(buf, a)[0]
                elif kind == WGALLOWEDIP_A_IPADDR:
                    packed = buf[a:b]
                elif kind == WGALLOWEDIP_A_CIDR_MASK:
                    plen = buf[a]
            if family == _AF_INET or family == _AF_INET6:
                out.append(f"{ntop(family, packed)}/{plen}")
            start += (n + 3) & ~3

    def device(self, name: str) -> DeviceState:
        peers: dict[str, PeerState] = {}
        for raw, p in self.peers.items():
            pub = _key_str(raw)
            peers[pub] = PeerState(
                pub,
                None if p.preshared_key == ZERO_KEY else _key_str(p.preshared_key),
                tuple(p.allowed),
                p.endpoint,
                p.keepalive or None,
                p.handshake,
                p.rx,
                p.tx,
            )
        private = _key_str(self.private_key) if self.private_key and self.private_key != ZERO_KEY else None
        public = _key_str(self.public_key) if private and self.public_key else None
        return DeviceState(name, private, public, self.listen_port, self.fwmark, peers)
