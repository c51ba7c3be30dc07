from __future__ import annotations

import pytest

from wgpilot.domain import validate
from wgpilot.domain.errors import ValidationError

INJECTIONS = [
    "a\nb",
    "x\n",
    "corp.example\n",
    "a\r\nb",
    "a\0b",
    "[Peer]",
    "PostUp = id",
    "$(id)",
    "`id`",
    "${IFS}",
    "a;b",
    "<script>",
    "a=b",
]


@pytest.mark.parametrize("value", [*INJECTIONS, "", " x", "x ", "x" * 65, 5, None])
def test_names_refuse_anything_outside_the_allow_list(value: object) -> None:
    with pytest.raises(ValidationError) as err:
        validate.name(value)
    assert err.value.fields[0].field == "name"


@pytest.mark.parametrize(
    "value", ["laptop", "Anna's phone (work)", "ops@lab-2", "Jürgen", "東京 office", "a.b,c+d&e"]
)
def test_names_allow_what_people_use(value: str) -> None:
    assert validate.name(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.8.0.1/24", "did you mean 10.8.0.0/24"),
        ("10.8.0.0", "needs a prefix length"),
        ("10.8.0.0/33", "not a valid CIDR"),
        ("fd00::/64", "must be an IPv4"),
        ("127.0.0.0/8", "reserved"),
        ("10.0.0.0/7", "between /8 and /31"),
        ("10.8.0.0/32", "between /8 and /31"),
        ("10.8.0.0/24\n", "CIDR"),
    ],
)
def test_subnet_errors_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        validate.subnet(value)


def test_subnet6_must_hold_the_ipv4_plan() -> None:
    v4 = validate.subnet("10.8.0.0/16")
    assert str(validate.subnet6("fd00:8::/64", v4)) == "fd00:8::/64"
    with pytest.raises(ValidationError, match="/112 or larger"):
        validate.subnet6("fd00:8::/120", v4)
    with pytest.raises(ValidationError, match="reserved"):
        validate.subnet6("fe80::/64", v4)


@pytest.mark.parametrize("value", [0, 65536, -1, "51820", True, 1.5])
def test_ports(value: object) -> None:
    with pytest.raises(ValidationError):
        validate.port(value)


def test_dns_entries_are_addresses_or_domains() -> None:
    assert validate.dns_list(["1.1.1.1", "2606:4700::1111", "corp.example"]) == (
        "1.1.1.1",
        "2606:4700::1111",
        "corp.example",
    )
    assert validate.dns_list("9.9.9.9, 9.9.9.9") == ("9.9.9.9",)
    for evil in INJECTIONS:
        with pytest.raises(ValidationError) as err:
            validate.dns_list(["1.1.1.1", evil])
        assert err.value.fields[0].field == "dns_servers[1]"


@pytest.mark.parametrize("bad", ["1.1.1", "1.1.1.1.1", "1.1.1.1.", "256.1.1.1", "10", "1..1.1"])
def test_digits_and_dots_are_an_address_or_an_error(bad: str) -> None:
    # wg-quick takes such a DNS entry for a server; resolvers read "1.1.1" as 1.1.0.1.
    with pytest.raises(ValidationError, match="not a valid IPv4 address"):
        validate.dns_entry(bad, "dns_servers[0]")
    with pytest.raises(ValidationError):
        validate.hostname(bad)
    with pytest.raises(ValidationError):
        validate.endpoint(f"{bad}:51820")
    assert validate.hostname("10.0.0.1") == "10.0.0.1"  # an address is still a host
    assert validate.dns_entry("1.example", "d") == "1.example"


def test_list_fields_report_every_bad_entry() -> None:
    with pytest.raises(ValidationError) as err:
        validate.dns_list(["1.1.1", "9.9.9.9", "1.1.1.1.1", "x y", "corp.example"])
    assert [f.field for f in err.value.fields] == ["dns_servers[0]", "dns_servers[2]", "dns_servers[3]"]
    assert "dns_servers[2]: '1.1.1.1.1'" in err.value.message
    with pytest.raises(ValidationError) as err:
        validate.cidr_list(["nope", "10.0.0.0/8", "10.0.0.1/8", "x"], "site_networks")
    assert [f.field for f in err.value.fields] == ["site_networks[0]", "site_networks[2]", "site_networks[3]"]


def test_cidr_lists_name_the_index() -> None:
    with pytest.raises(ValidationError) as err:
        validate.cidr_list(["10.0.0.0/8", "nope"], "site_networks")
    assert err.value.fields[0].field == "site_networks[1]"
    assert validate.cidr_list("10.0.0.0/8,10.0.0.0/8", "x") == ("10.0.0.0/8",)


@pytest.mark.parametrize("good", ["1.2.3.4:51820", "[2001:db8::1]:51820", "vpn.example.com:443"])
def test_endpoints(good: str) -> None:
    assert validate.endpoint(good) == good


@pytest.mark.parametrize(
    "bad", ["1.2.3.4", "host:0", "host:99999", "a b:1", "x\n:1", "[::1:1", "::1:51820", "$(id):1"]
)
def test_bad_endpoints(bad: str) -> None:
    with pytest.raises(ValidationError):
        validate.endpoint(bad)


def test_keepalive_and_mtu_and_timestamps() -> None:
    assert validate.keepalive(None) is None
    assert validate.keepalive(0) == 0
    with pytest.raises(ValidationError):
        validate.keepalive(70000)
    assert validate.mtu(None) is None
    with pytest.raises(ValidationError):
        validate.mtu(1000)
    with pytest.raises(ValidationError, match="future"):
        validate.timestamp(100, "expires_at", now=200)
    with pytest.raises(ValidationError, match="out of range"):
        validate.timestamp(2**63, "expires_at")


def test_email_and_hostname() -> None:
    assert validate.email("a.b@example.com") == "a.b@example.com"
    assert validate.email("") is None
    with pytest.raises(ValidationError):
        validate.email("a@b")
    assert validate.hostname("VPN.Example.com.") == "vpn.example.com"
    with pytest.raises(ValidationError):
        validate.hostname("-bad-.example")


@pytest.mark.parametrize(
    ("text", "signed", "expected"),
    [
        ("0", False, 0),
        ("51820", False, 51820),
        ("-5", True, -5),
        ("-5", False, None),
        ("-", True, None),
        ("", False, None),
        ("²", False, None),  # isdigit() is True, int() raises
        ("\u0665\u0661\u0668\u0662\u0660", False, None),  # int() reads 51820
        ("\uff15", False, None),  # fullwidth
        ("1_000", False, None),
        (" 7", False, None),
        ("+7", False, None),
        ("9" * 21, False, None),  # bounded: int() of thousands of digits is slow or refused
    ],
)
def test_ascii_int_takes_ascii_digits_only(text: str, signed: bool, expected: int | None) -> None:
    assert validate.ascii_int(text, signed=signed) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "198.51.100.7:\u0665\u0661\u0668\u0662\u0660",
        "host:\uff15\uff11",
        "[2001:db8::1]:\u0665\u0661\u0668\u0662\u0660",
        "h:¹",
    ],
)
def test_endpoint_ports_are_ascii_digits(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate.endpoint(bad)
    assert err.value.fields[0].field == "endpoint"
