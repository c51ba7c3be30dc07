"""Repository for the ``peers`` table, including the address-allocation queries."""

from __future__ import annotations

import ipaddress
import socket
import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wgpilot.domain.models import Peer, PeerSecrets, Role
from wgpilot.storage.db import Conn, Tx
from wgpilot.storage.rows import dump_list, load_list, set_clause
from wgpilot.storage.secrets import Cipher

_PRIV = "peer.private_key"
_PSK = "peer.preshared_key"
_COLUMNS = (
    "id, network_id, name, email, public_key, address, address6, allowed_ips,"
    " client_allowed_ips, endpoint, persistent_keepalive, role, site_networks, enabled,"
    " expires_at, created_at, updated_at,"
    " private_key IS NOT NULL AS has_priv, preshared_key IS NOT NULL AS has_psk"
)
# One peer as services.views.peer() shows it, built by SQLite: a page of 100 peers
# costs one string instead of 100 Rows, Peers, dicts and a json.dumps of them.
# tests/unit/services/test_peers.py keeps the two shapes identical.
_JSON_VIEW = (
    "json_object('id', id, 'network_id', network_id, 'name', name, 'email', email,"
    " 'public_key', public_key, 'address', address, 'address6', address6,"
    " 'allowed_ips', json(allowed_ips), 'client_allowed_ips', json(client_allowed_ips),"
    " 'endpoint', endpoint, 'persistent_keepalive', persistent_keepalive, 'role', role,"
    " 'site_networks', json(site_networks),"
    " 'enabled', json(CASE WHEN enabled THEN 'true' ELSE 'false' END), 'expires_at', expires_at,"
    " 'has_private_key', json(CASE WHEN private_key IS NULL THEN 'false' ELSE 'true' END),"
    " 'preshared_key', json(CASE WHEN preshared_key IS NULL THEN 'false' ELSE 'true' END),"
    " 'created_at', created_at, 'updated_at', updated_at)"
)
_UPDATABLE = frozenset(
    {
        "name",
        "email",
        "allowed_ips",
        "client_allowed_ips",
        "endpoint",
        "persistent_keepalive",
        "role",
        "site_networks",
        "enabled",
        "expires_at",
        "updated_at",
        "preshared_key",
    }
)
_SORTS = {
    "id": "id",
    "name": "name",
    "address": "ip_index",
    "created_at": "created_at",
    "enabled": "enabled",
}


def _v4(text: str) -> ipaddress.IPv4Address:
    # inet_aton + int is ~10x faster than ipaddress' parser; the column holds only
    # addresses wgpilot wrote itself.
    return ipaddress.IPv4Address(_unpack_u32(socket.inet_aton(text))[0])


def _v6(text: str) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"))


_unpack_u32 = struct.Struct("!I").unpack
_ROLES = {r.value: r for r in Role}


