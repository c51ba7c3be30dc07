"""Adopt existing WireGuard setups: interfaces found in the kernel (not yet wgpilot's)
and wg-quick files in /etc/wireguard. Keys, port, addresses and peers are copied
into the database, peer names come from comments, and the interface is then marked
and converged like any other — from then on wgpilot owns it."""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wgpilot.domain import allowed_ips, ipam, keys, validate
from wgpilot.domain.errors import ValidationError, WgpilotError
from wgpilot.domain.models import DEFAULT_INTER_PEER, DEFAULT_NAT, Actor, Mode, Network, Role
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler, Report

log = logging.getLogger(__name__)

CONF_DIR = Path("/etc/wireguard")
_NAME_COMMENT = re.compile(r"^#\s*(?:name|friendly_?name|client|peer)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
_UNSAFE = re.compile(r"[^\w .,'@()+&-]", re.UNICODE)


@dataclass
class ParsedPeer:
    public_key: str
    preshared_key: str | None = None
    allowed_ips: list[str] = field(default_factory=list)
    endpoint: str | None = None
    keepalive: int | None = None
    name: str | None = None


@dataclass
class ParsedInterface:
    name: str
    private_key: str | None = None
    listen_port: int | None = None
    addresses: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    mtu: int | None = None
    peers: list[ParsedPeer] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = "file"
    path: str | None = None


def parse_conf(text: str, name: str) -> ParsedInterface:
    """Parse a wg-quick configuration; unknown keys (PostUp, Table…) become warnings."""
    iface = ParsedInterface(name=name)
    section = None
    pending_name: str | None = None
    peer: ParsedPeer | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _NAME_COMMENT.match(line)
            if m:
                if section == "peer" and peer is not None and peer.name is None:
                    peer.name = m.group(1)
                else:
                    pending_name = m.group(1)
            elif section != "interface" or peer is None:
                pending_name = pending_name or line.lstrip("#").strip() or None
            continue
        if line.lower() == "[interface]":
            section, pending_name = "interface", None
            continue
        if line.lower() == "[peer]":
            section = "peer"
            peer = ParsedPeer(public_key="", name=pending_name)
            iface.peers.append(peer)
            pending_name = None
            continue
        key, sep, value = line.partition("=")
        if not sep:
            iface.warnings.append(f"{name}: ignored line {line[:40]!r}")
            continue
        key, value = key.strip().lower(), value.split("#", 1)[0].strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if section == "interface":
            if key == "privatekey":
                iface.private_key = value
            elif key == "listenport":
                iface.listen_port = int(value) if value.isdigit() else None
            elif key == "address":
                iface.addresses += values
            elif key == "dns":
                iface.dns += values
            elif key == "mtu":
                iface.mtu = int(value) if value.isdigit() else None
            else:
                iface.warnings.append(
                    f"{name}: {key} is not imported (wgpilot manages routing and firewall itself)"
                )
        elif section == "peer" and peer is not None:
            if key == "publickey":
                peer.public_key = value
            elif key == "presharedkey":
                peer.preshared_key = value
            elif key == "allowedips":
                peer.allowed_ips += values
            elif key == "endpoint":
                peer.endpoint = value
            elif key == "persistentkeepalive":
                peer.keepalive = int(value) if value.isdigit() else None
    iface.peers = [p for p in iface.peers if p.public_key]
    return iface


async def _from_kernel(ctx: Context, name: str, conf_dir: Path) -> ParsedInterface:
    dev = await ctx.driver.device(name)
    links = {link.name: link for link in await ctx.driver.links()}
    iface = ParsedInterface(
        name=name,
        private_key=dev.private_key,
        listen_port=dev.listen_port or None,
        addresses=list(links[name].addresses) if name in links else [],
        source="kernel",
    )
    names: dict[str, str | None] = {}
    conf = conf_dir / f"{name}.conf"
    if conf.is_file():
        parsed = parse_conf(conf.read_text(errors="replace"), name)
        names = {p.public_key: p.name for p in parsed.peers}
        iface.dns, iface.mtu, iface.path = parsed.dns, parsed.mtu, str(conf)
    for p in dev.peers.values():
        iface.peers.append(
            ParsedPeer(
                p.public_key,
                p.preshared_key,
                list(p.allowed_ips),
                p.endpoint,
                p.persistent_keepalive,
                names.get(p.public_key),
            )
        )
    return iface


async def discover(ctx: Context, conf_dir: Path = CONF_DIR) -> list[dict[str, Any]]:
    """Unmanaged WireGuard interfaces in the kernel and wg-quick files not yet imported."""
    out: list[dict[str, Any]] = []
    ours = {n.interface for n in await ctx.networks.all(ctx.db)}
    seen: set[str] = set()
    if ctx.kernel_enabled:
        for link in await ctx.driver.links():
            if link.marked or link.name in ours:
                continue
            try:
                dev = await ctx.driver.device(link.name)
            except WgpilotError:
                continue
            seen.add(link.name)
            out.append(
                {
                    "name": link.name,
                    "peers": len(dev.peers),
                    "listen_port": dev.listen_port or None,
                    "source": "kernel",
                    "path": None,
                }
            )
    try:
        files = sorted(conf_dir.glob("*.conf")) if conf_dir.is_dir() else []
    except OSError:
        files = []
    for path in files:
        name = path.stem
        if name in seen or name in ours:
            continue
        try:
            parsed = parse_conf(path.read_text(errors="replace"), name)
        except OSError:
            continue
        out.append(
            {
                "name": name,
                "peers": len(parsed.peers),
                "listen_port": parsed.listen_port,
                "source": "file",
                "path": str(path),
            }
        )
    return out


def _peer_name(raw: str | None, public_key: str, taken: set[str]) -> str:
    base = _UNSAFE.sub("", raw or "").strip()[:56] or f"peer-{re.sub(r'[^A-Za-z0-9]', '', public_key)[:8]}"
    try:
        base = validate.name(base)
    except ValidationError:
        base = f"peer-{re.sub(r'[^A-Za-z0-9]', '', public_key)[:8]}"
    name, n = base, 2
    while name.lower() in taken:
        name = f"{base[:58]}-{n}"
        n += 1
    taken.add(name.lower())
    return name


async def _import_one(
    ctx: Context, actor: Actor, iface: ParsedInterface, warnings: list[str]
) -> Network | None:
    warnings.extend(iface.warnings)
    if not iface.private_key:
        warnings.append(f"{iface.name}: no private key; skipped")
        return None
    keys.check_key(iface.private_key, f"{iface.name}.PrivateKey")
    ifs = [ipaddress.ip_interface(a) for a in iface.addresses]
    v4 = [i for i in ifs if isinstance(i, ipaddress.IPv4Interface)]
    v6 = [i for i in ifs if isinstance(i, ipaddress.IPv6Interface)]
    if not v4:
        warnings.append(f"{iface.name}: no IPv4 address; skipped")
        return None
    subnet = v4[0].network
    if v4[0].ip != ipam.server_address(subnet):
        warnings.append(
            f"{iface.name}: its address {v4[0]} is not the first usable address of {subnet}; skipped"
        )
        return None
    subnet6 = v6[0].network if v6 and v6[0].ip == ipam.server_address6(v6[0].network) else None
    own: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [subnet] + ([subnet6] if subnet6 else [])
    # Any allowed IP outside the network's own subnets means a site behind the peer.
    is_s2s = any(
        not any(ipaddress.ip_network(c, strict=False).overlaps(s) for s in own)
        for p in iface.peers
        for c in p.allowed_ips
    )
    mode = Mode.SITE_TO_SITE if is_s2s else Mode.GATEWAY
    now = ctx.now()
    port = iface.listen_port or 51820
    async with ctx.db.transaction() as tx:
        for n in await ctx.networks.all(tx):
            if n.interface == iface.name:
                warnings.append(f"{iface.name}: already imported")
                return None
            if n.subnet.overlaps(subnet) or n.listen_port == port:
                warnings.append(f"{iface.name}: subnet or port clashes with network {n.name!r}; skipped")
                return None
        name = iface.name
        if await ctx.networks.get_by_name(tx, name):
            name = f"{name}-imported"
        net_id = await ctx.networks.insert(
            tx,
            name=name,
            interface=iface.name,
            mode=mode,
            subnet=str(subnet),
            subnet6=str(subnet6) if subnet6 else None,
            listen_port=port,
            private_key=iface.private_key,
            public_key=keys.public_key(iface.private_key),
            dns_servers=tuple(iface.dns),
            mtu=iface.mtu,
            nat_enabled=DEFAULT_NAT[mode],
            inter_peer_routing=DEFAULT_INTER_PEER[mode],
            enabled=True,
            now=now,
        )
        taken: set[str] = set()
        imported = 0
        for p in iface.peers:
            nets = [ipaddress.ip_network(c, strict=False) for c in p.allowed_ips]
            host4 = next(
                (n for n in nets if n.version == 4 and n.prefixlen == 32 and n.network_address in subnet),
                None,
            )
            if host4 is None or host4.network_address == ipam.server_address(subnet):
                warnings.append(
                    f"{iface.name}: peer {p.public_key[:8]}… has no address inside {subnet}; skipped"
                )
                continue
            addr = ipaddress.IPv4Address(host4.network_address)
            host6 = next(
                (
                    n
                    for n in nets
                    if n.version == 6
                    and n.prefixlen == 128
                    and subnet6 is not None
                    and n.network_address in subnet6
                ),
                None,
            )
            addr6 = ipaddress.IPv6Address(host6.network_address) if host6 else None
            sites = tuple(str(n) for n in nets if n not in (host4, host6))
            role = Role.SITE_GATEWAY if sites and mode is Mode.SITE_TO_SITE else Role.CLIENT
            try:
                keys.check_key(p.public_key, "PublicKey")
                await ctx.peers.insert(
                    tx,
                    network_id=net_id,
                    name=_peer_name(p.name, p.public_key, taken),
                    email=None,
                    private_key=None,
                    public_key=p.public_key,
                    preshared_key=p.preshared_key,
                    ip_index=ipam.index_of(subnet, addr),
                    address=str(addr),
                    address6=str(addr6) if addr6 else None,
                    allowed_ips=allowed_ips.server_side(addr, addr6, role, sites),
                    client_allowed_ips=(),
                    endpoint=p.endpoint if p.endpoint and validate.endpoint(p.endpoint) else None,
                    persistent_keepalive=p.keepalive,
                    role=role,
                    site_networks=sites if role is Role.SITE_GATEWAY else (),
                    enabled=True,
                    expires_at=None,
                    now=now,
                )
                imported += 1
            except (ValidationError, Exception) as exc:  # one bad peer must not sink the import
                warnings.append(f"{iface.name}: peer {p.public_key[:8]}… skipped: {exc}")
        net = await ctx.networks.get(tx, net_id)
        assert net is not None
        await ctx.audit.record(
            tx,
            actor,
            "network.import",
            f"network:{net_id}",
            {"interface": iface.name, "source": iface.source, "peers": imported, "path": iface.path},
            now,
        )
        if ctx.kernel_enabled:
            if iface.source == "kernel":
                await ctx.driver.mark(iface.name)
            try:
                rec = Reconciler(ctx)
                await rec.converge_network(tx, net, Report())
                await rec.converge_firewall(tx, Report())
            except BaseException:
                if iface.source == "kernel":
                    await ctx.driver.unmark(iface.name)
                raise
    if iface.source == "file":
        warnings.append(
            f"{iface.name}: now managed by wgpilot; disable wg-quick@{iface.name} so both do not fight over it"
        )
    ctx.changed("networks", net.id)
    return net


async def import_all(
    ctx: Context,
    actor: Actor,
    interfaces: list[str] | None,
    files: list[str] | None,
    conf_dir: Path = CONF_DIR,
) -> tuple[list[Network], list[str]]:
    warnings: list[str] = []
    candidates: list[ParsedInterface] = []
    found = await discover(ctx, conf_dir)
    if interfaces is None and files is None:
        interfaces = [d["name"] for d in found if d["source"] == "kernel"]
        files = [d["path"] for d in found if d["source"] == "file"]
    kernel_names = {d["name"] for d in found if d["source"] == "kernel"}
    for i, name in enumerate(interfaces or []):
        if name not in kernel_names:
            raise ValidationError.field(f"interfaces[{i}]", f"{name} is not an unmanaged WireGuard interface")
        candidates.append(await _from_kernel(ctx, name, conf_dir))
    for i, path_s in enumerate(files or []):
        path = Path(path_s)
        # Only wg-quick files in the configuration directory, never arbitrary paths.
        if path.parent.resolve() != conf_dir.resolve() or path.suffix != ".conf" or not path.is_file():
            raise ValidationError.field(f"files[{i}]", f"must be a .conf file in {conf_dir}")
        if path.stem in kernel_names:
            continue  # the running interface is the truth; the file only lends names
        parsed = parse_conf(path.read_text(errors="replace"), path.stem)
        parsed.path = str(path)
        candidates.append(parsed)
    out = []
    for iface in candidates:
        try:
            net = await _import_one(ctx, actor, iface, warnings)
        except WgpilotError as exc:
            warnings.append(f"{iface.name}: {exc.message}")
            continue
        if net is not None:
            out.append(net)
    return out, warnings
