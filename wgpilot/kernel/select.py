"""``--driver auto``: netlink when the kernel can create a WireGuard link, else the
userspace driver when a WireGuard daemon is installed, else none (database only)."""

from __future__ import annotations

import logging
import os
import shutil

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError

from wgpilot.domain.errors import ValidationError
from wgpilot.kernel.driver import Driver, NullDriver

log = logging.getLogger(__name__)

CHOICES = ("auto", "netlink", "userspace", "none")


async def kernel_has_wireguard() -> bool:
    """Try to create (and at once delete) a WireGuard link; the kernel loads the
    module on demand, so this is the only reliable test."""
    probe = f"wgpprobe{os.getpid() % 100000}"
    try:
        async with AsyncIPRoute() as ipr:
            try:
                await ipr.link("add", ifname=probe, kind="wireguard")
            except NetlinkError:
                return False
            await ipr.link("del", ifname=probe)
            return True
    except OSError:
        return False


async def select_driver(choice: str, userspace_binary: str = "wireguard-go") -> Driver:
    if choice not in CHOICES:
        raise ValidationError.field("driver", f"must be one of {', '.join(CHOICES)}")
    if choice == "auto":
        if await kernel_has_wireguard():
            choice = "netlink"
        elif shutil.which(userspace_binary):
            choice = "userspace"
        else:
            choice = "none"
            log.warning(
                "no WireGuard driver available: the kernel has no WireGuard module and "
                f"{userspace_binary} is not installed; running database-only"
            )
    if choice == "netlink":
        from wgpilot.kernel.netlink import NetlinkDriver

        return NetlinkDriver()
    if choice == "userspace":
        from wgpilot.kernel.uapi import UserspaceDriver

        return UserspaceDriver(binary=userspace_binary)
    return NullDriver()
