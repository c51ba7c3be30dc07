"""What the peer repository writes is what it reads back: list columns through
``dump_list``/``load_list`` (with their fast paths), and the peers ``insert_many``
returns without reading them back, compared field by field with ``get``."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given
from hypothesis import strategies as st

from wgpilot.domain import keys
from wgpilot.domain.models import Actor
from wgpilot.services.context import Context
from wgpilot.services.networks import NetworkService
from wgpilot.services.peers import PeerService
from wgpilot.storage.rows import dump_list, load_list

ACTOR = Actor.cli()


@given(st.lists(st.text(max_size=12), max_size=5))
def test_a_list_column_round_trips_and_is_plain_json(values: list[str]) -> None:
    text = dump_list(values)
    assert json.loads(text) == values
    assert load_list(text) == tuple(values)


def test_cidrs_take_the_fast_path_and_stay_compact() -> None:
    assert dump_list([]) == "[]"
    assert dump_list(("10.0.0.1/32", "fd00::1/128")) == '["10.0.0.1/32","fd00::1/128"]'
    assert dump_list(['a"b', "c\\d", "é", "\n"]) == json.dumps(
        ['a"b', "c\\d", "é", "\n"], separators=(",", ":")
    )


async def test_created_peers_equal_what_the_database_reads_back(ctx: Context) -> None:
    nets, peers = NetworkService(ctx), PeerService(ctx)
    net = await nets.create(
        ACTOR, name="a", mode="site-to-site", subnet="10.8.0.0/24", subnet6="fd00:8::/64", listen_port=51820
    )
    made = await asyncio.gather(  # one group commit: insert_many with several rows
        peers.create(ACTOR, net.id, name="plain"),
        peers.create(ACTOR, net.id, name="psk", preshared_key=True, email="a@example.com"),
        peers.create(
            ACTOR,
            net.id,
            name="gw",
            role="site-gateway",
            site_networks=["192.168.50.0/24"],
            endpoint="gw.example.com:51820",
            persistent_keepalive=25,
            client_allowed_ips=["10.8.0.0/24"],
        ),
        peers.create(
            ACTOR,
            net.id,
            name="own",
            public_key=keys.generate_keypair()[1],
            enabled=False,
            expires_at=4_000_000_000,
        ),
    )
    for peer in made:
        assert await ctx.peers.get(ctx.db, peer.id) == peer
