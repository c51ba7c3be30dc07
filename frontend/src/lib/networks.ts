// Helpers about networks: labels, overlap checks and sensible defaults. Pure.

import type { Mode, Network } from './types';
import { parseCidr, type Cidr } from './validate';

export const MODE_LABEL: Record<Mode, string> = {
  gateway: 'Gateway',
  'site-to-site': 'Site-to-site',
  'hub-routed': 'Hub-routed',
};

export const MODE_HELP: Record<Mode, string> = {
  gateway: 'Peers reach the internet (and this server’s LAN) through the server. The usual road-warrior VPN.',
  'site-to-site': 'Joins whole networks: each site gateway announces its LAN and the others route to it.',
  'hub-routed': 'Peers talk to each other through the server; no internet traffic is routed.',
};

function range(c: Cidr): [bigint, bigint] {
  const bits = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
  const size = 1n << bits;
  const start = c.address & ~(size - 1n);
  return [start, start + size - 1n];
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a.trim());
  const y = parseCidr(b.trim());
  if (!x || !y || x.version !== y.version) return false;
  const [x0, x1] = range(x);
  const [y0, y1] = range(y);
  return x0 <= y1 && y0 <= x1;
}

/** The other network a subnet collides with, if any. */
export function overlappingNetwork(subnet: string, networks: readonly Network[], exceptId?: number): Network | null {
  return networks.find((n) => n.id !== exceptId && (cidrsOverlap(subnet, n.subnet) || (n.subnet6 !== null && cidrsOverlap(subnet, n.subnet6)))) ?? null;
}

export function portOwner(port: number, networks: readonly Network[], exceptId?: number): Network | null {
  return networks.find((n) => n.id !== exceptId && n.listen_port === port) ?? null;
}

/** First 10.N.0.0/24 (N from 8) that no existing network overlaps. */
export function suggestSubnet(networks: readonly Pick<Network, 'subnet'>[]): string {
  for (let n = 8; n < 256; n++) {
    const candidate = `10.${n}.0.0/24`;
    if (!networks.some((net) => cidrsOverlap(candidate, net.subnet))) return candidate;
  }
  return '';
}

/**
 * The interface name the server picks when none is given (services/networks.py):
 * the first wgN that no network uses and that is not on the host (`taken`: the
 * host's other WireGuard interfaces, e.g. /api/status foreign_interfaces). A guess
 * for the placeholder: the server decides, and may know of more names in use.
 */
export function suggestInterface(networks: readonly Pick<Network, 'interface'>[], taken: readonly string[] = []): string {
  const used = new Set([...networks.map((n) => n.interface), ...taken]);
  let i = 0;
  while (used.has(`wg${i}`)) i++;
  return `wg${i}`;
}

/** 51820, or the lowest port above it that no network listens on. */
export function suggestPort(networks: readonly Pick<Network, 'listen_port'>[]): number {
  const used = new Set(networks.map((n) => n.listen_port));
  let p = 51820;
  while (used.has(p) && p < 65535) p++;
  return p;
}

/** Number of addresses peers can get: all minus network, broadcast and the server. */
export function peerCapacity(subnet: string): number | null {
  const c = parseCidr(subnet);
  if (!c || c.version !== 4) return null;
  if (c.prefix >= 31) return c.prefix === 31 ? 1 : 0;
  return 2 ** (32 - c.prefix) - 3;
}
