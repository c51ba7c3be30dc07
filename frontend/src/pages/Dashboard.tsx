import { useMemo } from 'react';
import { LiveIndicator, LiveRefused } from '../components/LiveIndicator';
import { StatusDot } from '../components/StatusDot';
import { TransferChart } from '../components/TransferChart';
import { Badge, Card, EmptyState, ErrorState, Loading, PageHeader, StaleNotice } from '../components/ui';
import { api } from '../lib/api';
import { sumSeries } from '../lib/chart';
import { formatBytes, formatRate, plural, relativeTime } from '../lib/format';
import { noteStatus } from '../lib/health';
import { useAsync, useDocumentTitle, useLive, useLiveWindow, useNow, useReloadOnChange, useWatchAllNetworks } from '../lib/hooks';
import { ALL_NETWORKS } from '../lib/live';
import { liveStore } from '../lib/liveStore';
import { MODE_LABEL } from '../lib/networks';
import { buildRows, sortRows } from '../lib/peers';
import { Link } from '../lib/router';
import type { Network, NetworkStatus, Peer } from '../lib/types';

const PEERS_SHOWN = 8;

interface Data {
  networks: Network[];
  statuses: Map<number, NetworkStatus>;
  peers: Map<number, Peer[]>;
}

async function load(): Promise<Data> {
  const [networks, status] = await Promise.all([api.networks.list(), api.status()]);
  noteStatus(status);
  liveStore.seed(status.peers);
  const lists = await Promise.all(networks.map((n) => api.peers.list(n.id).catch(() => [] as Peer[])));
  return {
    networks,
    statuses: new Map(status.networks.map((s) => [s.id, s])),
    peers: new Map(networks.map((n, i) => [n.id, lists[i] ?? []])),
  };
}

function TransferCard({ networks, liveBytes }: { networks: Network[]; liveBytes: number }) {
  const { from, to } = useLiveWindow(24 * 3600, liveBytes);
  const ids = networks.map((n) => n.id).join(',');
  const stats = useAsync(async () => {
    const all = await Promise.all(networks.map((n) => api.networks.stats(n.id, { from, to, granularity: 'hour' })));
    return { series: sumSeries(all.map((s) => s.series)), from, to };
  }, [ids, to]);
  return (
    <Card title="Recorded transfer, last 24 hours">
      {stats.loading && !stats.data ? (
        <Loading rows={3} />
      ) : stats.error ? (
        <ErrorState error={stats.error} onRetry={stats.reload} title="Could not load the transfer history" />
      ) : stats.data ? (
        <TransferChart series={stats.data.series} from={stats.data.from} to={stats.data.to} label="Transfer of all networks in the last 24 hours" />
      ) : null}
    </Card>
  );
}

function NetworkPeers({ network, status, peers }: { network: Network; status?: NetworkStatus; peers: Peer[] }) {
  const snap = useLive();
  const now = useNow(5000);
  const rows = useMemo(() => sortRows(buildRows(peers, snap.peers, now), 'status', 'asc'), [peers, snap.peers, now]);
  const online = rows.filter((r) => r.liveness === 'online').length;
  return (
    <Card
      className="network-card"
      title={
        <Link to={`/networks/${network.id}`} className="card-link">
          {network.name}
        </Link>
      }
      actions={
        <>
          {!network.enabled ? (
            <Badge>disabled</Badge>
          ) : status && !status.healthy ? (
            <Badge tone="bad">unhealthy</Badge>
          ) : (
            <Badge tone="ok">up</Badge>
          )}
        </>
      }
    >
      <p className="muted small">
        {network.interface} · {MODE_LABEL[network.mode]} · {network.subnet} ·{' '}
        <span data-testid={`dash-online-${network.id}`}>{online}</span> of {plural(peers.length, 'peer')} online
      </p>
      {status?.error && <p className="notice notice-bad">{status.error}</p>}
      {peers.length === 0 ? (
        <p className="muted">
          No peers yet. <Link to={`/networks/${network.id}`}>Add the first one</Link>.
        </p>
      ) : (
        <ul className="peer-mini-list" data-testid={`dash-peers-${network.id}`}>
          {rows.slice(0, PEERS_SHOWN).map((r) => (
            <li key={r.peer.id} data-peer={r.peer.name}>
              <StatusDot liveness={r.liveness} />
              <span className="peer-mini-name">{r.peer.name}</span>
              <span className="muted small">
                {r.liveness === 'disabled' ? 'disabled' : relativeTime(r.status?.last_handshake, now)}
              </span>
              <span className="small tabular">{r.status && r.liveness === 'online' ? `↓${formatRate(r.status.rx_rate)} ↑${formatRate(r.status.tx_rate)}` : ''}</span>
            </li>
          ))}
        </ul>
      )}
      {peers.length > PEERS_SHOWN && (
        <p className="small">
          <Link to={`/networks/${network.id}`}>All {peers.length} peers →</Link>
        </p>
      )}
    </Card>
  );
}

