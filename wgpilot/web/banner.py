"""What ``wgpilot serve`` prints once its HTTPS socket is bound: the URLs it really
answers on (the port actually bound; for a wildcard bind the host's names and every
address a browser elsewhere could use) and, when start-up issued one, the one-time
install token for the setup wizard. For people; the log has its own "listening" line."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from pathlib import Path

WILDCARDS = {"", "::", "0.0.0.0", "::ffff:0.0.0.0"}


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def urls(bound: tuple[str, int], *, hostnames: Sequence[str], addresses: Iterable[str]) -> list[str]:
    """HTTPS URLs for a socket bound to ``bound`` (host, port). A wildcard bind answers
    on every address: the host names first, then IPv4, then IPv6 addresses; loopback
    and link-local ones only when there is nothing else (they work on this machine only,
    and a link-local URL would need its zone)."""
    host, port = bound
    if host not in WILDCARDS:
        return [f"https://{_host(host)}:{port}/"]
    ips = sorted(
        {ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses}, key=lambda ip: (ip.version, ip)
    )
    usable = [ip for ip in ips if not (ip.is_loopback or ip.is_link_local)]
    names = list(dict.fromkeys(h.lower() for h in hostnames if h))
    found = names + [str(ip) for ip in usable] or ["localhost"]
    return [f"https://{_host(h)}:{port}/" for h in found]


def text(found: Sequence[str], *, token: str | None, data_dir: Path, note: str | None = None) -> str:
    """The banner: one URL a line, then the install token (when start-up has one) or a
    note on what to do next (setup not finished)."""
    lines = ["", "wgpilot is running; open it at:"]
    lines += [f"    {url}" for url in found]
    if token:
        lines += ["", f"one-time install token: {token}", "    (enter it in step 1 of the setup wizard)"]
    elif note:
        lines += ["", note]
    lines += ["", f"data directory: {data_dir}", ""]
    return "\n".join(lines)
