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
from binascii import Error as BinasciiError
from binascii import a2b_base64, b2a_base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from wgpilot.domain.validate import ascii_int
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
_SIN = struct.Struct("<HH2s2s4s8x")  # attr header + sockaddr_in (port in network order)
_SIN6 = struct.Struct("<HH2s2sI16sI")  # attr header + sockaddr_in6
_AF_INET, _AF_INET6 = int(socket.AF_INET), int(socket.AF_INET6)
_ntop = socket.inet_ntop
_MAX_IPS_PER_CHUNK = (PEERS_BUDGET - 200) // 40  # an IPv6 entry is 40 bytes


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
    port = ascii_int(port_text, max_digits=5)
    if not sep or port is None or not 0 < port < 65536:
        raise ValueError(f"endpoint {endpoint!r} needs a port")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return family, socket.inet_pton(family, host), port
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


def _key(text: str) -> bytes:
    """Base64 key → 32 bytes; as strict as ``keys.decode_key`` and several times faster."""
    try:
        raw = a2b_base64(text, strict_mode=True)
    except (BinasciiError, ValueError, TypeError):
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{text!r} is not a 32-byte base64 key")
    return raw


# One allowed IP: nest, family, address, cidr (the prefix length's attribute by text).
_V4_HEAD = _HDR.pack(28, NLA_F_NESTED) + _HDR.pack(6, WGALLOWEDIP_A_FAMILY) + _U32.pack(socket.AF_INET)
_V6_HEAD = _HDR.pack(40, NLA_F_NESTED) + _HDR.pack(6, WGALLOWEDIP_A_FAMILY) + _U32.pack(socket.AF_INET6)
_V4_HEAD += _HDR.pack(8, WGALLOWEDIP_A_IPADDR)
_V6_HEAD += _HDR.pack(20, WGALLOWEDIP_A_IPADDR)
_CIDR = [_HDR.pack(5, WGALLOWEDIP_A_CIDR_MASK) + bytes([i, 0, 0, 0]) for i in range(129)]
_PLEN4 = {"": _CIDR[32]} | {f"/{i}": _CIDR[i] for i in range(33)}
_PLEN6 = {"": _CIDR[128]} | {f"/{i}": _CIDR[i] for i in range(129)}


def _allowed_ips(cidrs: Sequence[str]) -> bytes:
    """The WGPEER_A_ALLOWEDIPS attribute; canonical "address/prefix" strings."""
    parts = [b""]
    size = 4
    pton, af4, af6, plen4, plen6 = socket.inet_pton, _AF_INET, _AF_INET6, _PLEN4.get, _PLEN6.get
    for cidr in cidrs:
        addr, sep, plen = cidr.partition("/")
        try:
            if ":" in addr:
                parts += (_V6_HEAD, pton(af6, addr), plen6(sep + plen) or b"?")
                size += 40
            else:
                parts += (_V4_HEAD, pton(af4, addr), plen4(sep + plen) or b"?")
                size += 28
        except OSError:
            raise ValueError(f"{cidr!r} is not a CIDR") from None
        if parts[-1] == b"?":
            raise ValueError(f"{cidr!r} is not a CIDR")
    parts[0] = _HDR.pack(size, WGPEER_A_ALLOWEDIPS | NLA_F_NESTED)
    return b"".join(parts)


def encode_upsert(peer: PeerConfig) -> list[bytes]:
    """A peer set with replaced allowed IPs, preshared key (zero clears it) and keepalive.

    Usually one array element; a peer with more allowed IPs than fit in a message
    gives several, the later ones UPDATE_ONLY continuations adding the rest.
    """
    pub = _key(peer.public_key)
    psk = _key(peer.preshared_key) if peer.preshared_key else ZERO_KEY
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
        _REMOVE.size, NLA_F_NESTED, _KEY, WGPEER_A_PUBLIC_KEY, _key(public_key),
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
        head += attr(WGDEVICE_A_PRIVATE_KEY, _key(private_key))
    if listen_port is not None:
        head += attr(WGDEVICE_A_LISTEN_PORT, _U16.pack(listen_port))
    if replace_peers:
        head += attr(WGDEVICE_A_FLAGS, _U32.pack(WGDEVICE_F_REPLACE_PEERS))
    elements = [encode_remove(pub) for pub in remove]
    # encode_upsert() inlined for the usual peer: this loop runs 10 000 times per sync.
    pack, key, size, zero, most = _UPSERT.pack, _key, _UPSERT.size, ZERO_KEY, _MAX_IPS_PER_CHUNK
    for p in peers:
        ips = p.allowed_ips
        if len(ips) > most:
            elements += encode_upsert(p)
            continue
        tail = _allowed_ips(ips) if ips else b""
        if p.endpoint:
            tail = _endpoint_attr(p.endpoint) + tail
        psk = key(p.preshared_key) if p.preshared_key else zero
        fixed = pack(size + len(tail), NLA_F_NESTED, _KEY, WGPEER_A_PUBLIC_KEY, key(p.public_key),
                    _KEY, WGPEER_A_PRESHARED_KEY, psk, 8, WGPEER_A_FLAGS, WGPEER_F_REPLACE_ALLOWEDIPS,
                    6, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p.persistent_keepalive or 0)  # fmt: skip
        elements.append(fixed + tail)
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


