// Typed endpoints of docs/api-contract.md. Pages call these, never fetch().

import { request, requestBlob, requestText } from './http';
import type {
  Alert,
  AuditEntry,
  Bridge,
  Health,
  MetricsToken,
  Network,
  OkMessage,
  Page,
  Peer,
  Settings,
  SetupStatus,
  Stats,
  Status,
  SystemInfo,
  TlsStatus,
  UpdateInfo,
  User,
} from './types';

export type NetworkInput = Partial<{
  name: string;
  mode: string;
  subnet: string;
  subnet6: string | null;
  listen_port: number;
  dns_servers: string[];
  mtu: number | null;
  nat_enabled: boolean;
  inter_peer_routing: boolean;
  /** create only */
  interface: string;
}>;

export type PeerInput = Partial<{
  name: string;
  email: string | null;
  role: string;
  site_networks: string[];
  client_allowed_ips: string[];
  persistent_keepalive: number | null;
  public_key: string;
  preshared_key: boolean;
  expires_at: number | null;
  endpoint: string | null;
  enabled: boolean;
}>;

export type BridgeInput = Partial<Omit<Bridge, 'id' | 'created_at' | 'updated_at'>>;
export type AlertInput = Partial<Pick<Alert, 'type' | 'threshold' | 'notify' | 'target' | 'enabled'>>;
export type SettingsInput = Partial<Omit<Settings, 'smtp_password_set'> & { smtp_password: string }>;

const enc = encodeURIComponent;
const net = (id: number) => `/api/networks/${enc(String(id))}`;
const peerPath = (nid: number, pid: number) => `${net(nid)}/peers/${enc(String(pid))}`;

/** Peer lists are paged by the server; the UI wants all of them (search and sort on live data). */
async function allPages<T>(path: string, pageSize = 200): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await request<Page<T>>(path, { query: { limit: pageSize, offset } });
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}

