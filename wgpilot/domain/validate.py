"""Strict parsers for every user-supplied value. Each raises ValidationError naming
the field, and returns the value in its canonical form.

Text that can end up in a rendered WireGuard config (names, DNS entries, CIDRs,
endpoints) is checked against allow-lists, so it can never carry a newline, a
``[Section]`` header, a ``Key = value`` directive or shell syntax.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from wgpilot.domain.errors import FieldError, ValidationError
from wgpilot.domain.models import Direction, Mode, Role

MAX_NAME = 64
# Letters and digits of any script, space and a few punctuation marks people use
# in device names ("Anna's phone (work)", "ops@lab-2"). No control characters,
# no brackets, equals, hash, quotes, backticks, dollar, angle brackets or slashes.
_NAME_RE = re.compile(r"^[\w][\w .,'@()+&-]*$", re.UNICODE)
_IFACE_RE = re.compile(r"^[A-Za-z0-9_=+.-]{1,15}$")
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#%&'*+/=?^_{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?$")
# Digits and dots only: an address or nothing. wg-quick takes such a DNS entry for a
# server, and resolvers read "1.1.1" as the IPv4 address 1.1.0.1 (inet_aton).
_DOTTED_DIGITS = re.compile(r"[0-9.]+")


def _is_hostname(value: str) -> bool:
    """A DNS name, or an IPv4 address where a name is asked for (never "1.1.1")."""
    if _DOTTED_DIGITS.fullmatch(value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME_RE.fullmatch(value))


MAX_LIST = 64  # DNS servers, CIDR lists: enough for any real setup, bounded for safety


def ascii_int(text: str, *, signed: bool = False, max_digits: int = 20) -> int | None:
    """The integer ``text`` spells in ASCII digits (one leading ``-`` when ``signed``),
    or None. Every number read from text goes through here: ``str.isdigit`` and
    ``int`` also take other scripts' digits ("٥١٨٢٠" is 51820 to ``int``, "²" passes
    ``isdigit`` and then makes ``int`` raise), ``int`` takes "1_000" and " 7", and
    wireguard-go, SQLite and the kernel read none of these as we would."""
    digits = text[1:] if signed and text.startswith("-") else text
    if not 0 < len(digits) <= max_digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(text)


def name(value: object, field: str = "name") -> str:
    if not isinstance(value, str):
        raise ValidationError.field(field, "must be a string")
    if value != value.strip():
        raise ValidationError.field(field, "must not start or end with a space")
    if not value:
        raise ValidationError.field(field, "must not be empty")
    if len(value) > MAX_NAME:
        raise ValidationError.field(field, f"must be at most {MAX_NAME} characters")
    if not _NAME_RE.fullmatch(value):
        raise ValidationError.field(
            field,
            "may contain letters, digits, spaces and . , ' @ ( ) + & - only",
        )
    return value


def interface_name(value: object, field: str = "interface") -> str:
    if not isinstance(value, str) or not _IFACE_RE.fullmatch(value) or value in {".", ".."}:
        raise ValidationError.field(field, "must be 1-15 characters of letters, digits and _ = + . -")
    return value


def mode(value: object, field: str = "mode") -> Mode:
    try:
        return Mode(str(value)) if isinstance(value, str) else Mode(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError.field(field, "must be one of " + ", ".join(m.value for m in Mode)) from None


def role(value: object, field: str = "role") -> Role:
    try:
        return Role(str(value)) if isinstance(value, str) else Role(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError.field(field, "must be one of " + ", ".join(r.value for r in Role)) from None


def direction(value: object, field: str = "direction") -> Direction:
    try:
        return Direction(str(value)) if isinstance(value, str) else Direction(value)  # type: ignore[arg-type]
    except ValueError:
        raise ValidationError.field(
            field, "must be one of " + ", ".join(d.value for d in Direction)
        ) from None


def _network(value: object, field: str, version: int | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(value, str) or not value or len(value) > 64 or value != value.strip():
        raise ValidationError.field(field, "must be a CIDR such as 10.8.0.0/24")
    if "/" not in value:
        raise ValidationError.field(field, f"{value!r} needs a prefix length, e.g. {value}/24")
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValidationError.field(field, f"{value!r} is not a valid CIDR") from None
        raise ValidationError.field(field, f"{value!r} has host bits set; did you mean {loose}?") from None
    if version is not None and net.version != version:
        raise ValidationError.field(field, f"must be an IPv{version} network")
    return net


def subnet(value: object, field: str = "subnet") -> ipaddress.IPv4Network:
    net = _network(value, field, 4)
    assert isinstance(net, ipaddress.IPv4Network)
    if net.prefixlen < 8 or net.prefixlen > 31:
        raise ValidationError.field(field, "prefix length must be between /8 and /31")
    if net.is_loopback or net.is_multicast or net.is_link_local or net.is_unspecified:
        raise ValidationError.field(field, f"{net} is a reserved range")
    return net


def subnet6(value: object, v4: ipaddress.IPv4Network | None, field: str = "subnet6") -> ipaddress.IPv6Network:
    net = _network(value, field, 6)
    assert isinstance(net, ipaddress.IPv6Network)
    if net.is_loopback or net.is_multicast or net.is_link_local or net.is_unspecified:
        raise ValidationError.field(field, f"{net} is a reserved range")
    if net.prefixlen < 8 or net.prefixlen > 127:
        raise ValidationError.field(field, "prefix length must be between /8 and /127")
    if v4 is not None and (128 - net.prefixlen) < (32 - v4.prefixlen):
        raise ValidationError.field(
            field,
            f"/{net.prefixlen} is smaller than the IPv4 subnet /{v4.prefixlen}; "
            f"use /{128 - (32 - v4.prefixlen)} or larger",
        )
    return net


def cidr(value: object, field: str) -> str:
    """Any IPv4/IPv6 CIDR (host bits must be clear); returned canonical."""
    return str(_network(value, field, None))


def _each(
    items: list[object] | tuple[object, ...], field: str, parse: Callable[[object, str], str]
) -> list[str]:
    """Every entry parsed, duplicates dropped; every bad entry reported (``field[i]``),
    not only the first, so one answer lists all there is to fix."""
    out: list[str] = []
    errors: list[FieldError] = []
    for i, item in enumerate(items):
        try:
            parsed = parse(item, f"{field}[{i}]")
        except ValidationError as exc:
            errors.extend(exc.fields)
            continue
        if parsed not in out:
            out.append(parsed)
    if errors:
        raise ValidationError.many(errors)
    return out


def cidr_list(value: object, field: str, *, allow_empty: bool = True) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise ValidationError.field(field, "must be a list of CIDRs")
    if len(value) > MAX_LIST:
        raise ValidationError.field(field, f"at most {MAX_LIST} entries")
    out = _each(value, field, cidr)
    if not out and not allow_empty:
        raise ValidationError.field(field, "must not be empty")
    return tuple(out)


def port(value: object, field: str = "listen_port") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.field(field, "must be an integer")
    if not 1 <= value <= 65535:
        raise ValidationError.field(field, "must be between 1 and 65535")
    return value


def mtu(value: object, field: str = "mtu") -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.field(field, "must be an integer")
    if not 1280 <= value <= 9000:
        raise ValidationError.field(field, "must be between 1280 and 9000")
    return value


def keepalive(value: object, field: str = "persistent_keepalive") -> int | None:
    """Seconds; None means "the default" (25 s in client configs), 0 means off."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.field(field, "must be an integer number of seconds")
    if not 0 <= value <= 65535:
        raise ValidationError.field(field, "must be between 0 and 65535 seconds")
    return value


