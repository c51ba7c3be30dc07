"""Client configuration rendering (wg-quick format) and QR codes.

A config is rendered on demand from the database, never stored. Every value that
goes in has been validated on the way in; the renderer still refuses anything with
a line break, so no field can ever add a directive or a section.
"""

from __future__ import annotations

import io
import ipaddress
import re
from dataclasses import dataclass

import segno

from wgpilot.domain.errors import ValidationError

PRIVATE_KEY_PLACEHOLDER = "<paste the private key of this device here>"
DEFAULT_CLIENT_KEEPALIVE = 25
_SAFE_COMMENT = re.compile(r"[^\w .,'@()+&-]", re.UNICODE)
_SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


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


def filename(peer_name: str, suffix: str = ".conf") -> str:
    """A safe download name: ASCII letters, digits, dot, dash, underscore only."""
    stem = _SAFE_FILENAME.sub("-", peer_name).strip(".-_")[:48] or "peer"
    return stem + suffix


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
