"""Client configuration rendering (wg-quick format) and QR codes.

A config is rendered on demand from the database, never stored. Every value that
goes in has been validated on the way in; the renderer still refuses anything with
a line break, so no field can ever add a directive or a section.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import re
from dataclasses import dataclass

import segno

from wgpilot.domain.errors import ConflictError, ValidationError

PRIVATE_KEY_PLACEHOLDER = "<paste the private key of this device here>"
PLACEHOLDER_NOTE = (
    "# This peer brought its own key: wgpilot never had its private key. Replace the"
    " placeholder below with the device's private key before using this file."
)
DEFAULT_CLIENT_KEEPALIVE = 25
_SAFE_COMMENT = re.compile(r"[^\w .,'@()+&-]", re.UNICODE)
# wg-quick takes its interface name from the file name and accepts only
# [a-zA-Z0-9_=+.-]{1,15} (Linux's IFNAMSIZ); a leading "-" or "." is allowed there but
# awkward on a command line, so such a name is treated as one that needs changing.
_IFACE_NAME = re.compile(r"[A-Za-z0-9_=+][A-Za-z0-9_=+.-]{0,14}")
_NOT_IFACE = re.compile(r"[^A-Za-z0-9_=+.-]+")
_STEM = 8  # characters of the name kept in front of the digest
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DIGEST = 6  # base-36 digits: 36**6 ≈ 2.2e9 values


@dataclass(frozen=True)
class ClientConfig:
    network_name: str
    peer_name: str
    private_key: str | None
    addresses: tuple[str, ...]
    dns: tuple[str, ...]
    mtu: int | None
    server_public_key: str
    preshared_key: str | None
    allowed_ips: tuple[str, ...]
    endpoint: str
    persistent_keepalive: int | None


def endpoint_for(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


def _value(text: str) -> str:
    if any(c in text for c in "\r\n\0") or text != text.strip():
        raise ValidationError("refusing to render a value with a line break or padding")
    return text


def render(cfg: ClientConfig) -> str:
    lines = [
        f"# wgpilot: {_SAFE_COMMENT.sub('', cfg.network_name)} / {_SAFE_COMMENT.sub('', cfg.peer_name)}",
        "[Interface]",
        *([] if cfg.private_key else [PLACEHOLDER_NOTE]),
        f"PrivateKey = {_value(cfg.private_key or PRIVATE_KEY_PLACEHOLDER)}",
        f"Address = {_value(', '.join(cfg.addresses))}",
    ]
    if cfg.dns:
        lines.append(f"DNS = {_value(', '.join(cfg.dns))}")
    if cfg.mtu:
        lines.append(f"MTU = {int(cfg.mtu)}")
    lines += ["", "[Peer]", f"PublicKey = {_value(cfg.server_public_key)}"]
    if cfg.preshared_key:
        lines.append(f"PresharedKey = {_value(cfg.preshared_key)}")
    lines.append(f"AllowedIPs = {_value(', '.join(cfg.allowed_ips))}")
    lines.append(f"Endpoint = {_value(cfg.endpoint)}")
    keepalive = DEFAULT_CLIENT_KEEPALIVE if cfg.persistent_keepalive is None else cfg.persistent_keepalive
    if keepalive:
        lines.append(f"PersistentKeepalive = {int(keepalive)}")
    return "\n".join(lines) + "\n"


def interface_name(peer_name: str) -> str:
    """The wg-quick interface name a peer's config file is named after.

    A peer name that already is a valid interface name is used as it is. Any other
    keeps up to 8 of its allowed characters, then "-" and 6 base-36 digits of the
    SHA-256 of the whole name: deterministic, at most 15 characters, and two peer
    names that shorten alike still differ (peer names are unique within a network)."""
    if _IFACE_NAME.fullmatch(peer_name):
        return peer_name
    stem = _NOT_IFACE.sub("-", peer_name).lstrip(".-")[:_STEM].rstrip(".-") or "peer"
    n = int.from_bytes(hashlib.sha256(peer_name.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    digits = []
    for _ in range(_DIGEST):
        n, d = divmod(n, len(_DIGITS))
        digits.append(_DIGITS[d])
    return f"{stem}-{''.join(digits)}"


def filename(peer_name: str) -> str:
    """The download name of a peer's config: ``<interface name>.conf``, which
    ``wg-quick up`` accepts as it is."""
    return interface_name(peer_name) + ".conf"


def require_private_key(peer_name: str, has_private_key: bool) -> None:
    """Refuse a QR code for a peer that brought its own key. An app imports a scanned
    config as it is, so the code would carry the placeholder and set up a tunnel that
    cannot work; the .conf download stays, with the placeholder marked."""
    if not has_private_key:
        raise ConflictError(
            f"no QR code for peer {peer_name!r}: it brought its own key, so wgpilot does not have"
            " its private key and the code could only carry a placeholder; download the .conf"
            " and put the device's private key in it",
            code="PEER_KEY_NOT_HELD",
        )


def qr_png(text: str, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_svg(text: str, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(
        buf, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True
    )
    return buf.getvalue()


def qr_terminal(text: str) -> str:
    buf = io.StringIO()
    segno.make(text, error="m", micro=False).terminal(out=buf, compact=True, border=2)
    return buf.getvalue()