export default function Dashboard() {
  useDocumentTitle('Dashboard');
  const data = useAsync(load, []);
  const snap = useLive();
  const now = useNow(5000);
  const networks = data.data?.networks ?? [];
  // One stream (GET /api/events) keeps every network live, however many there are; its
  // `changed` events bring in networks and peers added, removed or edited anywhere.
  const anyEnabled = networks.some((n) => n.enabled);
  useWatchAllNetworks();
  useReloadOnChange(ALL_NETWORKS, data.reload, data.loading);
  const conn = snap.conn[ALL_NETWORKS];

  const cards = useMemo(() => {
    if (!data.data) return null;
    const allPeers = [...data.data.peers.values()].flat();
    const rows = buildRows(allPeers, snap.peers, now);
    let transfer = 0;
    for (const n of data.data.networks) {
      const cached = rows.filter((r) => r.peer.network_id === n.id && r.status);
      transfer += cached.length
        ? cached.reduce((s, r) => s + (r.status?.rx_bytes ?? 0) + (r.status?.tx_bytes ?? 0), 0)
        : (data.data.statuses.get(n.id)?.rx_bytes ?? 0) + (data.data.statuses.get(n.id)?.tx_bytes ?? 0);
    }
    return {
      networks: data.data.networks.length,
      enabledNetworks: data.data.networks.filter((n) => n.enabled).length,
      peers: allPeers.length,
      enabledPeers: allPeers.filter((p) => p.enabled).length,
      online: rows.filter((r) => r.liveness === 'online').length,
      transfer,
    };
  }, [data.data, snap.peers, now]);

  return (
    <>
      <PageHeader
        title="Dashboard"
        actions={
          anyEnabled && <LiveIndicator conn={conn} />
        }
      />
      {data.data && data.error !== null && <StaleNotice error={data.error} onRetry={data.reload} />}
      {anyEnabled && conn !== 'live' && <LiveRefused reason={snap.refused[ALL_NETWORKS]} />}
      {data.loading && !data.data ? (
        <Loading rows={5} />
      ) : !data.data ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : networks.length === 0 ? (
        <EmptyState title="No networks yet" action={<Link to="/networks?create=1" className="btn btn-primary">Create a network</Link>}>
          A network is one WireGuard interface with its own subnet and port. Create one, then add peers to it.
        </EmptyState>
      ) : (
        <>
          {cards && (
            <div className="stat-cards" data-testid="stat-cards">
              <div className="stat">
                <span className="stat-label">Networks</span>
                <span className="stat-value">{cards.networks}</span>
                <span className="stat-sub">{cards.enabledNetworks} enabled</span>
              </div>
              <div className="stat">
                <span className="stat-label">Peers</span>
                <span className="stat-value">{cards.peers}</span>
                <span className="stat-sub">{cards.enabledPeers} enabled</span>
              </div>
              <div className="stat">
                <span className="stat-label">Online</span>
                <span className="stat-value" data-testid="online-count">
                  {cards.online}
                </span>
                <span className="stat-sub">handshake in the last 3 min</span>
              </div>
              <div className="stat" data-testid="live-counters">
                <span className="stat-label">Live counters</span>
                <span className="stat-value">{formatBytes(cards.transfer)}</span>
                <span className="stat-sub">received + sent by the current peers since WireGuard began counting each one (when its interface came up, or when the peer was added to it again, e.g. re-enabled), not only in the last 24 hours</span>
              </div>
            </div>
          )}
          <TransferCard networks={networks} liveBytes={cards?.transfer ?? 0} />
          <div className="network-grid">
            {networks.map((n) => (
              <NetworkPeers key={n.id} network={n} status={data.data?.statuses.get(n.id)} peers={data.data?.peers.get(n.id) ?? []} />
            ))}
          </div>
        </>
      )}
    </>
  );
}