def dns_entry(value: object, field: str) -> str:
    """A DNS server address, or a search domain (wg-quick accepts both); digits and dots
    only must be an IPv4 address."""
    if not isinstance(value, str) or not value or len(value) > 253:
        raise ValidationError.field(field, "must be an IP address or a domain name")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if _DOTTED_DIGITS.fullmatch(value):
        raise ValidationError.field(field, f"{value!r} is not a valid IPv4 address")
    if not _is_hostname(value):
        raise ValidationError.field(field, f"{value!r} is neither an IP address nor a domain name")
    return value


def dns_list(value: object, field: str = "dns_servers") -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple):
        raise ValidationError.field(field, "must be a list of addresses")
    if len(value) > MAX_LIST:
        raise ValidationError.field(field, f"at most {MAX_LIST} entries")
    return tuple(_each(value, field, dns_entry))


def hostname(value: object, field: str = "hostname") -> str:
    if not isinstance(value, str) or not value or len(value) > 253 or not _is_hostname(value):
        raise ValidationError.field(field, "must be a DNS name such as vpn.example.com")
    return value.rstrip(".").lower()


def public_ip(value: object, field: str = "public_ip") -> str:
    if not isinstance(value, str):
        raise ValidationError.field(field, "must be an IP address")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise ValidationError.field(field, f"{value!r} is not an IP address") from None
    if addr.is_unspecified or addr.is_multicast:
        raise ValidationError.field(field, f"{addr} cannot be a server address")
    return str(addr)


def endpoint(value: object, field: str = "endpoint") -> str | None:
    """``host:port`` or ``[v6]:port``; None/'' clears it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 260:
        raise ValidationError.field(field, "must look like host:port")
    # [0-9], not \d: \d also matches other scripts' digits, which int() reads but
    # wireguard-go refuses (and with them the whole interface update).
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})", value) or re.fullmatch(
        r"([^:\[\]]+):([0-9]{1,5})", value
    )
    if not m:
        raise ValidationError.field(field, "must look like host:port or [ipv6]:port (port in digits 0-9)")
    host, port_s = m.group(1), m.group(2)
    port(int(port_s), field)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if ":" in host or not _is_hostname(host):
            raise ValidationError.field(field, f"{host!r} is not a host name or IP address") from None
    return value


def email(value: object, field: str = "email") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL_RE.fullmatch(value):
        raise ValidationError.field(field, "must be an e-mail address")
    return value


def timestamp(value: object, field: str, *, now: int | None = None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError.field(field, "must be a unix timestamp in seconds")
    if not 0 < value < 2**41:
        raise ValidationError.field(field, "is out of range")
    if now is not None and value <= now:
        raise ValidationError.field(field, "must be in the future")
    return value


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError.field(field, "must be true or false")
    return value


def no_duplicates(labels: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise ValidationError.field(field, f"{label} is listed twice")
        seen.add(label)
