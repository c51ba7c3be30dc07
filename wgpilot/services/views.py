"""Domain objects as plain JSON-ready dicts: the shape of the HTTP API, also printed
by the CLI's ``--json``. Field names are the column names of SPEC §3. No secret is
ever part of a view."""

from __future__ import annotations

from typing import Any

from wgpilot.domain.models import AuditEntry, Bridge, Network, Peer


def network(n: Network) -> dict[str, Any]:
    return {
        "id": n.id,
        "name": n.name,
        "interface": n.interface,
        "mode": n.mode.value,
        "subnet": str(n.subnet),
        "subnet6": str(n.subnet6) if n.subnet6 else None,
        "listen_port": n.listen_port,
        "public_key": n.public_key,
        "server_address": str(n.server_address),
        "server_address6": str(n.server_address6) if n.server_address6 else None,
        "dns_servers": list(n.dns_servers),
        "mtu": n.mtu,
        "nat_enabled": n.nat_enabled,
        "inter_peer_routing": n.inter_peer_routing,
        "enabled": n.enabled,
        "created_at": n.created_at,
        "updated_at": n.updated_at,
    }


def peer(p: Peer) -> dict[str, Any]:
    return {
        "id": p.id,
        "network_id": p.network_id,
        "name": p.name,
        "email": p.email,
        "public_key": p.public_key,
        "address": str(p.address),
        "address6": str(p.address6) if p.address6 else None,
        "allowed_ips": list(p.allowed_ips),
        "client_allowed_ips": list(p.client_allowed_ips),
        "endpoint": p.endpoint,
        "persistent_keepalive": p.persistent_keepalive,
        "role": p.role.value,
        "site_networks": list(p.site_networks),
        "enabled": p.enabled,
        "expires_at": p.expires_at,
        "has_private_key": p.has_private_key,
        "preshared_key": p.has_preshared_key,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def bridge(b: Bridge) -> dict[str, Any]:
    return {
        "id": b.id,
        "network_a_id": b.network_a_id,
        "network_b_id": b.network_b_id,
        "direction": b.direction.value,
        "allowed_cidrs": list(b.allowed_cidrs),
        "enabled": b.enabled,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
    }


def audit(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "timestamp": e.timestamp,
        "user_id": e.user_id,
        "username": e.username,
        "action": e.action,
        "resource": e.resource,
        "resource_name": e.resource_name,
        "detail": e.detail,
        "ip_address": e.ip_address,
    }
