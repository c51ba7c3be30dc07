import { describe, expect, it } from 'vitest';
import { buildRows, matchesSearch, sortRows } from './peers';
import type { Peer, PeerStatus } from './types';

const now = 1_700_000_000;
const peer = (id: number, name: string, address: string, enabled = true): Peer =>
  ({ id, network_id: 1, name, email: null, address, address6: null, public_key: `PK${id}`, endpoint: null, enabled, created_at: id }) as Peer;
const status = (peer_id: number, last_handshake: number | null, rx = 0, rate = 0): PeerStatus => ({
  peer_id,
  network_id: 1,
  public_key: `PK${peer_id}`,
  online: false,
  last_handshake,
  rx_bytes: rx,
  tx_bytes: 0,
  rx_rate: rate,
  tx_rate: 0,
  endpoint: peer_id === 2 ? '198.51.100.9:40000' : null,
});

const peers = [peer(1, 'laptop', '10.8.0.10'), peer(2, 'Phone', '10.8.0.2'), peer(3, 'tablet', '10.8.0.3', false), peer(4, 'router', '10.8.0.4')];
const cache = new Map([
  [1, status(1, now - 600, 10, 1)],
  [2, status(2, now - 20, 500, 50)],
  [3, status(3, now - 5, 1)],
]);

describe('peer rows', () => {
  const rows = buildRows(peers, cache, now);

  it('derives liveness per peer', () => {
    expect(rows.map((r) => r.liveness)).toEqual(['recent', 'online', 'disabled', 'never']);
  });

  it('searches name, address, key and endpoint', () => {
    const names = (q: string) => rows.filter((r) => matchesSearch(r, q)).map((r) => r.peer.name);
    expect(names('phone')).toEqual(['Phone']);
    expect(names('10.8.0.1')).toEqual(['laptop']);
    expect(names('pk4')).toEqual(['router']);
    expect(names('198.51')).toEqual(['Phone']);
    expect(names('  ')).toHaveLength(4);
  });

  it('sorts by status, name, address, traffic', () => {
    const order = (by: Parameters<typeof sortRows>[1], dir: 'asc' | 'desc' = 'asc') => sortRows(rows, by, dir).map((r) => r.peer.name);
    expect(order('status')).toEqual(['Phone', 'laptop', 'router', 'tablet']);
    expect(order('name')).toEqual(['laptop', 'Phone', 'router', 'tablet']);
    expect(order('name', 'desc')).toEqual(['tablet', 'router', 'Phone', 'laptop']);
    expect(order('address')).toEqual(['Phone', 'tablet', 'router', 'laptop']);
    expect(order('transfer')).toEqual(['Phone', 'laptop', 'tablet', 'router']);
    expect(order('rate')[0]).toBe('Phone');
    expect(order('handshake')).toEqual(['tablet', 'Phone', 'laptop', 'router']);
  });
});
