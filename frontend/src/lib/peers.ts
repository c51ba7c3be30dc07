// Peer table logic: search, sort and live figures. Pure.

import { LIVENESS_RANK, peerLiveness, type Liveness } from './status';
import type { Peer, PeerStatus } from './types';

export type PeerSort = 'name' | 'status' | 'address' | 'handshake' | 'transfer' | 'rate' | 'created';

export interface PeerRow {
  peer: Peer;
  status: PeerStatus | undefined;
  liveness: Liveness;
}

export function buildRows(peers: readonly Peer[], cache: ReadonlyMap<number, PeerStatus>, now: number): PeerRow[] {
  return peers.map((peer) => {
    const status = cache.get(peer.id);
    return { peer, status, liveness: peerLiveness(peer.enabled, status, now) };
  });
}

/** Case-insensitive match on name, e-mail, address, public key and endpoint. */
export function matchesSearch(row: PeerRow, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  const p = row.peer;
  return [p.name, p.email ?? '', p.address, p.address6 ?? '', p.public_key, row.status?.endpoint ?? p.endpoint ?? '']
    .some((s) => s.toLowerCase().includes(q));
}

function ipKey(address: string): string {
  const parts = address.split('.');
  return parts.length === 4 ? parts.map((x) => x.padStart(3, '0')).join('.') : address;
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

export function sortRows(rows: PeerRow[], by: PeerSort, dir: 'asc' | 'desc'): PeerRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  const cmp = (a: PeerRow, b: PeerRow): number => {
    switch (by) {
      case 'name':
        return collator.compare(a.peer.name, b.peer.name);
      case 'status':
        return LIVENESS_RANK[a.liveness] - LIVENESS_RANK[b.liveness] || (b.status?.last_handshake ?? 0) - (a.status?.last_handshake ?? 0);
      case 'address':
        return ipKey(a.peer.address).localeCompare(ipKey(b.peer.address));
      case 'handshake':
        // most recent first when ascending: "sorted by freshness"
        return (b.status?.last_handshake ?? 0) - (a.status?.last_handshake ?? 0);
      case 'transfer':
        return (b.status ? b.status.rx_bytes + b.status.tx_bytes : 0) - (a.status ? a.status.rx_bytes + a.status.tx_bytes : 0);
      case 'rate':
        return (b.status ? b.status.rx_rate + b.status.tx_rate : 0) - (a.status ? a.status.rx_rate + a.status.tx_rate : 0);
      case 'created':
        return a.peer.created_at - b.peer.created_at;
    }
  };
  return [...rows].sort((a, b) => sign * cmp(a, b) || collator.compare(a.peer.name, b.peer.name));
}

export function countOnline(rows: readonly PeerRow[]): number {
  return rows.filter((r) => r.liveness === 'online').length;
}
