from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wgpilot.domain import ipam
from wgpilot.domain.errors import ExhaustedError, ValidationError

v4 = ipaddress.IPv4Network
v6 = ipaddress.IPv6Network


def test_server_takes_first_usable_and_peers_the_lowest_free() -> None:
    net = v4("10.8.0.0/24")
    assert ipam.server_address(net) == ipaddress.IPv4Address("10.8.0.1")
    assert ipam.lowest_free(net, []) == 2
    assert ipam.lowest_free(net, [2, 3, 5]) == 4
    assert ipam.lowest_free(net, [2, 3, 4]) == 5


def test_network_and_broadcast_are_never_handed_out() -> None:
    net = v4("10.8.0.0/29")  # .0 network, .1 server, .2-.6 peers, .7 broadcast
    assert ipam.usable_range(net) == (1, 6)
    taken: list[int] = []
    for _ in range(ipam.peer_capacity(net)):
        taken.append(ipam.lowest_free(net, taken))
    assert taken == [2, 3, 4, 5, 6]
    with pytest.raises(ExhaustedError, match="full"):
        ipam.lowest_free(net, taken)


def test_slash_30_has_exactly_one_peer() -> None:
    net = v4("10.8.0.0/30")
    assert ipam.server_address(net) == ipaddress.IPv4Address("10.8.0.1")
    assert ipam.peer_capacity(net) == 1
    assert ipam.lowest_free(net, []) == 2
    with pytest.raises(ExhaustedError):
        ipam.lowest_free(net, [2])


def test_slash_31_is_point_to_point() -> None:
    net = v4("10.8.0.0/31")  # RFC 3021: both addresses usable, no network/broadcast
    assert ipam.usable_range(net) == (0, 1)
    assert ipam.server_address(net) == ipaddress.IPv4Address("10.8.0.0")
    assert ipam.lowest_free(net, []) == 1
    with pytest.raises(ExhaustedError):
        ipam.lowest_free(net, [1])


def test_slash_32_has_no_room() -> None:
    net = v4("10.8.0.7/32")
    assert ipam.peer_capacity(net) == 0
    with pytest.raises(ValidationError):
        ipam.server_index(net)


def test_ipv6_skips_only_the_anycast_address() -> None:
    net = v6("fd00:8::/125")  # 8 addresses, index 0 is subnet-router anycast
    assert ipam.usable_range(net) == (1, 7)
    assert ipam.server_address6(net) == ipaddress.IPv6Address("fd00:8::1")
    assert ipam.peer_capacity(net) == 6
    assert ipam.usable_range(v6("fd00::/127")) == (0, 1)


def test_ipv6_mirrors_the_ipv4_index() -> None:
    a = ipam.mirror6(v4("10.8.0.0/24"), v6("fd00:8::/64"), ipaddress.IPv4Address("10.8.0.23"))
    assert a == ipaddress.IPv6Address("fd00:8::17")


def test_gapless_fast_path_agrees_with_the_search() -> None:
    net = v4("10.8.0.0/24")
    assert ipam.next_free_if_gapless(net, 0, None, None) == 2
    assert ipam.next_free_if_gapless(net, 3, 2, 4) == 5
    assert ipam.next_free_if_gapless(net, 2, 2, 4) is None  # a gap at 3
    assert ipam.next_free_if_gapless(net, 0, 2, 4) is None  # a count that disagrees: not trusted
    assert ipam.next_free_if_gapless(net, 2, 3, 4) is None  # 2 is free
    with pytest.raises(ExhaustedError):
        ipam.next_free_if_gapless(net, 253, 2, 254)


@given(st.sets(st.integers(min_value=2, max_value=14), max_size=13))
def test_lowest_free_is_the_minimum_of_the_complement(taken: set[int]) -> None:
    net = v4("10.8.0.0/28")
    free = set(range(2, 15)) - taken
    if free:
        assert ipam.lowest_free(net, taken) == min(free)
    else:
        with pytest.raises(ExhaustedError):
            ipam.lowest_free(net, taken)


def test_overlap_names_the_clash() -> None:
    others = [("network 'a'", v4("10.8.0.0/16")), ("host eth0", v6("fd00::/64"))]
    assert ipam.overlapping(v4("10.8.5.0/24"), others) == "network 'a'"
    assert ipam.overlapping(v4("10.9.0.0/24"), others) is None
    assert ipam.overlapping(v6("fd00::/48"), others) == "host eth0"
