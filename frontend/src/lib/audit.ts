// How an audit entry reads: which resource (by name, not "peer:6") and what its detail
// says, as lines a person reads instead of raw JSON. Pure.

import { ALERT_LABEL } from './alerts';
import { formatDateTime } from './format';
import type { AlertType, AuditEntry } from './types';

const KINDS: Record<string, string> = { peer: 'peer', network: 'network', user: 'user', bridge: 'bridge', alert: 'alert' };

/** "peer “laptop”", "network “home”", "Peer offline alert", "bridge home – office"; "peer #6" when no name is known. */
export function describeResource(e: Pick<AuditEntry, 'resource' | 'resource_name'>): string {
  const [kind = '', id] = e.resource.split(':', 2);
  const what = KINDS[kind];
  if (!what || id === undefined) return e.resource;
  const name = e.resource_name;
  if (!name) return `${what} #${id}`;
  if (kind === 'alert') return `${ALERT_LABEL[name as AlertType] ?? name} alert`;
  if (kind === 'bridge') return `bridge ${name}`;
  return `${what} “${name}”`;
}

export interface DetailLine {
  label: string;
  value: string;
}

const LABELS: Record<string, string> = {
  network_id: 'network id',
  network_a_id: 'network A id',
  network_b_id: 'network B id',
  preshared_key: 'preshared key',
  client_allowed_ips: 'client routes',
  allowed_ips: 'routes',
  site_networks: 'site networks',
  persistent_keepalive: 'keepalive (s)',
  dns_servers: 'DNS servers',
  nat_enabled: 'NAT',
  inter_peer_routing: 'peers reach each other',
  mtu: 'MTU',
  ip: 'IP address',
  public_ip: 'public IP',
  listen_port: 'listen port',
  peers_deleted: 'peers deleted',
};

function label(key: string): string {
  return LABELS[key] ?? key.replace(/_/g, ' ');
}

/** One value as text: yes/no, lists joined, times as dates, "—" for nothing, and a plain
 *  object as "label: value, …" (a restore's `replaced: {networks, peers}`), never raw JSON. */
export function formatValue(key: string, v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return /(_at|^timestamp)$/.test(key) ? formatDateTime(v) : String(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.length ? v.map((x) => formatValue('', x)).join(', ') : 'none';
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length ? entries.map(([k, x]) => `${label(k)}: ${formatValue(k, x)}`).join(', ') : 'none';
  }
  return String(v);
}

function isChange(v: unknown): v is { from: unknown; to: unknown } {
  return typeof v === 'object' && v !== null && 'from' in v && 'to' in v;
}

/** The detail of an entry as lines: each change "from → to", then every other field (a field that changed only once). */
export function detailLines(detail: Record<string, unknown> | null | undefined): DetailLine[] {
  const out: DetailLine[] = [];
  const d = detail ?? {};
  const raw = d.changes;
  const changes = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  if (changes) {
    for (const [k, v] of Object.entries(changes)) {
      if (k === 'preshared_key' && isChange(v) && (v as { rotated?: unknown }).rotated) out.push({ label: label(k), value: 'replaced by a new one' });
      else if (isChange(v)) out.push({ label: label(k), value: `${formatValue(k, v.from)} → ${formatValue(k, v.to)}` });
      else out.push({ label: label(k), value: formatValue(k, v) });
    }
  }
  for (const [k, v] of Object.entries(d)) {
    if (k === 'changes' || (changes && k in changes)) continue; // a renamed peer's new name: said once
    out.push({ label: label(k), value: formatValue(k, v) });
  }
  return out;
}