# The kernel writes a peer's first appearance in one fixed layout (get_peer() in
# drivers/net/wireguard/netlink.c): public key, preshared key, handshake time,
# keepalive, tx, rx, protocol version, an optional endpoint, then its allowed IPs
# (each: cidr, family, address). One anchored regex checks every header of such a
# peer and captures its variable parts; anything else takes the generic path.
_RE_IP4 = (
    rb"\x1c\x00\x00\x80\x05\x00\x03\x00(.)\x00\x00\x00\x06\x00\x01\x00\x02\x00\x00\x00\x08\x00\x02\x00(.{4})"
)
_RE_IP6 = (
    rb"\x28\x00\x00\x80\x05\x00\x03\x00(.)\x00\x00\x00\x06\x00\x01\x00\x0a\x00\x00\x00\x14\x00\x02\x00(.{16})"
)
_ENTRIES = re.compile(_RE_IP4 + b"|" + _RE_IP6, re.DOTALL)
_PEER = re.compile(
    rb"\x24\x00\x01\x00.{32}\x24\x00\x02\x00.{32}\x14\x00\x06\x00.{16}\x06\x00\x05\x00..\x00\x00"
    rb"\x0c\x00\x08\x00.{8}\x0c\x00\x07\x00.{8}\x08\x00\x0a\x00.{4}"
    rb"(?:\x14\x00\x04\x00\x02\x00(..)(.{4}).{8}|\x20\x00\x04\x00\x0a\x00(..).{4}(.{16}).{4})?"
    rb"(?:..\x09\x80((?:" + _RE_IP4.replace(b"(", b"(?:") + b"|" + _RE_IP6.replace(b"(", b"(?:") + rb")*))?",
    re.DOTALL,
)
# A known peer's changing part: handshake, keepalive, tx, rx, protocol version.
_COUNTED = re.compile(
    rb"\x14\x00\x06\x00.{16}\x06\x00\x05\x00..\x00\x00\x0c\x00\x08\x00.{8}\x0c\x00\x07\x00.{8}\x08\x00\x0a\x00.{4}",
    re.DOTALL,
)
_COUNTERS = struct.Struct("<72x4xqq4xH2x4xQ4xQ")  # handshake, keepalive, tx, rx
# What a peer's static part decoded to: (nest length, its key attributes' bytes, its
# bytes after the counters, public key, preshared key, allowed IPs, endpoint), by raw
# public key.
Known = dict[bytes, tuple[int, bytes, bytes, str, "str | None", tuple[str, ...], "str | None"]]


