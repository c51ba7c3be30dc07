from __future__ import annotations

import pytest

from wgpilot.domain.clients import client_key, is_loopback


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 through a dual-stack socket
        ("2001:db8:1:2::7", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # one /64, one client
        ("2001:db8:1:3::7", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::1", "::/64"),
        ("local", "local"),
        ("", ""),
    ],
)
def test_client_key_is_the_ipv4_address_or_the_ipv6_64(ip: str, key: str) -> None:
    assert client_key(ip) == key


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.10") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("192.0.2.7") and not is_loopback("::ffff:192.0.2.7") and not is_loopback("local")
