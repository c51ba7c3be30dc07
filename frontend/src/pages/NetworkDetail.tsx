import { useEffect, useMemo, useRef, useState } from 'react';
import { LiveIndicator, LiveRefused } from '../components/LiveIndicator';
import { ConfirmDialog, Modal } from '../components/Modal';
import { NetworkForm, valuesOf } from '../components/NetworkForm';
import { PeerConfig } from '../components/PeerConfig';
import { PeerForm } from '../components/PeerForm';
import { StatusDot } from '../components/StatusDot';
import { useToast } from '../components/Toast';
import { TransferChart } from '../components/TransferChart';
import { Badge, Card, EmptyState, ErrorState, Loading, PageHeader, StaleNotice } from '../components/ui';
import { api } from '../lib/api';
import { copyText } from '../lib/clipboard';
import { ApiError, describeError } from '../lib/errors';
import { expiryLabel, formatBytes, formatDateTime, formatRate, plural, relativeTime } from '../lib/format';
import { noteStatus } from '../lib/health';
import { useAsync, useDocumentTitle, useLive, useLiveWindow, useNow, useReloadOnChange, useWatchNetworks } from '../lib/hooks';
import { liveStore } from '../lib/liveStore';
import { MODE_LABEL } from '../lib/networks';
import { buildRows, matchesSearch, sortRows, type PeerRow, type PeerSort } from '../lib/peers';
import { Link, navigate } from '../lib/router';
import { LIVENESS_LABEL } from '../lib/status';
import type { Network, NetworkStatus, Peer } from '../lib/types';
import { NetworkHealth } from './Networks';

interface Data {
  network: Network;
  peers: Peer[];
  all: Network[];
  status?: NetworkStatus;
}

const RANGES = {
  '24h': { seconds: 24 * 3600, granularity: 'hour' as const, label: '24 hours' },
  '7d': { seconds: 7 * 86400, granularity: 'hour' as const, label: '7 days' },
  '30d': { seconds: 30 * 86400, granularity: 'day' as const, label: '30 days' },
};
type Range = keyof typeof RANGES;

function StatsChart({ networkId, peerId, label, liveBytes }: { networkId: number; peerId?: number; label: string; liveBytes: number }) {
  const [range, setRange] = useState<Range>('24h');
  const r = RANGES[range];
  // [now - span, now] in server time, moved forward when the live counters grow.
  const { from, to } = useLiveWindow(r.seconds, liveBytes);
  const stats = useAsync(
    async () => ({ ...(await api.networks.stats(networkId, { from, to, granularity: r.granularity, peer_id: peerId })), from, to }),
    [networkId, peerId, range, from, to],
  );
  return (
    <div className="stack-sm">
      <div className="segmented" role="group" aria-label="Period">
        {(Object.keys(RANGES) as Range[]).map((k) => (
          <button key={k} type="button" className={k === range ? 'active' : ''} aria-pressed={k === range} onClick={() => setRange(k)}>
            {RANGES[k].label}
          </button>
        ))}
      </div>
      {stats.loading && !stats.data ? (
        <Loading rows={3} />
      ) : stats.error ? (
        <ErrorState error={stats.error} onRetry={stats.reload} title="Could not load the transfer history" />
      ) : (
        <TransferChart series={stats.data?.series ?? []} from={stats.data?.from ?? from} to={stats.data?.to ?? to} label={`${label}, last ${r.label}`} />
      )}
    </div>
  );
}

/** `row` is undefined once the peer is gone from the page (removed in another tab or by
 *  the CLI): the dialog stays open, says so, and keeps the keyboard on Close (what had
 *  focus inside it is gone). */
