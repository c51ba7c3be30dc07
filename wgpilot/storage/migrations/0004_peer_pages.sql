-- Paging a network's peers (ORDER BY id, or created_at, LIMIT n) walks an index
-- instead of sorting every peer of the network into a temporary b-tree per request.
CREATE INDEX peers_by_network ON peers (network_id, id);
CREATE INDEX peers_by_created ON peers (network_id, created_at, id);
