"""The desired ``inet wgpilot`` nftables table, computed from the database as
libnftables JSON commands. Pure: no I/O; ``kernel/firewall.py`` applies it.

    table inet wgpilot
      chain forward      filter/forward, priority 0, policy accept
        replies between wgpilot interfaces         ct state established,related accept
        per bridge and direction                   iifname A oifname B [ip daddr CIDRs] accept
        per network, peers reaching peers          iifname X oifname X accept | drop
        everything else between wgpilot interfaces drop
        TCP MSS clamped to the route MTU on wgpilot interfaces
      chain postrouting  nat/postrouting, priority srcnat (100), policy accept
        per NAT network      ip[6] saddr SUBNET oifname != { wgpilot ifaces } masquerade

The chains accept by default, so wgpilot never blocks traffic it does not own;
it only drops forwarding between its own interfaces that the operator did not
ask for. Every rule carries a comment ``wgpilot:<hash>`` of its own expression,
which lets the firewall tell whether the live table still equals this one
without rewriting it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from wgpilot.domain.models import Direction

TABLE = "wgpilot"
FAMILY = "inet"


@dataclass(frozen=True)
class Ruleset:
    """The desired table: libnftables JSON commands, a digest, rules per chain."""

    commands: list[dict[str, Any]]
    digest: str
    rule_counts: dict[str, int]

    @property
    def empty(self) -> bool:
        return not self.commands


@dataclass(frozen=True)
class FwNetwork:
    interface: str
    subnet: str
    subnet6: str | None
    nat: bool
    inter_peer: bool


@dataclass(frozen=True)
class FwBridge:
    iface_a: str
    iface_b: str
    direction: Direction
    cidrs: tuple[str, ...]


def _meta(key: str, value: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": {"meta": {"key": key}}, "right": value}}


def _names(ifaces: list[str]) -> Any:
    return ifaces[0] if len(ifaces) == 1 else {"set": sorted(ifaces)}


def _prefix(cidr: str) -> tuple[str, dict[str, Any]]:
    net = ipaddress.ip_network(cidr)
    proto = "ip" if net.version == 4 else "ip6"
    return proto, {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _daddr_matches(cidrs: tuple[str, ...]) -> list[list[dict[str, Any]]]:
    """One match list per address family present in ``cidrs`` (empty list = any)."""
    if not cidrs:
        return [[]]
    by_proto: dict[str, list[dict[str, Any]]] = {}
    for c in cidrs:
        proto, value = _prefix(c)
        by_proto.setdefault(proto, []).append(value)
    out = []
    for proto, values in sorted(by_proto.items()):
        right: Any = values[0] if len(values) == 1 else {"set": values}
        out.append(
            [
                {
                    "match": {
                        "op": "==",
                        "left": {"payload": {"protocol": proto, "field": "daddr"}},
                        "right": right,
                    }
                }
            ]
        )
    return out


def _rule(chain: str, expr: list[dict[str, Any]]) -> dict[str, Any]:
    tag = hashlib.sha256(json.dumps([chain, expr], sort_keys=True).encode()).hexdigest()[:16]
    return {
        "add": {
            "rule": {
                "family": FAMILY,
                "table": TABLE,
                "chain": chain,
                "expr": expr,
                "comment": f"wgpilot:{tag}",
            }
        }
    }


def build(networks: list[FwNetwork], bridges: list[FwBridge]) -> Ruleset:
    """The whole table for the enabled networks and bridges given; empty when none."""
    if not networks:
        return Ruleset(commands=[], digest="", rule_counts={})
    ifaces = sorted(n.interface for n in networks)
    forward: list[dict[str, Any]] = []
    post: list[dict[str, Any]] = []

    if len(ifaces) > 1 or any(True for _ in bridges):
        forward.append(
            _rule(
                "forward",
                [
                    _meta("iifname", _names(ifaces)),
                    _meta("oifname", _names(ifaces)),
                    {
                        "match": {
                            "op": "in",
                            "left": {"ct": {"key": "state"}},
                            "right": ["established", "related"],
                        }
                    },
                    {"accept": None},
                ],
            )
        )
    for b in bridges:
        pairs = []
        if b.direction in (Direction.A_TO_B, Direction.BIDIRECTIONAL):
            pairs.append((b.iface_a, b.iface_b))
        if b.direction in (Direction.B_TO_A, Direction.BIDIRECTIONAL):
            pairs.append((b.iface_b, b.iface_a))
        for src, dst in pairs:
            for daddr in _daddr_matches(b.cidrs):
                forward.append(
                    _rule(
                        "forward",
                        [
                            _meta("iifname", src),
                            _meta("oifname", dst),
                            *daddr,
                            {"accept": None},
                        ],
                    )
                )
    for n in sorted(networks, key=lambda n: n.interface):
        verdict = {"accept": None} if n.inter_peer else {"drop": None}
        forward.append(
            _rule("forward", [_meta("iifname", n.interface), _meta("oifname", n.interface), verdict])
        )
    if len(ifaces) > 1:
        forward.append(
            _rule(
                "forward",
                [
                    _meta("iifname", _names(ifaces)),
                    _meta("oifname", _names(ifaces)),
                    {"drop": None},
                ],
            )
        )
    # Clamp TCP MSS on everything crossing a wgpilot interface: avoids PMTU black holes
    # for clients behind links with a smaller MTU than the tunnel's.
    for key in ("iifname", "oifname"):
        forward.append(
            _rule(
                "forward",
                [
                    _meta(key, _names(ifaces)),
                    {
                        "match": {
                            "op": "==",
                            "left": {
                                "&": [{"payload": {"protocol": "tcp", "field": "flags"}}, ["syn", "rst"]]
                            },
                            "right": "syn",
                        }
                    },
                    {
                        "mangle": {
                            "key": {"tcp option": {"name": "maxseg", "field": "size"}},
                            "value": {"rt": {"key": "mtu"}},
                        }
                    },
                ],
            )
        )
    for n in sorted(networks, key=lambda n: n.interface):
        if not n.nat:
            continue
        for cidr in (n.subnet, n.subnet6):
            if cidr is None:
                continue
            proto, value = _prefix(cidr)
            post.append(
                _rule(
                    "postrouting",
                    [
                        {
                            "match": {
                                "op": "==",
                                "left": {"payload": {"protocol": proto, "field": "saddr"}},
                                "right": value,
                            }
                        },
                        _meta("oifname", _names(ifaces), "!="),
                        {"masquerade": None},
                    ],
                )
            )

    table = {"family": FAMILY, "name": TABLE}
    commands: list[dict[str, Any]] = [
        # add-then-delete makes the batch valid whether or not the table exists;
        # the whole batch is one kernel transaction, so this is an atomic replace.
        {"add": {"table": table}},
        {"delete": {"table": table}},
        {"add": {"table": table}},
        {
            "add": {
                "chain": {
                    "family": FAMILY,
                    "table": TABLE,
                    "name": "forward",
                    "type": "filter",
                    "hook": "forward",
                    "prio": 0,
                    "policy": "accept",
                }
            }
        },
        {
            "add": {
                "chain": {
                    "family": FAMILY,
                    "table": TABLE,
                    "name": "postrouting",
                    "type": "nat",
                    "hook": "postrouting",
                    "prio": 100,
                    "policy": "accept",
                }
            }
        },
        *forward,
        *post,
    ]
    digest = hashlib.sha256(json.dumps(commands, sort_keys=True).encode()).hexdigest()
    return Ruleset(
        commands=commands, digest=digest, rule_counts={"forward": len(forward), "postrouting": len(post)}
    )


def rule_tags(ruleset: Ruleset) -> dict[str, list[str]]:
    """chain → ordered rule comments, as the live table should show them."""
    out: dict[str, list[str]] = {"forward": [], "postrouting": []}
    for cmd in ruleset.commands:
        rule = cmd.get("add", {}).get("rule")
        if rule:
            out[rule["chain"]].append(rule["comment"])
    return out
