"""The UAPI wire format: encoding a change and parsing a device dump (both parsers)."""

from __future__ import annotations

import socket
from pathlib import Path

from wgpilot.domain import keys
from wgpilot.kernel import uapi
from wgpilot.kernel.driver import PeerConfig
from wgpilot.kernel.uapi import _parse_fast, _parse_generic, encode_set, parse_get


def dump(n: int) -> tuple[str, list[str]]:
    lines = ["private_key=" + keys.to_hex(keys.generate_private_key()), "listen_port=51820", "fwmark=0"]
    pubs = []
    for i in range(n):
        pub = keys.generate_keypair()[1]
        pubs.append(pub)
        lines.append("public_key=" + keys.to_hex(pub))
        lines.append("preshared_key=" + ("0" * 64 if i % 2 else keys.to_hex(keys.generate_preshared_key())))
        lines.append("protocol_version=1")
        if i % 3 == 0:
            lines.append(f"endpoint=192.0.2.{i % 250}:{1000 + i}")
        elif i % 5 == 0:
            lines.append("endpoint=[2001:db8::1]:51820")
        lines += [
            f"last_handshake_time_sec={i * 7}",
            f"last_handshake_time_nsec={i}",
            f"tx_bytes={i * 3}",
            f"rx_bytes={i * 5}",
            f"persistent_keepalive_interval={i % 30}",
        ]
        lines += [f"allowed_ip=10.{j}.0.{i % 256}/32" for j in range(i % 3)]
    return "\n".join(lines), pubs


def test_fast_and_generic_parsers_agree() -> None:
    text, pubs = dump(500)
    fast, generic = _parse_fast("wg0", text), _parse_generic("wg0", text)
    assert fast is not None and fast == generic
    assert list(fast.peers) == pubs
    p = fast.peers[pubs[3]]
    assert p.endpoint == "192.0.2.3:1003" and p.rx_bytes == 15 and p.tx_bytes == 9
    assert p.allowed_ips == () and fast.peers[pubs[5]].allowed_ips == ("10.0.0.5/32", "10.1.0.5/32")
    assert fast.peers[pubs[1]].preshared_key is None and fast.peers[pubs[0]].preshared_key is not None
    assert fast.peers[pubs[0]].last_handshake == 0.0 and fast.peers[pubs[0]].persistent_keepalive is None
    assert fast.public_key == keys.public_key(fast.private_key or "")


def test_unknown_keys_fall_back_to_the_generic_parser() -> None:
    text, _ = dump(20)
    odd = text.replace("protocol_version=1\n", "protocol_version=1\nsome_future_key=7\n", 1)
    assert _parse_fast("wg0", odd) is None
    assert len(parse_get("wg0", odd).peers) == 20
    reordered = text.replace("protocol_version=1\nendpoint=", "endpoint=", 1)
    assert parse_get("wg0", reordered) == _parse_generic("wg0", reordered)


def test_a_poll_reuses_idle_peers_and_reparses_changed_ones() -> None:
    text, pubs = dump(30)
    first = parse_get("wgc0", text)
    moved = text.replace("rx_bytes=15\n", "rx_bytes=16\n", 1)  # peer 3 received a byte
    second = parse_get("wgc0", moved)
    assert second == _parse_generic("wgc0", moved)
    assert second.peers[pubs[3]].rx_bytes == 16 and first.peers[pubs[3]].rx_bytes == 15
    assert second.peers[pubs[4]] is first.peers[pubs[4]]  # idle: the same parsed object
    # Only the last answer's peers are remembered: a removed peer is forgotten.
    gone = moved.split("public_key=")
    third = parse_get("wgc0", "public_key=".join(gone[:-1]).rstrip("\n"))
    assert len(third.peers) == 29 and pubs[29] not in third.peers
    assert len(uapi._BLOCKS["wgc0"]) == 29


def test_empty_device() -> None:
    dev = parse_get("wg0", "listen_port=0")
    assert dev.peers == {} and dev.private_key is None and dev.listen_port == 0


def test_encode_set() -> None:
    pub = keys.generate_keypair()[1]
    psk = keys.generate_preshared_key()
    out = encode_set(
        listen_port=51820,
        peers=[PeerConfig(pub, psk, ("10.0.0.2/32", "fd00::2/128"), "192.0.2.1:1", 25)],
        replace_peers=True,
    ).decode()
    assert out.startswith("set=1\nlisten_port=51820\nreplace_peers=true\n")
    assert f"public_key={keys.to_hex(pub)}\npreshared_key={keys.to_hex(psk)}\nendpoint=192.0.2.1:1\n" in out
    assert (
        "persistent_keepalive_interval=25\nreplace_allowed_ips=true\nallowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\n"
        in out
    )
    assert out.endswith("\n\n")
    removal = encode_set(remove=[pub]).decode()
    assert removal == f"set=1\npublic_key={keys.to_hex(pub)}\nremove=true\n\n"
    no_psk = encode_set(peers=[PeerConfig(pub)]).decode()
    assert "preshared_key=" + "0" * 64 in no_psk  # clears a key that was set before


async def test_only_sockets_with_a_listener_hold_a_name(tmp_path: Path) -> None:
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(tmp_path / "wgheld.sock"))
    live.listen(1)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "wgstale.sock"))  # bound, never listening: connect is refused
    stale.close()
    (tmp_path / "notasocket.sock").write_text("")
    try:
        assert await uapi.live_socket_names(tmp_path) == {"wgheld"}
        assert await uapi.UserspaceDriver(socket_dir=tmp_path).held_names() == {"wgheld"}
        assert await uapi.live_socket_names(tmp_path / "missing") == set()
    finally:
        live.close()