function PeerDetails({ peer, row, network, onClose, onConfig }: { peer: Peer; row: PeerRow | undefined; network: Network; onClose: () => void; onConfig: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  const removed = row === undefined;
  useEffect(() => {
    if (removed) close.current?.focus();
  }, [removed]);
  return (
    <Modal
      title={row?.peer.name ?? peer.name}
      onClose={onClose}
      size="lg"
      footer={
        <button type="button" className="btn" onClick={onClose} ref={close}>
          Close
        </button>
      }
    >
      {row ? (
        <PeerFacts row={row} network={network} onConfig={onConfig} />
      ) : (
        <p className="notice notice-warn" role="alert" data-testid="peer-removed">
          This peer was removed (in another tab or from the command line). Its key no longer works on{' '}
          <span className="mono">{network.interface}</span>.
        </p>
      )}
    </Modal>
  );
}

function PeerFacts({ row, network, onConfig }: { row: PeerRow; network: Network; onConfig: () => void }) {
  const now = useNow(5000);
  const p = row.peer;
  const s = row.status;
  return (
    <div className="stack">
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusDot liveness={row.liveness} showLabel />
          </dd>
        </div>
        <div>
          <dt>Last handshake</dt>
          <dd>{relativeTime(s?.last_handshake, now)}</dd>
        </div>
        <div>
          <dt>Address</dt>
          <dd className="mono">
            {p.address}
            {p.address6 && <div>{p.address6}</div>}
          </dd>
        </div>
        <div>
          <dt>Endpoint</dt>
          <dd className="mono">{s?.endpoint ?? p.endpoint ?? '—'}</dd>
        </div>
        <div>
          <dt>Received / sent</dt>
          <dd className="tabular">
            {formatBytes(s?.rx_bytes)} / {formatBytes(s?.tx_bytes)}
          </dd>
        </div>
        <div>
          <dt>Current rate</dt>
          <dd className="tabular">
            ↓ {formatRate(s?.rx_rate)} · ↑ {formatRate(s?.tx_rate)}
          </dd>
        </div>
        <div>
          <dt>Routes (server side)</dt>
          <dd className="mono">{p.allowed_ips.join(', ') || '—'}</dd>
        </div>
        <div>
          <dt>Client routes</dt>
          <dd className="mono">{p.client_allowed_ips.length ? p.client_allowed_ips.join(', ') : network.mode === 'gateway' ? 'full tunnel' : 'network default'}</dd>
        </div>
        <div className="wide">
          <dt>Public key</dt>
          <dd className="mono break">{p.public_key}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(p.created_at)}</dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>{p.expires_at ? `${formatDateTime(p.expires_at)}${p.expires_at <= now ? ' (expired)' : ''}` : 'never'}</dd>
        </div>
      </dl>
      <button type="button" className="btn" onClick={onConfig}>
        {p.has_private_key ? <>Show configuration &amp; QR code</> : <>Show configuration</>}
      </button>
      <h3>Transfer</h3>
      <StatsChart networkId={network.id} peerId={p.id} label={`Transfer of ${p.name}`} liveBytes={(s?.rx_bytes ?? 0) + (s?.tx_bytes ?? 0)} />
    </div>
  );
}

type Dialog =
  | { kind: 'add' }
  | { kind: 'edit'; peer: Peer }
  | { kind: 'config'; peer: Peer }
  | { kind: 'details'; peer: Peer }
  | { kind: 'delete'; peer: Peer }
  | { kind: 'edit-network' }
  | { kind: 'delete-network' }
  | null;

const SORTS: { value: PeerSort; label: string }[] = [
  { value: 'status', label: 'Status' },
  { value: 'name', label: 'Name' },
  { value: 'address', label: 'Address' },
  { value: 'handshake', label: 'Last handshake' },
  { value: 'transfer', label: 'Transfer' },
  { value: 'rate', label: 'Current rate' },
  { value: 'created', label: 'Created' },
];