export const api = {
  auth: {
    login: (username: string, password: string) =>
      request<{ user: User }>('/api/auth/login', { method: 'POST', json: { username, password }, redirectOn401: false }),
    logout: () => request<void>('/api/auth/logout', { method: 'POST', redirectOn401: false }),
    me: () => request<User>('/api/auth/me', { redirectOn401: false }),
    changePassword: (current_password: string, new_password: string) =>
      request<void>('/api/auth/password', { method: 'PUT', json: { current_password, new_password } }),
  },
  setup: {
    status: () => request<SetupStatus>('/api/setup/status', { redirectOn401: false }),
    admin: (install_token: string, username: string, password: string) =>
      request<{ user: User }>('/api/setup/admin', { method: 'POST', json: { install_token, username, password }, redirectOn401: false }),
    server: (body: { public_ip: string; hostname?: string | null; dns_servers?: string[] }) =>
      request<unknown>('/api/setup/server', { method: 'PUT', json: body }),
    network: (body: NetworkInput) => request<Network>('/api/setup/network', { method: 'POST', json: body }),
    peer: (body: PeerInput & { network_id?: number }) =>
      request<{ peer: Peer; config: string }>('/api/setup/peer', { method: 'POST', json: body }),
    import: (body: { interfaces?: string[]; files?: string[] }) =>
      request<{ networks: Network[]; warnings?: string[] }>('/api/setup/import', { method: 'POST', json: body }),
  },
  networks: {
    list: () => allPages<Network>('/api/networks'),
    get: (id: number) => request<Network>(net(id)),
    create: (body: NetworkInput) => request<Network>('/api/networks', { method: 'POST', json: body }),
    update: (id: number, body: NetworkInput) => request<Network>(net(id), { method: 'PUT', json: body }),
    remove: (id: number) => request<void>(net(id), { method: 'DELETE' }),
    setEnabled: (id: number, enabled: boolean) =>
      request<Network>(`${net(id)}/${enabled ? 'enable' : 'disable'}`, { method: 'POST' }),
    stats: (id: number, q: { from: number; to: number; granularity: 'raw' | 'hour' | 'day'; peer_id?: number }) =>
      request<Stats>(`${net(id)}/stats`, { query: q }),
    eventsUrl: (id: number) => `${net(id)}/events`,
  },
  peers: {
    list: (nid: number) => allPages<Peer>(`${net(nid)}/peers`),
    get: (nid: number, pid: number) => request<Peer>(peerPath(nid, pid)),
    create: (nid: number, body: PeerInput) => request<Peer>(`${net(nid)}/peers`, { method: 'POST', json: body }),
    update: (nid: number, pid: number, body: PeerInput) => request<Peer>(peerPath(nid, pid), { method: 'PUT', json: body }),
    remove: (nid: number, pid: number) => request<void>(peerPath(nid, pid), { method: 'DELETE' }),
    setEnabled: (nid: number, pid: number, enabled: boolean) =>
      request<Peer>(`${peerPath(nid, pid)}/${enabled ? 'enable' : 'disable'}`, { method: 'POST' }),
    config: (nid: number, pid: number) => requestText(`${peerPath(nid, pid)}/config`),
    configUrl: (nid: number, pid: number) => `${peerPath(nid, pid)}/config`,
    qrSvgUrl: (nid: number, pid: number) => `${peerPath(nid, pid)}/qr?format=svg`,
  },
  bridges: {
    list: () => allPages<Bridge>('/api/bridges'),
    create: (body: BridgeInput) => request<Bridge>('/api/bridges', { method: 'POST', json: body }),
    update: (id: number, body: BridgeInput) => request<Bridge>(`/api/bridges/${id}`, { method: 'PUT', json: body }),
    remove: (id: number) => request<void>(`/api/bridges/${id}`, { method: 'DELETE' }),
  },
  alerts: {
    // Not paged: {items, total} with every rule (the endpoint takes no limit/offset).
    list: () => request<Page<Alert>>('/api/alerts').then((p) => p.items),
    create: (body: AlertInput) => request<Alert>('/api/alerts', { method: 'POST', json: body }),
    update: (id: number, body: AlertInput) => request<Alert>(`/api/alerts/${id}`, { method: 'PUT', json: body }),
    remove: (id: number) => request<void>(`/api/alerts/${id}`, { method: 'DELETE' }),
  },
  status: () => request<Status>('/api/status'),
  /** SSE of every network (`snapshot`, `status`, `heartbeat`; peers carry network_id) */
  eventsUrl: '/api/events',
  health: () => request<Health>('/health', { redirectOn401: false }),
  settings: {
    get: () => request<Settings>('/api/settings'),
    update: async (body: SettingsInput) =>
      (await request<Settings | undefined>('/api/settings', { method: 'PUT', json: body })) ?? request<Settings>('/api/settings'),
    tls: () => request<TlsStatus>('/api/settings/tls'),
    metricsToken: () => request<MetricsToken>('/api/settings/metrics-token'),
    tlsTest: () => request<OkMessage>('/api/settings/tls/test', { method: 'POST' }),
    smtpTest: (to?: string) => request<OkMessage>('/api/settings/smtp/test', { method: 'POST', json: to ? { to } : {} }),
  },
  system: {
    info: () => request<SystemInfo>('/api/system/info'),
    checkUpdate: () => request<UpdateInfo>('/api/system/update/check', { method: 'POST' }),
    backup: () => requestBlob('/api/system/backup', { method: 'POST' }),
    restore: (file: Blob) =>
      request<{ restored: boolean; networks: number; peers: number }>('/api/system/restore', {
        method: 'POST',
        body: file,
        contentType: 'application/octet-stream',
      }),
  },
  audit: {
    list: (q: { from?: number; to?: number; action?: string; limit: number; offset: number }) =>
      request<Page<AuditEntry>>('/api/audit-log', { query: q }),
  },
};