@dataclass
class DumpParser:
    """Collects the messages of one WG_CMD_GET_DEVICE dump into a ``DeviceState``."""

    private_key: bytes | None = None
    public_key: bytes | None = None
    listen_port: int = 0
    fwmark: int = 0
    peers: dict[str, PeerState] = field(default_factory=dict)
    known: Known = field(default_factory=dict)  # from the previous dump of this device
    seen: Known = field(default_factory=dict)  # this dump's, to pass to the next one

    def feed(self, buf: bytes, start: int, end: int) -> None:
        """Parse the attributes of one message (after its genl header)."""
        for kind, a, b in attrs(buf, start, end):
            if kind == WGDEVICE_A_PEERS:
                self._peers(buf, a, b)
            elif kind == WGDEVICE_A_PRIVATE_KEY:
                self.private_key = buf[a:b]
            elif kind == WGDEVICE_A_PUBLIC_KEY:
                self.public_key = buf[a:b]
            elif kind == WGDEVICE_A_LISTEN_PORT:
                self.listen_port = _U16.unpack_from(buf, a)[0]
            elif kind == WGDEVICE_A_FWMARK:
                self.fwmark = _U32.unpack_from(buf, a)[0]

    def _peers(self, buf: bytes, pos: int, end: int) -> None:
        # Hot loop (10 000 peers per dump): locals only, one regex per peer, and the
        # decoded static part (keys, endpoint, allowed IPs) reused from the previous
        # dump when its bytes are unchanged; then only the counters are read afresh.
        peers, known, seen = self.peers, self.known, self.seen
        match, counted, counters, entries = (
            _PEER.match,
            _COUNTED.match,
            _COUNTERS.unpack_from,
            _ENTRIES.findall,
        )
        ntop, b64, af4, af6, zero, new = _ntop, _key_str, _AF_INET, _AF_INET6, ZERO_KEY, tuple.__new__
        while pos + 4 <= end:
            n = buf[pos] | buf[pos + 1] << 8
            stop = pos + n
            if n < 4 or stop > end:
                raise ValueError("truncated netlink attribute")
            pub = buf[pos + 8 : pos + 40]
            c = known.get(pub)
            if (
                c is None
                or c[0] != n
                or not buf.startswith(c[1], pos + 4)
                or not buf.startswith(c[2], pos + 136)
                or counted(buf, pos + 76) is None
            ):
                m = match(buf, pos + 4)
                if m is None or m.end() != stop:
                    self._peer_generic(buf, pos + 4, stop)
                    pos += (n + 3) & ~3
                    continue
                psk = buf[pos + 44 : pos + 76]
                p4, a4, p6, a6, ips = m.groups()
                if p4:
                    endpoint: str | None = f"{ntop(af4, a4)}:{p4[0] << 8 | p4[1]}"
                elif p6:
                    endpoint = f"[{ntop(af6, a6)}]:{p6[0] << 8 | p6[1]}"
                else:
                    endpoint = None
                allowed = (
                    tuple(
                        [
                            f"{ntop(af4, x4)}/{c4[0]}" if x4 else f"{ntop(af6, x6)}/{c6[0]}"
                            for c4, x4, c6, x6 in entries(ips)
                        ]
                    )
                    if ips
                    else ()
                )
                c = (
                    n,
                    buf[pos + 4 : pos + 76],
                    buf[pos + 136 : stop],
                    b64(pub),
                    None if psk == zero else b64(psk),
                    allowed,
                    endpoint,
                )
            seen[pub] = c
            sec, nsec, ka, tx, rx = counters(buf, pos + 4)
            # tuple.__new__ directly: the NamedTuple's own __new__ is a Python frame.
            peers[c[3]] = new(PeerState, (c[3], c[4], c[5], c[6], ka or None, sec + nsec / 1e9, rx, tx))
            pos += (n + 3) & ~3

    def _peer_generic(self, buf: bytes, start: int, end: int) -> None:
        """Any layout, including a continuation (public key + more allowed IPs) of a peer
        whose allowed IPs did not fit in the previous message."""
        found = {kind: (a, b) for kind, a, b in attrs(buf, start, end)}
        if WGPEER_A_PUBLIC_KEY not in found:
            raise ValueError("peer without a public key in the device dump")
        a, b = found[WGPEER_A_PUBLIC_KEY]
        key = _key_str(buf[a:b])
        old = self.peers.get(key)
        changes: dict[str, Any] = {}
        allowed: list[str] = list(old.allowed_ips) if old else []
        for kind, (a, b) in found.items():
            if kind == WGPEER_A_PRESHARED_KEY:
                changes["preshared_key"] = None if buf[a:b] == ZERO_KEY else _key_str(buf[a:b])
            elif kind == WGPEER_A_ENDPOINT:
                changes["endpoint"] = format_endpoint(buf, a, b)
            elif kind == WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
                changes["persistent_keepalive"] = _U16.unpack_from(buf, a)[0] or None
            elif kind == WGPEER_A_LAST_HANDSHAKE_TIME:
                sec, nsec = _TIMESPEC.unpack_from(buf, a)
                changes["last_handshake"] = sec + nsec / 1e9
            elif kind == WGPEER_A_RX_BYTES:
                changes["rx_bytes"] = _U64.unpack_from(buf, a)[0]
            elif kind == WGPEER_A_TX_BYTES:
                changes["tx_bytes"] = _U64.unpack_from(buf, a)[0]
            elif kind == WGPEER_A_ALLOWEDIPS:
                _allowed_generic(buf, a, b, allowed)
        base = old or PeerState(key, None, (), None, None, 0.0, 0, 0)
        self.peers[key] = base._replace(allowed_ips=tuple(allowed), **changes)

    def device(self, name: str) -> DeviceState:
        private = _key_str(self.private_key) if self.private_key and self.private_key != ZERO_KEY else None
        public = _key_str(self.public_key) if private and self.public_key else None
        return DeviceState(name, private, public, self.listen_port, self.fwmark, self.peers)


def _allowed_generic(buf: bytes, start: int, end: int, out: list[str]) -> None:
    for _, a, b in attrs(buf, start, end):
        family = plen = 0
        packed = b""
        for kind, x, y in attrs(buf, a, b):
            if kind == WGALLOWEDIP_A_FAMILY:
                family = _U16.unpack_from(buf, x)[0]
            elif kind == WGALLOWEDIP_A_IPADDR:
                packed = buf[x:y]
            elif kind == WGALLOWEDIP_A_CIDR_MASK:
                plen = buf[x]
        if family == _AF_INET or family == _AF_INET6:
            out.append(f"{_ntop(family, packed)}/{plen}")