export default function NetworkDetail({ params }: { params: Record<string, string> }) {
  const id = Number(params.id);
  const toast = useToast();
  const data = useAsync(async (): Promise<Data> => {
    if (!Number.isInteger(id) || id <= 0) throw new ApiError(404, 'NETWORK_NOT_FOUND', 'There is no such network.');
    const [network, peers, all, status] = await Promise.all([api.networks.get(id), api.peers.list(id), api.networks.list(), api.status().catch(() => null)]);
    if (status) {
      noteStatus(status);
      liveStore.seed(status.peers.filter((s) => s.network_id === id));
    }
    return { network, peers, all, status: status?.networks.find((n) => n.id === id) };
  }, [id]);
  const notFound = data.error instanceof ApiError && data.error.status === 404;
  // The stream is open from the start (a disabled network's too): its `changed` events
  // bring in peers added, removed or edited anywhere (another tab, the CLI).
  useWatchNetworks(Number.isInteger(id) && id > 0 && !notFound ? [id] : []);
  useReloadOnChange(id, data.reload, data.loading);
  const snap = useLive();
  const now = useNow(5000);
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<PeerSort>('status');
  const [dir, setDir] = useState<'asc' | 'desc'>('asc');
  const [dialog, setDialog] = useState<Dialog>(null);
  const [busyPeer, setBusyPeer] = useState<number | null>(null);
  const network = data.data?.network;
  useDocumentTitle(network?.name ?? 'Network');

  const rows = useMemo(() => buildRows(data.data?.peers ?? [], snap.peers, now), [data.data?.peers, snap.peers, now]);
  const shown = useMemo(() => sortRows(rows.filter((r) => matchesSearch(r, search)), sort, dir), [rows, search, sort, dir]);
  const online = rows.filter((r) => r.liveness === 'online').length;
  const liveBytes = rows.reduce((sum, r) => sum + (r.status?.rx_bytes ?? 0) + (r.status?.tx_bytes ?? 0), 0);
  const conn = snap.conn[id];

  const replacePeer = (p: Peer) => data.setData((d) => ({ ...(d as Data), peers: (d as Data).peers.map((x) => (x.id === p.id ? p : x)) }));

  const togglePeer = async (p: Peer) => {
    setBusyPeer(p.id);
    try {
      const res = await api.peers.setEnabled(id, p.id, !p.enabled);
      replacePeer(res && typeof res === 'object' && 'id' in res ? res : { ...p, enabled: !p.enabled });
      toast(`${p.name} ${p.enabled ? 'disabled' : 'enabled'}.`);
    } catch (e) {
      toast(describeError(e), 'bad');
    } finally {
      setBusyPeer(null);
    }
  };

  const toggleNetwork = async () => {
    if (!network) return;
    try {
      await api.networks.setEnabled(id, !network.enabled);
      toast(`${network.name} ${network.enabled ? 'disabled' : 'enabled'}.`);
      data.reload();
    } catch (e) {
      toast(describeError(e), 'bad');
    }
  };

  if (data.loading && !data.data) {
    return (
      <>
        <PageHeader title="Network" />
        <Loading rows={6} />
      </>
    );
  }
  // A reload that failed keeps the rows (StaleNotice below); only a page with nothing to
  // show, or a network that is gone (404), gives the whole page to the error.
  if (notFound || !network || !data.data) {
    return (
      <>
        <PageHeader title={notFound ? 'Network not found' : 'Network'} />
        {notFound ? (
          <EmptyState title="This network does not exist" action={<Link to="/networks" className="btn">All networks</Link>}>
            It may have been deleted.
          </EmptyState>
        ) : (
          <ErrorState error={data.error} onRetry={data.reload} />
        )}
      </>
    );
  }

  const detailsRow = dialog?.kind === 'details' ? rows.find((r) => r.peer.id === dialog.peer.id) : undefined;

  return (
    <>
      <PageHeader
        title={network.name}
        subtitle={
          <>
            <Link to="/networks">Networks</Link> / <span className="mono">{network.interface}</span> · {MODE_LABEL[network.mode]} ·{' '}
            <span className="mono">{network.subnet}</span> · UDP {network.listen_port}
          </>
        }
        actions={
          <>
            <button type="button" className="btn" onClick={() => setDialog({ kind: 'edit-network' })}>
              Edit
            </button>
            <button type="button" className="btn" onClick={() => void toggleNetwork()}>
              {network.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" className="btn btn-danger-ghost" onClick={() => setDialog({ kind: 'delete-network' })}>
              Delete
            </button>
          </>
        }
      />
      <div className="summary-row">
        <NetworkHealth network={network} status={data.data.status} />
        <span>
          <strong data-testid="peers-online">{online}</strong> of {plural(rows.length, 'peer')} online
        </span>
        <span className="muted">server {network.server_address}</span>
        {network.enabled && <LiveIndicator conn={conn} />}
        <button
          type="button"
          className="btn btn-small btn-ghost"
          onClick={() =>
            void copyText(network.public_key).then(
              () => toast('Server public key copied.'),
              (e: unknown) => toast(describeError(e), 'bad'),
            )
          }
        >
          Copy server public key
        </button>
      </div>
      {data.error !== null && <StaleNotice error={data.error} onRetry={data.reload} />}
      {network.enabled && conn !== 'live' && <LiveRefused reason={snap.refused[id]} />}
      {data.data.status?.error && <p className="notice notice-bad">{data.data.status.error}</p>}

      <Card
        title="Peers"
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setDialog({ kind: 'add' })}>
            Add peer
          </button>
        }
      >
        {rows.length === 0 ? (
          <EmptyState
            title="No peers yet"
            action={
              <button type="button" className="btn btn-primary" onClick={() => setDialog({ kind: 'add' })}>
                Add the first peer
              </button>
            }
          >
            A peer is a phone, laptop or site gateway. Adding one gives you a configuration file and a QR code to scan.
          </EmptyState>
        ) : (
          <>
            <div className="toolbar">
              <div className="field field-inline grow">
                <label htmlFor="peer-search" className="visually-hidden">
                  Search peers
                </label>
                <input id="peer-search" type="search" placeholder="Search name, address, key…" value={search} onChange={(e) => setSearch(e.target.value)} />
              </div>
              <div className="field field-inline">
                <label htmlFor="peer-sort">Sort</label>
                <select id="peer-sort" value={sort} onChange={(e) => setSort(e.target.value as PeerSort)}>
                  {SORTS.map((s) => (
                    <option key={s.value} value={s.value}>
                      {s.label}
                    </option>
                  ))}
                </select>
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => setDir((d) => (d === 'asc' ? 'desc' : 'asc'))}
                  aria-label={dir === 'asc' ? 'Ascending; switch to descending' : 'Descending; switch to ascending'}
                >
                  {dir === 'asc' ? '↑' : '↓'}
                </button>
              </div>
            </div>
            {shown.length === 0 ? (
              <p className="muted">No peer matches “{search}”.</p>
            ) : (
              <div className="table-wrap">
                <table className="table responsive peers-table" data-testid="peers-table">
                  <thead>
                    <tr>
                      <th scope="col">
                        <span className="visually-hidden">Status</span>
                      </th>
                      <th scope="col">Name</th>
                      <th scope="col">Address</th>
                      <th scope="col">Last handshake</th>
                      <th scope="col">Received / sent</th>
                      <th scope="col">Rate</th>
                      <th scope="col">
                        <span className="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((r) => {
                      const p = r.peer;
                      const s = r.status;
                      const exp = expiryLabel(p.expires_at, now);
                      return (
                        <tr key={p.id} data-peer={p.name} data-status={r.liveness} className={p.enabled ? '' : 'row-disabled'}>
                          <td className="cell-status" data-label="Status">
                            <StatusDot liveness={r.liveness} />
                            <span className="status-text">{LIVENESS_LABEL[r.liveness]}</span>
                          </td>
                          <td data-label="Name">
                            <button type="button" className="link-button strong" onClick={() => setDialog({ kind: 'details', peer: p })}>
                              {p.name}
                            </button>
                            {p.email && <div className="muted small">{p.email}</div>}
                            {p.role === 'site-gateway' && <Badge tone="info">site gateway</Badge>}
                            {exp && <Badge tone={exp.expired ? 'bad' : 'warn'}>{exp.text}</Badge>}
                          </td>
                          <td data-label="Address" className="mono">
                            {p.address}
                          </td>
                          <td data-label="Last handshake" title={s?.last_handshake ? formatDateTime(s.last_handshake) : undefined}>
                            {relativeTime(s?.last_handshake, now)}
                          </td>
                          <td data-label="Received / sent" className="tabular">
                            {formatBytes(s?.rx_bytes ?? 0)} / {formatBytes(s?.tx_bytes ?? 0)}
                          </td>
                          <td data-label="Rate" className="tabular">
                            ↓ {formatRate(s?.rx_rate ?? 0)} ↑ {formatRate(s?.tx_rate ?? 0)}
                          </td>
                          <td className="row-actions">
                            <button type="button" className="btn btn-small" onClick={() => setDialog({ kind: 'config', peer: p })} aria-label={`Configuration of ${p.name}`}>
                              Config
                            </button>
                            <button type="button" className="btn btn-small" onClick={() => setDialog({ kind: 'edit', peer: p })} aria-label={`Edit ${p.name}`}>
                              Edit
                            </button>
                            <button
                              type="button"
                              className="btn btn-small"
                              onClick={() => void togglePeer(p)}
                              disabled={busyPeer === p.id}
                              aria-label={`${p.enabled ? 'Disable' : 'Enable'} ${p.name}`}
                            >
                              {p.enabled ? 'Disable' : 'Enable'}
                            </button>
                            <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => setDialog({ kind: 'delete', peer: p })} aria-label={`Delete ${p.name}`}>
                              Delete
                            </button>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </Card>

      <Card title="Transfer">
        <StatsChart networkId={id} label={`Transfer of ${network.name}`} liveBytes={liveBytes} />
      </Card>

      {dialog?.kind === 'add' && (
        <Modal title={`Add a peer to ${network.name}`} onClose={() => setDialog(null)} size="lg">
          <PeerForm
            mode={network.mode}
            siblings={data.data.peers}
            submitLabel="Add peer"
            onCancel={() => setDialog(null)}
            save={async (body) => {
              const peer = await api.peers.create(id, body);
              data.setData((d) => ({ ...(d as Data), peers: [...(d as Data).peers, peer] }));
              toast(`Peer ${peer.name} added.`);
              setDialog({ kind: 'config', peer });
            }}
          />
        </Modal>
      )}
      {dialog?.kind === 'edit' && (
        <Modal title={`Edit ${dialog.peer.name}`} onClose={() => setDialog(null)} size="lg">
          <PeerForm
            mode={network.mode}
            peer={dialog.peer}
            siblings={data.data.peers}
            submitLabel="Save"
            onCancel={() => setDialog(null)}
            save={async (body) => {
              if (Object.keys(body).length > 0) {
                const peer = await api.peers.update(id, dialog.peer.id, body);
                replacePeer(peer);
                toast(`Peer ${peer.name} saved.`);
              }
              setDialog(null);
            }}
          />
        </Modal>
      )}
      {dialog?.kind === 'config' && (
        <Modal title={`Configuration of ${dialog.peer.name}`} onClose={() => setDialog(null)} footer={<button type="button" className="btn" onClick={() => setDialog(null)}>Done</button>}>
          <PeerConfig peer={dialog.peer} />
        </Modal>
      )}
      {dialog?.kind === 'details' && (
        <PeerDetails
          peer={dialog.peer}
          row={detailsRow}
          network={network}
          onClose={() => setDialog(null)}
          onConfig={() => setDialog({ kind: 'config', peer: detailsRow?.peer ?? dialog.peer })}
        />
      )}
      {dialog?.kind === 'delete' && (
        <ConfirmDialog
          title={`Delete ${dialog.peer.name}?`}
          confirmLabel="Delete peer"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.peers.remove(id, dialog.peer.id);
            data.setData((d) => ({ ...(d as Data), peers: (d as Data).peers.filter((x) => x.id !== dialog.peer.id) }));
            toast(`Peer ${dialog.peer.name} deleted.`);
          }}
        >
          <p>
            Its key is removed from <span className="mono">{network.interface}</span> at once and the device loses access. Its address{' '}
            <span className="mono">{dialog.peer.address}</span> becomes free. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
      {dialog?.kind === 'edit-network' && (
        <Modal title={`Edit ${network.name}`} onClose={() => setDialog(null)} size="lg">
          <NetworkForm
            initial={valuesOf(network)}
            existing={data.data.all}
            network={network}
            save={(body) => api.networks.update(id, body)}
            onSaved={(n) => {
              setDialog(null);
              toast(`Network ${n.name} saved.`);
              data.reload();
            }}
            onCancel={() => setDialog(null)}
            submitLabel="Save"
          />
        </Modal>
      )}
      {dialog?.kind === 'delete-network' && (
        <ConfirmDialog
          title={`Delete ${network.name}?`}
          confirmLabel="Delete network"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.networks.remove(id);
            toast(`Network ${network.name} deleted.`);
            navigate('/networks');
          }}
        >
          <p>
            The interface <span className="mono">{network.interface}</span> goes down and its {plural(rows.length, 'peer')} are deleted. This cannot be
            undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
