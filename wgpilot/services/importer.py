"""Adopt existing WireGuard setups: interfaces found in the kernel (not yet wgpilot's)
and wg-quick files in /etc/wireguard. Keys, port, addresses and peers are copied
into the database, peer names come from comments, and the interface is then marked
and converged like any other — from then on wgpilot owns it."""

from __future__ import annotations

import ipaddress
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wgpilot.domain import allowed_ips, ipam, keys, validate
from wgpilot.domain.errors import ConflictError, ValidationError, WgpilotError
from wgpilot.domain.models import DEFAULT_INTER_PEER, DEFAULT_NAT, Actor, Mode, Network, Role
from wgpilot.kernel.driver import LinkState
from wgpilot.services.context import Context
from wgpilot.services.reconcile import Reconciler, Report
from wgpilot.storage.peers import NewPeerRow

log = logging.getLogger(__name__)

CONF_DIR = Path("/etc/wireguard")
_NAME_COMMENT = re.compile(r"^#\s*(?:name|friendly_?name|client|peer)\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
_PIVPN_BEGIN = re.compile(r"^#+\s*begin\s+(.+?)\s*#*$", re.IGNORECASE)  # "### begin laptop ###"
_PIVPN_END = re.compile(r"^#+\s*end\s+.*$", re.IGNORECASE)
# A run of base64 as long as most of a key: a comment holding one is never a name
# ("# old PrivateKey = …" must not become a peer name shown in the UI).
_KEYLIKE = re.compile(r"[A-Za-z0-9+/]{24,}")
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
            begin = _PIVPN_BEGIN.match(line)
            if m and section == "peer" and peer is not None and peer.name is None and not peer.public_key:
                peer.name = m.group(1)  # "[Peer]" then "# Name = …": this peer's
            elif (found := m or begin) is not None:
                pending_name = found.group(1)  # the next peer's
            elif _PIVPN_END.match(line):
                pass
            elif section != "interface" and pending_name is None:
                # A free comment right before a [Peer] names it, unless it looks
                # like a setting (a commented-out key, an old value).
                text_ = line.lstrip("#").strip()
                if text_ and "=" not in text_ and len(text_) <= 64:
                    pending_name = text_
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
                port = _number(value, f"{name}: ListenPort", iface.warnings)
                iface.listen_port = 0 if port is None else port  # 0: refused by the port check
            elif key == "address":
                iface.addresses += values
            elif key == "dns":
                iface.dns += values
            elif key == "mtu":
                iface.mtu = _number(value, f"{name}: MTU", iface.warnings)
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
                peer.keepalive = (
                    None if value == "off" else _number(value, f"{name}: PersistentKeepalive", iface.warnings)
                )
    iface.peers = [p for p in iface.peers if p.public_key]
    return iface


def _number(value: str, what: str, warnings: list[str]) -> int | None:
    """A decimal number of a file (validate.ascii_int, at most 9 digits); None with a
    warning otherwise."""
    number = validate.ascii_int(value, max_digits=9)
    if number is None:
        warnings.append(f"{what} {value[:20]!r} is not a number; left out")
    return number


def _read_conf(path: Path, warnings: list[str]) -> str | None:
    """A wg-quick file's text, or None with a warning when it cannot be read (the
    service runs as an unprivileged user; /etc/wireguard is usually root's alone)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.append(
            f"{path.stem}: cannot read {path} ({exc.strerror or exc}); peer names and DNS not taken from it"
            " — run `sudo wgpilot setup` to import wg-quick files"
        )
        return None


async def _from_kernel(
    ctx: Context, name: str, conf_dir: Path, links: dict[str, LinkState] | None = None
) -> ParsedInterface:
    """A running interface as the kernel has it; its wg-quick file, if readable, lends
    peer names and DNS (which the kernel does not know). ``links``: the driver's link
    list when the caller has it already."""
    dev = await ctx.driver.device(name)
    if links is None:
        links = {link.name: link for link in await ctx.driver.links()}
    link = links.get(name)
    iface = ParsedInterface(
        name=name,
        private_key=dev.private_key,
        listen_port=dev.listen_port or None,
        addresses=list(link.addresses) if link else [],
        mtu=link.mtu if link else None,  # the running MTU, or converging would reset it
        source="kernel",
    )
    names: dict[str, str | None] = {}
    conf = conf_dir / f"{name}.conf"
    text = _read_conf(conf, iface.warnings)
    if text is not None:
        parsed = parse_conf(text, name)
        names = {p.public_key: p.name for p in parsed.peers}
        iface.dns, iface.path = parsed.dns, str(conf)
        if iface.mtu is None:
            iface.mtu = parsed.mtu
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


async def discover(ctx: Context, conf_dir: Path | None = None) -> list[dict[str, Any]]:
    """Unmanaged WireGuard interfaces in the kernel and wg-quick files not yet imported
    (``conf_dir``: CONF_DIR unless given), each with what importing it would report:
    ``importable`` false when it would not be imported at all (a running interface
    that adopting would change is left as it is), ``problems`` the warnings the
    import would give, so a wizard can show them before anything is done."""
    conf_dir = CONF_DIR if conf_dir is None else conf_dir
    out: list[dict[str, Any]] = []
    existing = await ctx.networks.all(ctx.db)
    ours = {n.interface for n in existing}
    seen: set[str] = set()
    taken = [_Taken.of(n) for n in existing]
    if ctx.kernel_enabled:
        links = {link.name: link for link in await ctx.driver.links()}
        for link in links.values():
            if link.marked or link.name in ours:
                continue
            try:
                iface = await _from_kernel(ctx, link.name, conf_dir, links)
            except WgpilotError:
                continue
            seen.add(link.name)
            out.append(_candidate(iface, None, taken))
    try:
        files = sorted(conf_dir.glob("*.conf")) if conf_dir.is_dir() else []
    except OSError:
        files = []
    for path in files:
        name = path.stem
        if name in seen or name in ours:
            continue
        problems: list[str] = []
        text = _read_conf(path, problems)
        if text is None:
            if problems:  # unreadable: said, so a wizard shows why it cannot take it
                out.append(_offer(ParsedInterface(name=name), str(path), False, problems))
            continue
        out.append(_candidate(parse_conf(text, name), str(path), taken))
    return out


def _candidate(iface: ParsedInterface, path: str | None, taken: list[_Taken]) -> dict[str, Any]:
    """One offer, checked as importing it after the ones before it would check it."""
    problems = list(iface.warnings)
    try:
        plan = _plan(iface, problems)
        fits = plan is not None and _fits(plan, iface.source, taken, problems)
    except Exception:  # a bug: this candidate is reported, the others are still offered
        log.exception("checking an import candidate failed", extra={"interface": iface.name})
        problems.append(f"{iface.name}: could not be checked (an internal error, see the log)")
        plan, fits = None, False
    if fits and plan is not None:
        taken.append(
            _Taken(f"{plan.interface} (offered above)", plan.interface, plan.subnet, plan.subnet6, plan.port)
        )
    return _offer(iface, path, fits, problems)


def _offer(iface: ParsedInterface, path: str | None, importable: bool, problems: list[str]) -> dict[str, Any]:
    return {
        "name": iface.name,
        "peers": len(iface.peers),
        "listen_port": iface.listen_port,
        "source": iface.source,
        "path": path,
        "importable": importable,
        "problems": problems,
    }


def _peer_name(raw: str | None, public_key: str, taken: set[str]) -> str:
    if raw and _KEYLIKE.search(raw):
        raw = None  # never a key (or most of one) as a name
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


@dataclass
class _PeerPlan:
    public_key: str
    preshared_key: str | None
    address: ipaddress.IPv4Address
    address6: ipaddress.IPv6Address | None
    sites: tuple[str, ...]
    endpoint: str | None
    keepalive: int | None
    name: str | None


@dataclass
class _Plan:
    """An interface's values, each checked as the API checks it; what could not be
    taken is a warning, never an exception out of the import."""

    interface: str
    private_key: str
    subnet: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network | None
    port: int
    dns: tuple[str, ...]
    mtu: int | None
    peers: list[_PeerPlan]

    @property
    def mode(self) -> Mode:
        """A site behind any peer makes it a site-to-site network."""
        return Mode.SITE_TO_SITE if any(p.sites for p in self.peers) else Mode.GATEWAY


def _plan(iface: ParsedInterface, warnings: list[str]) -> _Plan | None:
    """Check everything an interface brings; None (with the reason in ``warnings``)
    when the interface cannot be imported at all. From a wg-quick file, a bad peer is
    skipped and a bad value left out, each with a warning. A running interface is
    taken only whole: converging it would remove from it whatever was left out (a
    peer, a route, an address) and cut live tunnels, so then it is not imported at
    all and stays as it is. DNS, which a running interface takes from its file (the
    kernel does not know it), is only left out."""
    label = iface.name
    lossy: list[str] = []  # what adopting a running interface would take away from it

    def lose(message: str) -> None:
        warnings.append(message)
        lossy.append(message)

    try:
        validate.interface_name(iface.name)
    except ValidationError:
        warnings.append(f"{label!r}: not a valid interface name (1-15 letters, digits, _ = + . -); skipped")
        return None
    if not iface.private_key:
        warnings.append(f"{label}: no private key; skipped")
        return None
    try:
        private_key = keys.check_key(iface.private_key, "PrivateKey")
    except ValidationError:
        warnings.append(f"{label}: PrivateKey is not a WireGuard key; skipped")
        return None
    ifs: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
    for a in iface.addresses:
        try:
            ifs.append(ipaddress.ip_interface(a))
        except ValueError:
            warnings.append(f"{label}: Address {a[:60]!r} is not an address with a prefix length; skipped")
            return None
    v4 = [i for i in ifs if isinstance(i, ipaddress.IPv4Interface)]
    v6 = [i for i in ifs if isinstance(i, ipaddress.IPv6Interface)]
    if not v4:
        warnings.append(f"{label}: no IPv4 address; skipped")
        return None
    # A file's import skips and leaves out; a running interface's would lose the same
    # things from the live interface, so it is refused instead (see the end).
    dropped = "skipped" if iface.source == "file" else "it would be dropped"
    gone = "left out" if iface.source == "file" else "would be lost"
    untaken = "not imported" if iface.source == "file" else "would be lost"
    for extra in v4[1:] + v6[1:]:
        lose(f"{label}: Address {extra} {untaken} (a network has one IPv4 and one IPv6 subnet)")
    try:
        subnet = validate.subnet(str(v4[0].network), "Address")
        if v4[0].ip != ipam.server_address(subnet):
            warnings.append(
                f"{label}: its address {v4[0]} is not the first usable address of {subnet}; skipped"
            )
            return None
        port = validate.port(51820 if iface.listen_port is None else iface.listen_port, "ListenPort")
    except ValidationError as exc:
        warnings.append(f"{label}: {exc.message}; skipped")
        return None
    subnet6: ipaddress.IPv6Network | None = None
    if v6:
        try:
            subnet6 = validate.subnet6(str(v6[0].network), subnet, "Address")
            if v6[0].ip != ipam.server_address6(subnet6):
                raise ValidationError(f"it is not the first usable address of {subnet6}")
        except ValidationError as exc:
            lose(f"{label}: IPv6 address {v6[0]} {untaken} ({exc.message}); peers keep IPv4 only")
            subnet6 = None
    dns: list[str] = []
    for entry in iface.dns:
        try:
            dns.append(validate.dns_entry(entry, "DNS"))
        except ValidationError:
            warnings.append(f"{label}: DNS entry {entry[:60]!r} is not an address or domain; left out")
    mtu = None
    try:
        mtu = validate.mtu(iface.mtu, "MTU")
    except ValidationError as exc:
        if iface.source == "file":  # a file's MTU is only a setting
            warnings.append(f"{label}: MTU {iface.mtu} left out: {exc.message}")
        else:  # a running interface's would be reset to the default
            lose(f"{label}: MTU {iface.mtu} would be reset: {exc.message}")
    # The peers' own addresses: never sites, even when the IPv6 subnet was not taken.
    own: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [subnet] + ([v6[0].network] if v6 else [])
    peers: list[_PeerPlan] = []
    sites: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []  # (peer, site) kept so far
    seen_keys: set[str] = {keys.public_key(private_key)}
    seen_addresses: set[ipaddress.IPv4Address] = {ipam.server_address(subnet)}
    seen6: set[ipaddress.IPv6Address] = {ipam.server_address6(subnet6)} if subnet6 else set()
    for p in iface.peers:
        peer = _peer_plan(label, p, subnet, subnet6, own, warnings, lose, dropped, gone)
        if peer is None:
            continue
        short = f"{p.public_key[:8]}…"
        if peer.public_key in seen_keys:
            lose(f"{label}: peer {short} appears twice (or is the server); {dropped}")
            continue
        if peer.address in seen_addresses:
            lose(f"{label}: peer {short} uses {peer.address}, already taken; {dropped}")
            continue
        kept = []
        for site in peer.sites:
            net = ipaddress.ip_network(site)
            clash = next((who for who, other in sites if other.overlaps(net)), None)
            if clash is not None:
                lose(f"{label}: peer {short}: AllowedIPs {site} overlaps a site of {clash}; {gone}")
            else:
                kept.append(site)
                sites.append((short, net))
        peer.sites = tuple(kept)
        if peer.address6 is not None and peer.address6 in seen6:
            lose(f"{label}: peer {p.public_key[:8]}…: {peer.address6} already taken; IPv6 {gone}")
            peer.address6 = None
        seen_keys.add(peer.public_key)
        seen_addresses.add(peer.address)
        if peer.address6 is not None:
            seen6.add(peer.address6)
        peers.append(peer)
    if lossy and iface.source != "file":
        warnings.append(_LEFT_AS_IT_IS.format(label=label))
        return None
    return _Plan(iface.name, private_key, subnet, subnet6, port, tuple(dict.fromkeys(dns)), mtu, peers)


def _peer_plan(
    label: str,
    p: ParsedPeer,
    subnet: ipaddress.IPv4Network,
    subnet6: ipaddress.IPv6Network | None,
    own: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    warnings: list[str],
    lose: Callable[[str], None],
    dropped: str,
    gone: str,
) -> _PeerPlan | None:
    """One peer's values; its AllowedIPs beyond its own addresses are the sites behind
    it, checked as the API checks site networks (no default route, not inside the
    network itself)."""
    short = f"{p.public_key[:8]}…"
    try:
        public_key = keys.check_key(p.public_key, "PublicKey")
        preshared_key = keys.check_key(p.preshared_key, "PresharedKey") if p.preshared_key else None
    except ValidationError as exc:
        lose(f"{label}: peer {short}: {exc.fields[0].field} is not a WireGuard key; {dropped}")
        return None
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for c in p.allowed_ips:
        try:
            nets.append(ipaddress.ip_network(c, strict=False))
        except ValueError:
            lose(f"{label}: peer {short}: AllowedIPs entry {c[:60]!r} is not a CIDR; {dropped}")
            return None
    host4 = next(
        (n for n in nets if n.version == 4 and n.prefixlen == 32 and n.network_address in subnet),
        None,
    )
    if host4 is None or not isinstance(host4.network_address, ipaddress.IPv4Address):
        lose(f"{label}: peer {short} has no address inside {subnet}; {dropped}")
        return None
    first, last = ipam.usable_range(subnet)
    index = ipam.index_of(subnet, host4.network_address)
    if not first <= index <= last or host4.network_address == ipam.server_address(subnet):
        lose(f"{label}: peer {short} has {host4.network_address}, not a usable peer address; {dropped}")
        return None
    host6 = next(
        (
            n
            for n in nets
            if n.version == 6 and n.prefixlen == 128 and subnet6 is not None and n.network_address in subnet6
        ),
        None,
    )
    address6 = host6.network_address if host6 is not None else None
    assert address6 is None or isinstance(address6, ipaddress.IPv6Address)
    endpoint = None
    if p.endpoint:
        try:
            endpoint = validate.endpoint(p.endpoint)
        except ValidationError:
            warnings.append(f"{label}: peer {short}: Endpoint {p.endpoint[:60]!r} left out (not host:port)")
    keepalive = None
    try:
        keepalive = validate.keepalive(p.keepalive)
    except ValidationError:
        warnings.append(f"{label}: peer {short}: PersistentKeepalive {p.keepalive} left out (0-65535)")
    sites: list[str] = []
    for n in nets:
        if n in (host4, host6):
            continue
        if n.prefixlen == 0:
            lose(f"{label}: peer {short}: AllowedIPs {n} {gone} (a default route is not a site)")
        elif any(n.version == o.version and n.overlaps(o) for o in own):
            if not (
                n.version == 6 and n.prefixlen == 128 and subnet6 is None
            ):  # its IPv6 address: warned once
                lose(f"{label}: peer {short}: AllowedIPs {n} {gone} (inside the network itself)")
        elif str(n) not in sites:
            sites.append(str(n))
    return _PeerPlan(
        public_key, preshared_key, host4.network_address, address6, tuple(sites), endpoint, keepalive, p.name
    )


_LEFT_AS_IT_IS = (
    "{label}: left running as it is, not imported: adopting it would take away what is listed"
    " above. Make it fit (one IPv4 subnet with the server on its first address, every peer one"
    " address inside it, no route overlapping another network), then import it"
)


def _network_name(raw: str, taken: set[str]) -> str:
    base = raw
    try:
        validate.name(base)
    except ValidationError:
        base = "imported"
    name, n = base, 2
    while name.lower() in taken:
        name = f"{base}-imported" if n == 2 else f"{base}-imported-{n}"
        n += 1
    return name


@dataclass(frozen=True)
class _Taken:
    """A network's interface, subnets and port: wgpilot's own, or one offered before."""

    label: str  # "network 'home'", "wg0 (offered above)"
    interface: str
    subnet: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network | None
    port: int

    @classmethod
    def of(cls, n: Network) -> _Taken:
        return cls(f"network {n.name!r}", n.interface, n.subnet, n.subnet6, n.listen_port)


def _fits(plan: _Plan, source: str, taken: list[_Taken], warnings: list[str]) -> bool:
    """Whether the plan fits beside what is taken: its interface, subnet and port free,
    and no site behind a peer inside another network (such a site is left out of a
    file's import; a running interface is then left as it is)."""
    for n in taken:
        if n.interface == plan.interface:
            warnings.append(f"{plan.interface}: already imported")
            return False
        six = plan.subnet6 is not None and n.subnet6 is not None and n.subnet6.overlaps(plan.subnet6)
        if n.subnet.overlaps(plan.subnet) or six or n.port == plan.port:
            warnings.append(f"{plan.interface}: subnet or port clashes with {n.label}; skipped")
            return False
    theirs = [net for n in taken for net in (n.subnet, n.subnet6) if net is not None]
    lost = len(warnings)
    for p in plan.peers:
        kept = []
        for site in p.sites:
            site_net = ipaddress.ip_network(site)
            if any(site_net.version == t.version and site_net.overlaps(t) for t in theirs):
                warnings.append(
                    f"{plan.interface}: peer {p.public_key[:8]}…: AllowedIPs {site} overlaps another"
                    f" network of wgpilot; {'left out' if source == 'file' else 'would be lost'}"
                )
            else:
                kept.append(site)
        p.sites = tuple(kept)
    if len(warnings) > lost and source != "file":
        warnings.append(_LEFT_AS_IT_IS.format(label=plan.interface))
        return False
    return True


async def _import_one(
    ctx: Context, actor: Actor, iface: ParsedInterface, warnings: list[str]
) -> Network | None:
    warnings.extend(iface.warnings)
    plan = _plan(iface, warnings)
    if plan is None:
        return None
    now = ctx.now()
    async with ctx.db.transaction() as tx:
        existing = await ctx.networks.all(tx)
        if not _fits(plan, iface.source, [_Taken.of(n) for n in existing], warnings):
            return None
        net_id = await ctx.networks.insert(
            tx,
            name=_network_name(plan.interface, {n.name.lower() for n in existing}),
            interface=plan.interface,
            mode=plan.mode,
            subnet=str(plan.subnet),
            subnet6=str(plan.subnet6) if plan.subnet6 else None,
            listen_port=plan.port,
            private_key=plan.private_key,
            public_key=keys.public_key(plan.private_key),
            dns_servers=plan.dns,
            mtu=plan.mtu,
            nat_enabled=DEFAULT_NAT[plan.mode],
            inter_peer_routing=DEFAULT_INTER_PEER[plan.mode],
            enabled=True,
            now=now,
        )
        taken: set[str] = set()
        rows = []
        for p in plan.peers:
            role = Role.SITE_GATEWAY if p.sites and plan.mode is Mode.SITE_TO_SITE else Role.CLIENT
            rows.append(
                NewPeerRow(
                    network_id=net_id,
                    name=_peer_name(p.name, p.public_key, taken),
                    email=None,
                    private_key=None,
                    public_key=p.public_key,
                    preshared_key=p.preshared_key,
                    ip_index=ipam.index_of(plan.subnet, p.address),
                    address=str(p.address),
                    address6=str(p.address6) if p.address6 else None,
                    allowed_ips=allowed_ips.server_side(p.address, p.address6, role, p.sites),
                    client_allowed_ips=(),
                    endpoint=p.endpoint,
                    persistent_keepalive=p.keepalive,
                    role=role,
                    site_networks=p.sites if role is Role.SITE_GATEWAY else (),
                    enabled=True,
                    expires_at=None,
                    now=now,
                )
            )
        if rows:
            try:
                await ctx.peers.insert_many(tx, rows)
            except sqlite3.IntegrityError as exc:  # checked above: only a bug lands here
                raise ConflictError(
                    f"its peers could not be stored together ({exc}); nothing imported"
                ) from exc
            if iface.source == "kernel":
                # Their kernel counters hold traffic from before wgpilot knew them: the
                # first snapshot is their baseline, not traffic (storage.snapshots).
                await ctx.peers.mark_adopted(tx, net_id)
        net = await ctx.networks.get(tx, net_id)
        assert net is not None
        await ctx.audit.record(
            tx,
            actor,
            "network.import",
            f"network:{net_id}",
            {
                "name": net.name,
                "interface": iface.name,
                "source": iface.source,
                "peers": len(rows),
                "path": iface.path,
            },
            now,
        )
        if ctx.kernel_enabled:
            if iface.source == "kernel":
                await ctx.driver.mark(iface.name)
            try:
                # The firewall first: it only adds this network's rules to wgpilot's own
                # table, which the next reconcile rebuilds from the database anyway;
                # the interface is changed last, once nothing else can fail.
                rec = Reconciler(ctx)
                await rec.converge_firewall(tx, Report())
                await rec.converge_network(tx, net, Report())
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
    conf_dir: Path | None = None,
) -> tuple[list[Network], list[str]]:
    conf_dir = CONF_DIR if conf_dir is None else conf_dir
    warnings: list[str] = []
    candidates: list[ParsedInterface] = []
    found = await discover(ctx, conf_dir)
    if interfaces is None and files is None:
        interfaces = [d["name"] for d in found if d["source"] == "kernel"]
        files = [d["path"] for d in found if d["source"] == "file"]
    kernel_names = {d["name"] for d in found if d["source"] == "kernel"}
    links = {link.name: link for link in await ctx.driver.links()} if interfaces else {}
    for i, name in enumerate(interfaces or []):
        if name not in kernel_names:
            raise ValidationError.field(f"interfaces[{i}]", f"{name} is not an unmanaged WireGuard interface")
        candidates.append(await _from_kernel(ctx, name, conf_dir, links))
    for i, path_s in enumerate(files or []):
        path = Path(path_s)
        # Only wg-quick files in the configuration directory, never arbitrary paths.
        try:
            inside = path.parent.resolve() == conf_dir.resolve() and path.suffix == ".conf"
            exists = inside and path.is_file()
        except (OSError, ValueError):  # a NUL byte, a path the service may not look into
            inside = exists = False
        if not exists:
            raise ValidationError.field(f"files[{i}]", f"must be a .conf file in {conf_dir}")
        if path.stem in kernel_names:
            continue  # the running interface is the truth; the file only lends names
        text = _read_conf(path, warnings)
        if text is None:
            continue
        parsed = parse_conf(text, path.stem)
        parsed.path = str(path)
        candidates.append(parsed)
    out = []
    for iface in candidates:
        try:
            net = await _import_one(ctx, actor, iface, warnings)
        except WgpilotError as exc:
            warnings.append(f"{iface.name}: {exc.message}; nothing of it imported")
            continue
        except Exception:  # a bug: reported for this interface; the others still go
            log.exception("import failed", extra={"interface": iface.name})
            warnings.append(
                f"{iface.name}: import failed (an internal error, see the log); nothing of it imported"
            )
            continue
        if net is not None:
            out.append(net)
    return out, warnings
