"""Repository for the ``networks`` table."""

from __future__ import annotations

import ipaddress
import sqlite3
from typing import Any

from wgpilot.domain.models import Mode, Network
from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.rows import dump_list, load_list, set_clause
from wgpilot.storage.secrets import Cipher

_PURPOSE = "network.private_key"
_COLUMNS = (
    "id, name, interface, mode, subnet, subnet6, listen_port, public_key, dns_servers, mtu,"
    " nat_enabled, inter_peer_routing, enabled, created_at, updated_at"
)
_UPDATABLE = frozenset(
    {
        "name",
        "mode",
        "subnet6",
        "listen_port",
        "dns_servers",
        "mtu",
        "nat_enabled",
        "inter_peer_routing",
        "enabled",
        "updated_at",
        "private_key",
        "public_key",
    }
)


def _row(r: sqlite3.Row) -> Network:
    return Network(
        id=r["id"],
        name=r["name"],
        interface=r["interface"],
        mode=Mode(r["mode"]),
        subnet=ipaddress.IPv4Network(r["subnet"]),
        subnet6=ipaddress.IPv6Network(r["subnet6"]) if r["subnet6"] else None,
        listen_port=r["listen_port"],
        public_key=r["public_key"],
        dns_servers=load_list(r["dns_servers"]),
        mtu=r["mtu"],
        nat_enabled=bool(r["nat_enabled"]),
        inter_peer_routing=bool(r["inter_peer_routing"]),
        enabled=bool(r["enabled"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


class NetworkRepo:
    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    async def all(self, conn: Conn) -> list[Network]:
        return [_row(r) for r in await conn.fetchall(f"SELECT {_COLUMNS} FROM networks ORDER BY id")]

    async def get(self, conn: Conn, network_id: int) -> Network | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM networks WHERE id = ?", (network_id,))
        return _row(r) if r else None

    async def get_by_name(self, conn: Conn, name: str) -> Network | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM networks WHERE name = ?", (name,))
        return _row(r) if r else None

    async def get_by_interface(self, conn: Conn, interface: str) -> Network | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM networks WHERE interface = ?", (interface,))
        return _row(r) if r else None

    async def count(self, conn: Conn) -> int:
        return int(await conn.fetchval("SELECT COUNT(*) FROM networks"))

    async def private_key(self, conn: Conn, network_id: int) -> str:
        token = await conn.fetchval("SELECT private_key FROM networks WHERE id = ?", (network_id,))
        return self._cipher.decrypt(token, _PURPOSE)

    async def insert(
        self,
        tx: Tx,
        *,
        name: str,
        interface: str,
        mode: Mode,
        subnet: str,
        subnet6: str | None,
        listen_port: int,
        private_key: str,
        public_key: str,
        dns_servers: tuple[str, ...],
        mtu: int | None,
        nat_enabled: bool,
        inter_peer_routing: bool,
        enabled: bool,
        now: int,
    ) -> int:
        return await tx.execute(
            "INSERT INTO networks (name, interface, mode, subnet, subnet6, listen_port,"
            " private_key, public_key, dns_servers, mtu, nat_enabled, inter_peer_routing,"
            " enabled, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                interface,
                mode.value,
                subnet,
                subnet6,
                listen_port,
                self._cipher.encrypt(private_key, _PURPOSE),
                public_key,
                dump_list(dns_servers),
                mtu,
                int(nat_enabled),
                int(inter_peer_routing),
                int(enabled),
                now,
                now,
            ),
        )

    async def update(self, tx: Tx, network_id: int, changes: dict[str, Any]) -> None:
        changes = dict(changes)
        if "dns_servers" in changes:
            changes["dns_servers"] = dump_list(changes["dns_servers"])
        if "private_key" in changes:
            changes["private_key"] = self._cipher.encrypt(changes["private_key"], _PURPOSE)
        if "mode" in changes:
            changes["mode"] = Mode(changes["mode"]).value
        for flag in ("nat_enabled", "inter_peer_routing", "enabled"):
            if flag in changes:
                changes[flag] = int(bool(changes[flag]))
        clause, values = set_clause(changes, _UPDATABLE)
        await tx.execute(f"UPDATE networks SET {clause} WHERE id = ?", (*values, network_id))

    async def delete(self, tx: Tx, network_id: int) -> None:
        await tx.execute("DELETE FROM networks WHERE id = ?", (network_id,))
