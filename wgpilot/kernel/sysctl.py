"""Writes to /proc/sys: IPv4/IPv6 forwarding, enabled only when a network needs it.
Forwarding is never switched off again by wgpilot (other software may rely on it)."""

from __future__ import annotations

import logging
from pathlib import Path

from wgpilot.domain.errors import KernelError

log = logging.getLogger(__name__)

PROC = Path("/proc/sys")
IPV4_FORWARD = "net/ipv4/ip_forward"
IPV6_FORWARD = "net/ipv6/conf/all/forwarding"


class Sysctl:
    def __init__(self, root: Path = PROC) -> None:
        self.root = Path(root)

    def read(self, key: str) -> str:
        try:
            return (self.root / key).read_text().strip()
        except OSError as exc:
            raise KernelError(f"cannot read {key}: {exc.strerror}") from exc

    def ensure(self, key: str, value: str) -> bool:
        """Set ``key`` to ``value`` unless it already is; True if it changed."""
        if self.read(key) == value:
            return False
        try:
            (self.root / key).write_text(value + "\n")
        except OSError as exc:
            raise KernelError(f"cannot set {key}={value}: {exc.strerror}") from exc
        log.info("sysctl set", extra={"key": key, "value": value})
        return True

    def ensure_forwarding(self, ipv4: bool, ipv6: bool) -> None:
        if ipv4:
            self.ensure(IPV4_FORWARD, "1")
        if ipv6:
            self.ensure(IPV6_FORWARD, "1")