def _row(r: sqlite3.Row) -> Peer:
    a6 = r["address6"]
    return Peer(
        id=r["id"],
        network_id=r["network_id"],
        name=r["name"],
        email=r["email"],
        public_key=r["public_key"],
        address=_v4(r["address"]),
        address6=_v6(a6) if a6 else None,
        allowed_ips=load_list(r["allowed_ips"]),
        client_allowed_ips=load_list(r["client_allowed_ips"]),
        endpoint=r["endpoint"],
        persistent_keepalive=r["persistent_keepalive"],
        role=_ROLES[r["role"]],
        site_networks=load_list(r["site_networks"]),
        enabled=bool(r["enabled"]),
        expires_at=r["expires_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        has_private_key=bool(r["has_priv"]),
        has_preshared_key=bool(r["has_psk"]),
    )


def _inserted(peer_id: int, r: NewPeerRow) -> Peer:
    """The peer a NewPeerRow became, as ``_row`` would read it back."""
    return Peer(
        id=peer_id,
        network_id=r.network_id,
        name=r.name,
        email=r.email,
        public_key=r.public_key,
        address=_v4(r.address),
        address6=_v6(r.address6) if r.address6 else None,
        allowed_ips=tuple(r.allowed_ips),
        client_allowed_ips=tuple(r.client_allowed_ips),
        endpoint=r.endpoint,
        persistent_keepalive=r.persistent_keepalive,
        role=r.role,
        site_networks=tuple(r.site_networks),
        enabled=bool(r.enabled),
        expires_at=r.expires_at,
        created_at=r.now,
        updated_at=r.now,
        has_private_key=r.private_key is not None,
        has_preshared_key=r.preshared_key is not None,
    )


@dataclass(frozen=True)
class NewPeerRow:
    """One peer to insert, with its secrets in clear (encrypted on the way in)."""

    network_id: int
    name: str
    email: str | None
    private_key: str | None
    public_key: str
    preshared_key: str | None
    ip_index: int
    address: str
    address6: str | None
    allowed_ips: tuple[str, ...]
    client_allowed_ips: tuple[str, ...]
    endpoint: str | None
    persistent_keepalive: int | None
    role: Role
    site_networks: tuple[str, ...]
    enabled: bool
    expires_at: int | None
    now: int


@dataclass(frozen=True)
class KernelPeerRow:
    """What the kernel needs of a peer: no names, no private key."""

    id: int
    public_key: str
    preshared_key: str | None
    allowed_ips: tuple[str, ...]
    endpoint: str | None
    persistent_keepalive: int | None


class PeerRepo:
    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    # -- reads -----------------------------------------------------------------
    async def get(self, conn: Conn, peer_id: int) -> Peer | None:
        r = await conn.fetchone(f"SELECT {_COLUMNS} FROM peers WHERE id = ?", (peer_id,))
        return _row(r) if r else None

    async def get_in_network(self, conn: Conn, network_id: int, peer_id: int) -> Peer | None:
        r = await conn.fetchone(
            f"SELECT {_COLUMNS} FROM peers WHERE id = ? AND network_id = ?", (peer_id, network_id)
        )
        return _row(r) if r else None

    async def get_by_name(self, conn: Conn, network_id: int, name: str) -> Peer | None:
        r = await conn.fetchone(
            f"SELECT {_COLUMNS} FROM peers WHERE network_id = ? AND name = ?", (network_id, name)
        )
        return _row(r) if r else None

    async def names_taken(self, conn: Conn, network_id: int, names: Sequence[str]) -> list[str]:
        """Which of ``names`` peers of the network already hold (compared as the
        column's NOCASE collation does: ASCII letters only)."""
        rows = await conn.fetchall(
            f"SELECT name FROM peers WHERE network_id = ? AND name IN ({','.join('?' * len(names))})",
            (network_id, *names),
        )
        return [r[0] for r in rows]

    async def get_by_public_key(self, conn: Conn, network_id: int, public_key: str) -> Peer | None:
        r = await conn.fetchone(
            f"SELECT {_COLUMNS} FROM peers WHERE network_id = ? AND public_key = ?",
            (network_id, public_key),
        )
        return _row(r) if r else None

    async def query(
        self,
        conn: Conn,
        network_id: int,
        *,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> list[Peer]:
        sql, params = self._page_sql(_COLUMNS, network_id, limit, offset, search, sort, descending)
        return [_row(r) for r in await conn.fetchall(sql, params)]

    async def query_json(
        self,
        conn: Conn,
        network_id: int,
        *,
        limit: int | None = None,
        offset: int = 0,
        search: str | None = None,
        sort: str = "id",
        descending: bool = False,
    ) -> str:
        """The same page as ``query`` as the comma-joined JSON views of its peers
        ("" for none), in one row: under load, every row fetched is one more wait for
        the GIL in the database thread, which a 100-row page felt as 0.8 ms instead of
        0.2. SQLite keeps an ordered subquery's order for an aggregate over it (it
        never flattens the two); the service tests compare it with ``query``."""
        sql, params = self._page_sql(
            f"{_JSON_VIEW} AS j", network_id, limit, offset, search, sort, descending
        )
        return str(await conn.fetchval(f"SELECT group_concat(j, ',') FROM ({sql})", params) or "")

    def _page_sql(
        self,
        columns: str,
        network_id: int,
        limit: int | None,
        offset: int,
        search: str | None,
        sort: str,
        descending: bool,
    ) -> tuple[str, list[Any]]:
        where, params = self._filter(network_id, search)
        column = _SORTS.get(sort, "id")
        direction = " DESC" if descending else ""
        # The id tiebreak keeps pages stable; it must follow the same direction for the
        # (network_id, column, id) indexes to serve the ORDER BY without a sort.
        order = f"id{direction}" if column == "id" else f"{column}{direction}, id{direction}"
        sql = f"SELECT {columns} FROM peers WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return sql, params

    async def count(self, conn: Conn, network_id: int, *, search: str | None = None) -> int:
        if not search:  # kept by triggers (migration 0005): no walk over every peer
            kept = await conn.fetchval("SELECT peers FROM peer_counts WHERE network_id = ?", (network_id,))
            if kept is not None:
                return int(kept)
        where, params = self._filter(network_id, search)
        return int(await conn.fetchval(f"SELECT COUNT(*) FROM peers WHERE {where}", params))

    @staticmethod
    def _filter(network_id: int, search: str | None) -> tuple[str, list[Any]]:
        where = "network_id = ?"
        params: list[Any] = [network_id]
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where += (
                " AND (name LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\'"
                " OR public_key LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')"
            )
            params += [f"%{escaped}%"] * 4
        return where, params

    async def counts_by_network(self, conn: Conn) -> dict[int, tuple[int, int]]:
        """network_id → (total peers, enabled peers)."""
        rows = await conn.fetchall("SELECT network_id, COUNT(*), SUM(enabled) FROM peers GROUP BY network_id")
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    async def kernel_peers(self, conn: Conn, network_id: int, now: int) -> list[KernelPeerRow]:
        """Enabled, unexpired peers of a network as the kernel should hold them."""
        rows = await conn.fetchall(
            "SELECT id, public_key, preshared_key, allowed_ips, endpoint, persistent_keepalive"
            " FROM peers WHERE network_id = ? AND enabled = 1"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY id",
            (network_id, now),
        )
        decrypt = self._cipher.decrypt
        return [
            KernelPeerRow(
                id=r[0],
                public_key=r[1],
                preshared_key=decrypt(r[2], _PSK) if r[2] else None,
                allowed_ips=load_list(r[3]),
                endpoint=r[4],
                persistent_keepalive=r[5],
            )
            for r in rows
        ]

    async def ids_by_key(self, conn: Conn, network_id: int) -> dict[str, int]:
        rows = await conn.fetchall("SELECT public_key, id FROM peers WHERE network_id = ?", (network_id,))
        return {r[0]: r[1] for r in rows}

    async def secrets(self, conn: Conn, peer_id: int) -> PeerSecrets:
        r = await conn.fetchone("SELECT private_key, preshared_key FROM peers WHERE id = ?", (peer_id,))
        if r is None:
            return PeerSecrets(None, None)
        return PeerSecrets(
            private_key=self._cipher.decrypt_opt(r[0], _PRIV),
            preshared_key=self._cipher.decrypt_opt(r[1], _PSK),
        )

    async def site_routes(self, conn: Conn, network_id: int, now: int) -> list[str]:
        """Site networks of the enabled, unexpired site gateways: what the server routes in."""
        rows = await conn.fetchall(
            "SELECT site_networks FROM peers WHERE network_id = ? AND role = 'site-gateway' AND enabled = 1"
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY id",
            (network_id, now),
        )
        out: list[str] = []
        for r in rows:
            out.extend(c for c in load_list(r[0]) if c not in out)
        return out

    async def site_networks(
        self, conn: Conn, network_id: int, exclude_peer: int | None = None
    ) -> list[tuple[str, str]]:
        """(peer name, cidr) for every site network of a network's site gateways."""
        rows = await conn.fetchall(
            "SELECT name, site_networks FROM peers WHERE network_id = ? AND role = 'site-gateway'"
            " AND id IS NOT ?",
            (network_id, exclude_peer),
        )
        return [(r[0], c) for r in rows for c in load_list(r[1])]

    async def expired(self, conn: Conn, now: int) -> list[Peer]:
        rows = await conn.fetchall(
            f"SELECT {_COLUMNS} FROM peers WHERE enabled = 1 AND expires_at IS NOT NULL AND expires_at <= ?",
            (now,),
        )
        return [_row(r) for r in rows]

    # -- address allocation ----------------------------------------------------
    async def index_run(self, conn: Conn, network_id: int) -> tuple[int, int | None, int | None]:
        """(peers, lowest index, highest index): one row of ``peer_counts`` and two
        index probes (separate subqueries, so each is a single seek)."""
        r = await conn.fetchone(
            "SELECT (SELECT peers FROM peer_counts WHERE network_id = ?1),"
            " (SELECT MIN(ip_index) FROM peers WHERE network_id = ?1),"
            " (SELECT MAX(ip_index) FROM peers WHERE network_id = ?1)",
            (network_id,),
        )
        assert r is not None
        if r[0] is None:  # no counts row (cannot happen after migration 0005): count
            count = await conn.fetchval("SELECT COUNT(*) FROM peers WHERE network_id = ?", (network_id,))
            return int(count), r[1], r[2]
        return int(r[0]), r[1], r[2]

    async def lowest_gap(self, conn: Conn, network_id: int, start: int) -> int:
        """Lowest index ≥ ``start`` held by no peer of the network (may be past the end)."""
        held = await conn.fetchval(
            "SELECT 1 FROM peers WHERE network_id = ? AND ip_index = ?", (network_id, start)
        )
        if not held:
            return start
        value = await conn.fetchval(
            "SELECT MIN(p.ip_index) + 1 FROM peers p WHERE p.network_id = ? AND p.ip_index >= ?"
            " AND NOT EXISTS (SELECT 1 FROM peers q WHERE q.network_id = p.network_id"
            " AND q.ip_index = p.ip_index + 1)",
            (network_id, start),
        )
        return int(value)

    async def address6_taken(self, conn: Conn, network_id: int, address6: str) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT 1 FROM peers WHERE network_id = ? AND address6 = ?", (network_id, address6)
            )
        )

    # -- writes ----------------------------------------------------------------
    async def insert(
        self,
        tx: Tx,
        *,
        network_id: int,
        name: str,
        email: str | None,
        private_key: str | None,
        public_key: str,
        preshared_key: str | None,
        ip_index: int,
        address: str,
        address6: str | None,
        allowed_ips: tuple[str, ...],
        client_allowed_ips: tuple[str, ...],
        endpoint: str | None,
        persistent_keepalive: int | None,
        role: Role,
        site_networks: tuple[str, ...],
        enabled: bool,
        expires_at: int | None,
        now: int,
    ) -> Peer:
        """Insert a peer and read it back in the same round trip (RETURNING)."""
        row = NewPeerRow(
            network_id, name, email, private_key, public_key, preshared_key, ip_index, address, address6,
            allowed_ips, client_allowed_ips, endpoint, persistent_keepalive, role, site_networks, enabled,
            expires_at, now,
        )  # fmt: skip
        return (await self.insert_many(tx, [row]))[0]

    async def insert_many(self, tx: Tx, rows: Sequence[NewPeerRow]) -> list[Peer]:
        """Insert peers in one statement (one round trip), returned in the order given.
        A constraint violation aborts the whole statement: none of them is inserted."""
        params: list[Any] = []
        for r in rows:
            params += (
                r.network_id,
                r.name,
                r.email,
                self._cipher.encrypt_opt(r.private_key, _PRIV),
                r.public_key,
                self._cipher.encrypt_opt(r.preshared_key, _PSK),
                r.ip_index,
                r.address,
                r.address6,
                dump_list(r.allowed_ips),
                dump_list(r.client_allowed_ips),
                r.endpoint,
                r.persistent_keepalive,
                r.role.value,
                dump_list(r.site_networks),
                int(r.enabled),
                r.expires_at,
                r.now,
                r.now,
            )
        values = ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"] * len(rows))
        returned = await tx.fetchall(
            "INSERT INTO peers (network_id, name, email, private_key, public_key, preshared_key,"
            " ip_index, address, address6, allowed_ips, client_allowed_ips, endpoint,"
            " persistent_keepalive, role, site_networks, enabled, expires_at, created_at,"
            f" updated_at) VALUES {values} RETURNING id, network_id, public_key",
            params,
        )
        # RETURNING promises no order; a public key is unique within its network. The
        # rest is what was just written: no need to read it back and parse it again.
        ids = {(r[1], r[2]): r[0] for r in returned}
        return [_inserted(ids[(r.network_id, r.public_key)], r) for r in rows]

    async def mark_adopted(self, tx: Tx, network_id: int) -> None:
        """Every peer of the network was taken over from a running interface (import)."""
        await tx.execute("UPDATE peers SET adopted = 1 WHERE network_id = ?", (network_id,))

    async def update(self, tx: Tx, peer_id: int, changes: dict[str, Any]) -> None:
        changes = dict(changes)
        for col in ("allowed_ips", "client_allowed_ips", "site_networks"):
            if col in changes:
                changes[col] = dump_list(changes[col])
        if "preshared_key" in changes:
            changes["preshared_key"] = self._cipher.encrypt_opt(changes["preshared_key"], _PSK)
        if "role" in changes:
            changes["role"] = Role(changes["role"]).value
        if "enabled" in changes:
            changes["enabled"] = int(bool(changes["enabled"]))
        clause, values = set_clause(changes, _UPDATABLE)
        await tx.execute(f"UPDATE peers SET {clause} WHERE id = ?", (*values, peer_id))

    async def delete(self, tx: Tx, peer_id: int) -> None:
        await tx.execute("DELETE FROM peers WHERE id = ?", (peer_id,))
