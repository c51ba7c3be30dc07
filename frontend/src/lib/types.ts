// Wire types: the exact JSON field names of docs/api-contract.md.

export type Mode = 'gateway' | 'site-to-site' | 'hub-routed';
export type Role = 'client' | 'site-gateway';
export type Direction = 'a_to_b' | 'b_to_a' | 'bidirectional';
export type AlertType = 'peer_offline' | 'interface_down' | 'transfer_spike';
export type Notify = 'email' | 'webhook';
export type SetupStep = 'admin' | 'server' | 'network' | 'peer';

export interface Page<T> {
  items: T[];
  total: number;
}

export interface User {
  id: number;
  username: string;
  role: string;
  created_at?: number;
}

export interface Network {
  id: number;
  name: string;
  interface: string;
  mode: Mode;
  subnet: string;
  subnet6: string | null;
  listen_port: number;
  public_key: string;
  server_address: string;
  server_address6: string | null;
  dns_servers: string[];
  mtu: number | null;
  nat_enabled: boolean;
  inter_peer_routing: boolean;
  enabled: boolean;
  created_at: number;
  updated_at: number;
}

export interface Peer {
  id: number;
  network_id: number;
  name: string;
  email: string | null;
  public_key: string;
  address: string;
  address6: string | null;
  allowed_ips: string[];
  client_allowed_ips: string[];
  endpoint: string | null;
  persistent_keepalive: number | null;
  role: Role;
  site_networks: string[];
  enabled: boolean;
  expires_at: number | null;
  has_private_key: boolean;
  preshared_key: boolean;
  created_at: number;
  updated_at: number;
}

export interface Bridge {
  id: number;
  network_a_id: number;
  network_b_id: number;
  direction: Direction;
  allowed_cidrs: string[];
  enabled: boolean;
  created_at: number;
  updated_at: number;
}

/** Live state of one peer, from /api/status and the SSE stream. */
export interface PeerStatus {
  peer_id: number;
  network_id: number;
  public_key: string;
  online: boolean;
  last_handshake: number | null;
  rx_bytes: number;
  tx_bytes: number;
  rx_rate: number;
  tx_rate: number;
  endpoint: string | null;
}

export interface NetworkStatus {
  id: number;
  name: string;
  interface: string;
  mode: Mode;
  enabled: boolean;
  interface_present: boolean;
  interface_up: boolean;
  healthy: boolean;
  peers_total: number;
  peers_enabled: number;
  peers_online: number;
  rx_bytes: number;
  tx_bytes: number;
  error: string | null;
}

export interface Status {
  driver: string;
  kernel_enabled: boolean;
  networks: NetworkStatus[];
  peers: PeerStatus[];
  diagnostics: string[];
  foreign_interfaces: string[];
}

export interface Health {
  status: 'healthy' | 'degraded';
  version: string;
  uptime: number;
  networks: { total: number; healthy: number };
  database: unknown;
  driver: string;
}

export interface ExistingInterface {
  name: string;
  peers: number;
  listen_port: number | null;
  source: 'kernel' | 'file';
  path?: string | null;
  /** false: importing would leave it as it is (a running interface that would have to change) */
  importable: boolean;
  /** what the import would report, said before anything is done */
  problems: string[];
}

export interface SetupStatus {
  setup_complete: boolean;
  steps: Record<SetupStep, boolean>;
  next_step: SetupStep | null;
  detected_public_ip: string | null;
  existing_interfaces: ExistingInterface[];
  driver: string;
}

export interface StatsPoint {
  timestamp: number;
  rx_bytes: number;
  tx_bytes: number;
}

export interface Stats {
  granularity: 'raw' | 'hour' | 'day';
  from: number;
  to: number;
  series: StatsPoint[];
}

export interface Settings {
  public_ip: string | null;
  hostname: string | null;
  default_dns: string[];
  smtp_host: string | null;
  smtp_port: number | null;
  smtp_username: string | null;
  smtp_password_set: boolean;
  smtp_from: string | null;
  smtp_security: 'starttls' | 'tls' | 'none';
  alert_email: string | null;
  update_channel: string | null;
}

/** GET /api/settings/metrics-token: token is null when metrics.token in the configuration sets it. */
export interface MetricsToken {
  source: 'generated' | 'config';
  token: string | null;
}

export interface TlsStatus {
  mode: string;
  domain: string | null;
  issuer: string | null;
  subject: string | null;
  not_before: number | null;
  not_after: number | null;
  fallback: boolean;
  error: string | null;
}

export interface OkMessage {
  ok: boolean;
  message: string;
}

export interface UpdateInfo {
  available: boolean;
  current: string;
  latest: string | null;
  checked_at?: number | null;
}

export interface SystemInfo {
  version: string;
  commit: string | null;
  build_date: string | null;
  uptime: number;
  driver: string;
  hostname: string;
  kernel: string;
  python: string;
  database: { path: string; size_bytes: number; schema_version: number };
  update: UpdateInfo | null;
}

export interface AuditEntry {
  id: number;
  timestamp: number;
  user_id: number | null;
  username: string | null;
  action: string;
  resource: string;
  /** its name at the time of the action, else now (a bridge: its networks; an alert: its type) */
  resource_name: string | null;
  detail: Record<string, unknown>;
  ip_address: string | null;
}

export interface Alert {
  id: number;
  type: AlertType;
  threshold: number;
  notify: Notify;
  target: string;
  enabled: boolean;
  created_at: number;
  updated_at: number;
  state: 'ok' | 'firing';
  /** how the latest notice fared; null before the first */
  last_delivery: AlertDelivery | null;
}

export interface AlertDelivery {
  status: 'sent' | 'retrying' | 'failed';
  attempts: number;
  /** of the last failed attempt */
  error: string | null;
  attempted_at: number;
  /** the last notice that got through */
  sent_at: number | null;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: string; message: string; fields?: FieldError[] };
}
