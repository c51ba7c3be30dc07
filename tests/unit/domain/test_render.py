from __future__ import annotations

import re

import pytest

from wgpilot.domain import keys, render
from wgpilot.domain.errors import ValidationError


def cfg(**over: object) -> render.ClientConfig:
    base = dict(
        network_name="office",
        peer_name="anna's laptop",
        private_key=keys.generate_private_key(),
        addresses=("10.8.0.2/32",),
        dns=("1.1.1.1",),
        mtu=None,
        server_public_key=keys.generate_keypair()[1],
        preshared_key=None,
        allowed_ips=("0.0.0.0/0", "::/0"),
        endpoint="vpn.example.com:51820",
        persistent_keepalive=None,
    )
    base.update(over)
    return render.ClientConfig(**base)  # type: ignore[arg-type]


def test_renders_a_wg_quick_config() -> None:
    c = cfg(preshared_key=keys.generate_preshared_key(), mtu=1380)
    text = render.render(c)
    assert text.splitlines()[1:5] == [
        "[Interface]",
        f"PrivateKey = {c.private_key}",
        "Address = 10.8.0.2/32",
        "DNS = 1.1.1.1",
    ]
    assert "MTU = 1380" in text
    assert f"PresharedKey = {c.preshared_key}" in text
    assert "AllowedIPs = 0.0.0.0/0, ::/0" in text
    assert "Endpoint = vpn.example.com:51820" in text
    assert "PersistentKeepalive = 25" in text  # the default for clients behind NAT


def test_keepalive_zero_is_omitted_and_ipv6_endpoints_are_bracketed() -> None:
    text = render.render(cfg(persistent_keepalive=0, endpoint=render.endpoint_for("2001:db8::1", 51820)))
    assert "PersistentKeepalive" not in text
    assert "Endpoint = [2001:db8::1]:51820" in text


def test_a_peer_that_brought_its_key_gets_a_placeholder() -> None:
    text = render.render(cfg(private_key=None))
    assert f"PrivateKey = {render.PRIVATE_KEY_PLACEHOLDER}" in text


@pytest.mark.parametrize("evil", ["x\nPostUp = rm -rf /", "x\r\n[Peer]", "x\0y", " padded"])
def test_no_value_can_add_a_line(evil: str) -> None:
    with pytest.raises(ValidationError):
        render.render(cfg(endpoint=evil))


def test_the_name_comment_is_sanitised() -> None:
    text = render.render(cfg(peer_name="a\n[Peer]\nPostUp = `id`"))
    assert text.count("[Peer]") == 1
    assert "PostUp" in text.splitlines()[0] and not any(
        line.startswith("PostUp") for line in text.splitlines()
    )


# What wg-quick accepts as the name of a config file (its interface name), minus "." and "..".
WG_QUICK_NAME = re.compile(r"[A-Za-z0-9_=+.-]{1,15}\.conf")


def test_a_peer_name_that_is_an_interface_name_is_the_file_name() -> None:
    for name in ("laptop", "wg0", "a=b+c_d.e-f", "x" * 15):
        assert render.filename(name) == f"{name}.conf"
        assert render.interface_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "anna's laptop",
        "../../etc/passwd",
        "%2e%2e%2f",
        "ÄÖÜ",
        "x" * 300,
        "a-sixteen-chars!",
        "-leading-dash",
        ".hidden",
        "..",
        "😀 phone",
        "Büro-Drucker im Keller",
    ],
)
def test_every_file_name_is_one_wg_quick_accepts(name: str) -> None:
    got = render.filename(name)
    assert WG_QUICK_NAME.fullmatch(got), got
    assert got[0] not in ".-" and got not in (".conf", "..conf")
    assert render.filename(name) == got  # deterministic


def test_long_names_keep_their_start_and_stay_distinct() -> None:
    assert render.filename("anna's laptop").startswith("anna-s-l-")
    names = [f"employee-laptop-{i:05d}" for i in range(10_000)]
    stems = {render.interface_name(n) for n in names}
    assert len(stems) == len(names)
    assert all(len(s) <= 15 for s in stems)


def test_qr_codes() -> None:
    text = render.render(cfg())
    assert render.qr_png(text).startswith(b"\x89PNG")
    assert b"<svg" in render.qr_svg(text)
    assert "█" in render.qr_terminal(text) or "▀" in render.qr_terminal(text)
