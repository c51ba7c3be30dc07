"""The WireGuard genl encoder and dump decoder, checked byte-wise without a kernel: what we
send is decoded back with a plain attribute walker, and dumps are built the way the
kernel's get_peer() writes them (including peers split across messages)."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wgpilot.domain import keys
from wgpilot.kernel import wggenl as g
from wgpilot.kernel.driver import PeerConfig

NESTED = g.NLA_F_NESTED


def walk(buf: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, bytes, bool]]:
    """(type, payload, nested flag) of each attribute."""
    end = len(buf) if end is None else end
    out = []
    pos = start
    while pos < end:
        n, kind = struct.unpack_from("<HH", buf, pos)
        assert n >= 4 and pos + n <= end
        out.append((kind & g.NLA_TYPE_MASK, buf[pos + 4 : pos + n], bool(kind & NESTED)))
        pos += (n + 3) & ~3
    return out


def as_dict(buf: bytes) -> dict[int, bytes]:
    return {k: v for k, v, _ in walk(buf)}


def decoded_peer(raw: bytes) -> dict[str, object]:
    attrs = as_dict(raw)
    out: dict[str, object] = {
        "pub": keys.from_hex(attrs[g.WGPEER_A_PUBLIC_KEY].hex()),
        "flags": struct.unpack("<I", attrs[g.WGPEER_A_FLAGS])[0],
    }
    if g.WGPEER_A_PRESHARED_KEY in attrs:
        out["psk"] = attrs[g.WGPEER_A_PRESHARED_KEY]
    if g.WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL in attrs:
        out["ka"] = struct.unpack("<H", attrs[g.WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL])[0]
    if g.WGPEER_A_ENDPOINT in attrs:
        out["endpoint"] = attrs[g.WGPEER_A_ENDPOINT]
    ips = []
    for kind, payload, nested in walk(raw):
        if kind == g.WGPEER_A_ALLOWEDIPS:
            assert nested
            for _, entry, entry_nested in walk(payload):
                assert entry_nested
                e = as_dict(entry)
                fam = struct.unpack("<H", e[g.WGALLOWEDIP_A_FAMILY])[0]
                ips.append(
                    f"{socket.inet_ntop(fam, e[g.WGALLOWEDIP_A_IPADDR])}/{e[g.WGALLOWEDIP_A_CIDR_MASK][0]}"
                )
    out["ips"] = ips
    return out


def message_peers(msg: bytes) -> list[dict[str, object]]:
    peers = [p for k, p, _ in walk(msg) if k == g.WGDEVICE_A_PEERS]
    assert len(peers) <= 1
    return [decoded_peer(raw) for _, raw, nested in walk(peers[0])] if peers else []


def key(i: int) -> str:
    return keys.from_hex(f"{i + 1:064x}")


def peer(i: int, **kw: object) -> PeerConfig:
    return PeerConfig(key(i), allowed_ips=(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32",), **kw)  # type: ignore[arg-type]


# -- encoding ----------------------------------------------------------------------------------------
def test_device_attributes_in_one_message() -> None:
    priv = keys.generate_private_key()
    [msg] = g.encode_set_device("wg0", private_key=priv, listen_port=51820, replace_peers=True)
    attrs = as_dict(msg)
    assert attrs[g.WGDEVICE_A_IFNAME] == b"wg0\0"
    assert attrs[g.WGDEVICE_A_PRIVATE_KEY] == keys.decode_key(priv)
    assert struct.unpack("<H", attrs[g.WGDEVICE_A_LISTEN_PORT])[0] == 51820
    assert struct.unpack("<I", attrs[g.WGDEVICE_A_FLAGS])[0] == g.WGDEVICE_F_REPLACE_PEERS
    assert g.WGDEVICE_A_PEERS not in attrs


def test_upsert_flags_preshared_key_keepalive_and_endpoints() -> None:
    psk = keys.generate_preshared_key()
    peers = [
        PeerConfig(key(1), psk, ("10.0.0.2/32", "fd00::2/128"), "192.0.2.1:51820", 25),
        PeerConfig(key(2), None, ("10.0.0.3/32",), "[2001:db8::1]:443"),
    ]
    [msg] = g.encode_set_device("wg0", peers=peers)
    a, b = message_peers(msg)
    assert a["flags"] == g.WGPEER_F_REPLACE_ALLOWEDIPS
    assert a["psk"] == keys.decode_key(psk) and a["ka"] == 25
    assert a["ips"] == ["10.0.0.2/32", "fd00::2/128"]
    assert a["endpoint"] == struct.pack("<H", socket.AF_INET) + struct.pack(">H", 51820) + bytes(
        [192, 0, 2, 1]
    ) + bytes(8)
    assert b["psk"] == bytes(32) and b["ka"] == 0  # clears what the device had
    ep = b["endpoint"]
    assert isinstance(ep, bytes) and len(ep) == 28
    assert struct.unpack_from("<H", ep)[0] == socket.AF_INET6 and struct.unpack_from(">H", ep, 2)[0] == 443
    assert ep[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")


def test_every_nested_attribute_carries_the_nested_flag() -> None:
    [msg] = g.encode_set_device("wg0", peers=[peer(1)], remove=[key(9)])
    peers = [(k, nested) for k, _, nested in walk(msg) if k == g.WGDEVICE_A_PEERS]
    assert peers == [(g.WGDEVICE_A_PEERS, True)]


def test_removals_before_upserts_in_one_message() -> None:
    [msg] = g.encode_set_device("wg0", peers=[peer(1)], remove=[key(7), key(8)])
    got = message_peers(msg)
    assert [(p["pub"], p["flags"]) for p in got] == [
        (key(7), g.WGPEER_F_REMOVE_ME),
        (key(8), g.WGPEER_F_REMOVE_ME),
        (key(1), g.WGPEER_F_REPLACE_ALLOWEDIPS),
    ]
    assert "psk" not in got[0] and got[0]["ips"] == []


def test_many_peers_are_batched_below_the_u16_limit_and_replace_only_first() -> None:
    priv = keys.generate_private_key()
    peers = [peer(i) for i in range(10_000)]
    msgs = g.encode_set_device("wg0", private_key=priv, listen_port=1, peers=peers, replace_peers=True)
    assert 10 <= len(msgs) <= 30  # ~65 KB each, not one per peer
    seen = []
    for i, msg in enumerate(msgs):
        attrs = as_dict(msg)
        assert attrs[g.WGDEVICE_A_IFNAME] == b"wg0\0"
        assert (g.WGDEVICE_A_FLAGS in attrs) == (i == 0)
        assert (g.WGDEVICE_A_PRIVATE_KEY in attrs) == (i == 0)
        assert (g.WGDEVICE_A_LISTEN_PORT in attrs) == (i == 0)
        n = struct.unpack_from("<H", msg, msg.index(struct.pack("<H", g.WGDEVICE_A_PEERS | NESTED)) - 2)[0]
        assert n <= g.PEERS_BUDGET
        seen += [p["pub"] for p in message_peers(msg)]
    assert seen == [p.public_key for p in peers]


def test_a_peer_too_big_for_one_message_continues_update_only() -> None:
    ips = (*(f"10.{i >> 8}.{i & 255}.0/24" for i in range(4000)), "fd00::/64")
    msgs = g.encode_set_device("wg0", peers=[PeerConfig(key(1), allowed_ips=ips)], replace_peers=True)
    assert len(msgs) >= 2
    parts = [p for m in msgs for p in message_peers(m)]
    assert parts[0]["flags"] == g.WGPEER_F_REPLACE_ALLOWEDIPS
    assert all(p["flags"] == g.WGPEER_F_UPDATE_ONLY and "psk" not in p for p in parts[1:])
    assert [ip for p in parts for ip in p["ips"]] == list(ips)  # type: ignore[attr-defined]
    assert g.WGDEVICE_A_FLAGS not in as_dict(msgs[1])


def test_custom_budget_and_its_limits() -> None:
    msgs = g.encode_set_device("wg0", peers=[peer(i) for i in range(10)], budget=300)
    assert len(msgs) == 5 and all(len(message_peers(m)) == 2 for m in msgs)
    with pytest.raises(ValueError, match="u16"):
        g.encode_set_device("wg0", peers=[peer(1)], budget=70_000)


@pytest.mark.parametrize(
    "bad",
    [
        {"peers": [PeerConfig("nope")]},
        {"peers": [PeerConfig(key(1), allowed_ips=("10.0.0.0/33",))]},
        {"peers": [PeerConfig(key(1), allowed_ips=("10.0.0.x/32",))]},
        {"peers": [PeerConfig(key(1), endpoint="vpn.example.com:51820")]},
        {"peers": [PeerConfig(key(1), endpoint="192.0.2.1")]},
        {"remove": ["AAAA"]},
    ],
)
def test_invalid_input_is_a_value_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        g.encode_set_device("wg0", **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a" * 16, "a/b"])
def test_bad_interface_names(name: str) -> None:
    with pytest.raises(ValueError, match="interface name"):
        g.ifname_attr(name)


def test_parse_endpoint() -> None:
    assert g.parse_endpoint("192.0.2.1:1") == (socket.AF_INET, bytes([192, 0, 2, 1]), 1)
    assert g.parse_endpoint("[::1]:65535")[2] == 65535
    for bad in ("[::1]", "::1:0", "192.0.2.1:70000"):
        with pytest.raises(ValueError):
            g.parse_endpoint(bad)


# -- decoding: dumps built the way the kernel writes them -------------------------------------------
def k_attr(kind: int, payload: bytes) -> bytes:
    return g.attr(kind, payload)


def k_ip(cidr: str) -> bytes:
    addr, plen = cidr.split("/")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    body = (
        k_attr(3, bytes([int(plen)]))
        + k_attr(1, struct.pack("<H", fam))
        + k_attr(2, socket.inet_pton(fam, addr))
    )
    return g.nested(0, body)


def k_peer(
    pub: bytes,
    psk: bytes,
    hs: tuple[int, int],
    ka: int,
    tx: int,
    rx: int,
    endpoint: bytes | None,
    ips: list[str],
) -> bytes:
    body = (
        k_attr(1, pub)
        + k_attr(2, psk)
        + k_attr(6, struct.pack("<qq", *hs))
        + k_attr(5, struct.pack("<H", ka))
        + k_attr(8, struct.pack("<Q", tx))
        + k_attr(7, struct.pack("<Q", rx))
        + k_attr(10, struct.pack("<I", 1))
    )
    if endpoint:
        body += k_attr(4, endpoint)
    if ips:
        body += g.nested(9, b"".join(k_ip(c) for c in ips))
    return g.nested(0, body)


def k_continuation(pub: bytes, ips: list[str]) -> bytes:
    return g.nested(0, k_attr(1, pub) + g.nested(9, b"".join(k_ip(c) for c in ips)))


def k_message(peers: list[bytes], *, first: bool, priv: bytes | None = None) -> bytes:
    body = k_attr(1, struct.pack("<I", 7)) + k_attr(2, b"wg0\0")
    if first:
        if priv:
            body += k_attr(3, priv) + k_attr(4, keys.decode_key(keys.public_key(keys.from_hex(priv.hex()))))
        body += k_attr(6, struct.pack("<H", 51820)) + k_attr(7, struct.pack("<I", 0))
    if peers:
        body += g.nested(8, b"".join(peers))
    return body


def parse(messages: list[bytes], prefix: bytes = b"") -> g.DumpParser:
    p = g.DumpParser()
    for m in messages:
        buf = prefix + m
        p.feed(buf, len(prefix), len(buf))
    return p


def sin(ip: str, port: int) -> bytes:
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    if fam == socket.AF_INET:
        return struct.pack("<H", fam) + struct.pack(">H", port) + socket.inet_pton(fam, ip) + bytes(8)
    return struct.pack("<H", fam) + struct.pack(">H", port) + bytes(4) + socket.inet_pton(fam, ip) + bytes(4)


def test_dump_with_a_peer_split_across_messages_is_merged() -> None:
    priv = keys.decode_key(keys.generate_private_key())
    psk = keys.decode_key(keys.generate_preshared_key())
    a, b = keys.decode_key(key(1)), keys.decode_key(key(2))
    msgs = [
        k_message(
            [
                k_peer(a, bytes(32), (0, 0), 0, 0, 0, None, ["10.0.0.2/32"]),
                k_peer(
                    b,
                    psk,
                    (1_750_000_000, 500_000_000),
                    25,
                    10,
                    20,
                    sin("192.0.2.9", 51820),
                    ["10.1.0.0/24", "fd00::/64"],
                ),
            ],
            first=True,
            priv=priv,
        ),
        k_message([k_continuation(b, ["10.2.0.0/16", "fd01::1/128"])], first=False),
    ]
    dev = parse(msgs, prefix=b"\xff" * 20).device("wg0")
    assert dev.private_key == keys.from_hex(priv.hex())
    assert dev.public_key == keys.public_key(dev.private_key)
    assert dev.listen_port == 51820 and dev.fwmark == 0
    assert list(dev.peers) == [key(1), key(2)]
    pa, pb = dev.peers[key(1)], dev.peers[key(2)]
    assert pa.preshared_key is None and pa.persistent_keepalive is None and pa.endpoint is None
    assert pa.last_handshake == 0.0 and pa.allowed_ips == ("10.0.0.2/32",)
    assert pb.preshared_key == keys.from_hex(psk.hex())
    assert pb.allowed_ips == ("10.1.0.0/24", "fd00::/64", "10.2.0.0/16", "fd01::1/128")
    assert pb.endpoint == "192.0.2.9:51820" and pb.persistent_keepalive == 25
    assert pb.last_handshake == 1_750_000_000.5 and (pb.tx_bytes, pb.rx_bytes) == (10, 20)


def test_generic_path_for_an_unexpected_attribute_order() -> None:
    pub = keys.decode_key(key(3))
    body = (
        k_attr(7, struct.pack("<Q", 5))
        + k_attr(1, pub)
        + k_attr(4, sin("2001:db8::7", 9))
        + g.nested(9, k_ip("10.9.0.1/32"))
    )
    dev = parse([k_message([g.nested(0, body)], first=True)]).device("wg0")
    p = dev.peers[key(3)]
    assert (p.rx_bytes, p.endpoint, p.allowed_ips) == (5, "[2001:db8::7]:9", ("10.9.0.1/32",))
    assert dev.private_key is None and dev.public_key is None


def test_truncated_dump_is_an_error() -> None:
    msg = k_message(
        [k_peer(keys.decode_key(key(1)), bytes(32), (0, 0), 0, 0, 0, None, ["10.0.0.2/32"])], first=True
    )
    with pytest.raises(ValueError, match="truncated"):
        parse([msg[:-10]])


cidrs = st.one_of(
    st.builds(
        lambda a, n: f"{socket.inet_ntop(socket.AF_INET, a)}/{n}",
        st.binary(min_size=4, max_size=4),
        st.integers(0, 32),
    ),
    st.builds(
        lambda a, n: f"{socket.inet_ntop(socket.AF_INET6, a)}/{n}",
        st.binary(min_size=16, max_size=16),
        st.integers(0, 128),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.binary(min_size=32, max_size=32),
            st.lists(cidrs, max_size=6),
            st.integers(0, 2**64 - 1),
            st.booleans(),
        ),
        unique_by=lambda t: t[0],
        max_size=12,
    ),
    st.integers(1, 5),
)
def test_dump_round_trip_however_it_is_split(
    peers: list[tuple[bytes, list[str], int, bool]], split: int
) -> None:
    """Every peer survives whatever message boundaries the kernel chooses."""
    elements: list[bytes] = []
    for pub, ips, rx, v6 in peers:
        ep = sin("fd00::1", 1) if v6 else sin("10.0.0.1", 2)
        head, tail = ips[:split], ips[split:]
        elements.append(k_peer(pub, bytes(32), (0, 0), 0, 0, rx, ep, head))
        if tail:
            elements.append(k_continuation(pub, tail))
    msgs = [k_message(elements[i : i + split], first=i == 0) for i in range(0, len(elements), split)] or [
        k_message([], first=True)
    ]
    dev = parse(msgs).device("wg0")
    want = {keys.from_hex(pub.hex()): (tuple(ips), rx) for pub, ips, rx, _ in peers}
    assert {k: (p.allowed_ips, p.rx_bytes) for k, p in dev.peers.items()} == want


def test_a_later_dump_reuses_unchanged_peers_and_notices_changes() -> None:
    a, b = keys.decode_key(key(1)), keys.decode_key(key(2))
    psk = keys.decode_key(keys.generate_preshared_key())
    first = parse(
        [
            k_message(
                [
                    k_peer(a, psk, (5, 0), 25, 1, 2, sin("192.0.2.1", 7), ["10.0.0.2/32"]),
                    k_peer(b, bytes(32), (0, 0), 0, 0, 0, None, ["10.0.0.3/32"]),
                ],
                first=True,
            )
        ]
    )
    # a: only counters moved; b: new preshared key and allowed IPs under the same key.
    second = g.DumpParser(known=first.seen)
    msg = k_message(
        [
            k_peer(a, psk, (9, 0), 25, 100, 200, sin("192.0.2.1", 7), ["10.0.0.2/32"]),
            k_peer(b, psk, (0, 0), 0, 0, 0, None, ["10.0.0.3/32", "10.0.0.4/32"]),
        ],
        first=True,
    )
    second.feed(msg, 0, len(msg))
    dev = second.device("wg0")
    pa, pb = dev.peers[key(1)], dev.peers[key(2)]
    assert (pa.last_handshake, pa.tx_bytes, pa.rx_bytes, pa.endpoint) == (9.0, 100, 200, "192.0.2.1:7")
    assert pa.preshared_key == keys.from_hex(psk.hex()) and pa.allowed_ips == ("10.0.0.2/32",)
    assert pb.preshared_key == keys.from_hex(psk.hex()) and pb.allowed_ips == ("10.0.0.3/32", "10.0.0.4/32")
    assert second.seen[a] is first.seen[a]  # reused, not decoded again
    assert set(second.seen) == {a, b}


@pytest.mark.parametrize(
    "bad",
    ["198.51.100.7:\u0665\u0661\u0668\u0662\u0660", "198.51.100.7:²", "[fd00::1]:\uff15", "198.51.100.7:1_0"],
)
def test_endpoint_ports_are_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="needs a port"):
        g.parse_endpoint(bad)
