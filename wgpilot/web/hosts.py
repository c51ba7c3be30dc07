"""Which Host headers the server answers to (defence against DNS rebinding): the
configured hostname and public IP, the host's own name and addresses, the listen
address and localhost. Before setup completes any IP literal is accepted too — an operator
behind 1:1 NAT reaches the wizard by an address the host does not know yet, and an
IP-literal Host cannot be a rebinding attack."""

from __future__ import annotations

import logging
import socket

from wgpilot.services.context import Context
from wgpilot.web.middleware import split_host

log = logging.getLogger(__name__)

LOCAL = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


class HostPolicy:
    def __init__(self, ctx: Context, listen: str = "") -> None:
        self.ctx = ctx
        self.listen_host = split_host(listen.rpartition(":")[0]) if ":" in listen else ""
        self.names: set[str] = set(LOCAL)
        self.any_ip = True

    def __call__(self) -> tuple[set[str], bool]:
        return self.names, self.any_ip

    async def refresh(self) -> None:
        names = set(LOCAL)
        db = self.ctx.db
        for key in ("hostname", "public_ip"):
            value = await self.ctx.settings.get(db, key)
            if value:
                names.add(value.lower())
        if self.listen_host and self.listen_host not in ("0.0.0.0", "::", ""):
            names.add(self.listen_host)
        names.add(socket.gethostname().lower())  # the start-up banner offers it as a URL
        try:
            names |= await self.ctx.host.addresses()
        except Exception:  # host facts are a convenience; the configured names still apply
            log.warning("could not list local addresses for the Host allow-list", exc_info=True)
        self.names = names
        self.any_ip = await self.ctx.settings.get(db, "setup_complete") != "1"
