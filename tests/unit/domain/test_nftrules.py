from __future__ import annotations

import json

from wgpilot.domain import nftrules
from wgpilot.domain.models import Direction
from wgpilot.domain.nftrules import FwBridge, FwNetwork


def rules(table: nftrules.Ruleset, chain: str) -> list[list[dict]]:
    return [
        c["add"]["rule"]["expr"]
        for c in table.commands
        if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == chain
    ]


def test_no_networks_means_no_table() -> None:
    assert nftrules.build([], []).empty


def test_gateway_masquerades_and_isolates_peers() -> None:
    t = nftrules.build([FwNetwork("wg0", "10.8.0.0/24", "fd00::/64", nat=True, inter_peer=False)], [])
    assert t.commands[:3] == [
        {"add": {"table": {"family": "inet", "name": "wgpilot"}}},
        {"delete": {"table": {"family": "inet", "name": "wgpilot"}}},
        {"add": {"table": {"family": "inet", "name": "wgpilot"}}},
    ]
    post = rules(t, "postrouting")
    assert len(post) == 2 and all(r[-1] == {"masquerade": None} for r in post)
    assert post[1][0]["match"]["left"]["payload"]["protocol"] == "ip6"
    fwd = rules(t, "forward")
    assert fwd[0][-1] == {"drop": None}  # wg0 → wg0 dropped


def test_hub_routed_accepts_inter_peer_and_no_nat() -> None:
    t = nftrules.build([FwNetwork("wg0", "10.8.0.0/24", None, nat=False, inter_peer=True)], [])
    assert rules(t, "postrouting") == []
    assert rules(t, "forward")[0][-1] == {"accept": None}


def test_bridges_open_only_their_direction_and_cidrs() -> None:
    nets = [
        FwNetwork("wg0", "10.8.0.0/24", None, True, False),
        FwNetwork("wg1", "10.9.0.0/24", None, True, False),
    ]
    t = nftrules.build(nets, [FwBridge("wg0", "wg1", Direction.A_TO_B, ("10.9.0.0/25",))])
    text = json.dumps(rules(t, "forward"))
    fwd = rules(t, "forward")
    assert fwd[0][-1] == {"accept": None}  # replies between wgpilot interfaces
    bridge = fwd[1]
    assert bridge[0]["match"]["right"] == "wg0" and bridge[1]["match"]["right"] == "wg1"
    assert bridge[2]["match"]["right"] == {"prefix": {"addr": "10.9.0.0", "len": 25}}
    assert (
        '"right": "wg1"}}, {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"'
        not in text
    )
    # Everything else between the two interfaces is dropped, after the bridge rule.
    catch_all = next(r for r in fwd if r[-1] == {"drop": None} and isinstance(r[0]["match"]["right"], dict))
    assert fwd.index(catch_all) > 1
    # NAT never masquerades traffic leaving through another wgpilot interface.
    post = rules(t, "postrouting")
    assert post[0][1]["match"]["right"] == {"set": ["wg0", "wg1"]}


def test_every_rule_is_tagged_and_the_digest_is_stable() -> None:
    nets = [FwNetwork("wg0", "10.8.0.0/24", None, True, False)]
    a, b = nftrules.build(nets, []), nftrules.build(nets, [])
    assert a.digest == b.digest
    tags = nftrules.rule_tags(a)
    assert all(tag.startswith("wgpilot:") for chain in tags.values() for tag in chain)
    assert sum(len(v) for v in tags.values()) == sum(a.rule_counts.values())
    c = nftrules.build([FwNetwork("wg0", "10.8.0.0/24", None, False, False)], [])
    assert c.digest != a.digest
