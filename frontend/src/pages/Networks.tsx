import { useEffect, useState } from 'react';
import { ConfirmDialog, Modal } from '../components/Modal';
import { NetworkForm, networkDefaults, valuesOf } from '../components/NetworkForm';
import { useToast } from '../components/Toast';
import { Badge, EmptyState, ErrorState, Loading, PageHeader, StaleNotice } from '../components/ui';
import { api } from '../lib/api';
import { describeError } from '../lib/errors';
import { formatBytes, plural } from '../lib/format';
import { noteStatus } from '../lib/health';
import { useAsync, useDocumentTitle, useReloadOnChange, useWatchAllNetworks } from '../lib/hooks';
import { ALL_NETWORKS } from '../lib/live';
import { MODE_LABEL } from '../lib/networks';
import { Link, navigate, useLocation } from '../lib/router';
import type { Network, NetworkStatus, Settings } from '../lib/types';

interface Data {
  networks: Network[];
  status: Map<number, NetworkStatus>;
  defaultDns: string[];
  /** WireGuard interfaces on the host that no network owns */
  foreign: string[];
}

async function load(): Promise<Data> {
  const [networks, status, settings] = await Promise.all([
    api.networks.list(),
    api.status().catch(() => null),
    api.settings.get().catch(() => null as Settings | null),
  ]);
  if (status) noteStatus(status);
  return {
    networks,
    status: new Map((status?.networks ?? []).map((s) => [s.id, s])),
    defaultDns: settings?.default_dns ?? [],
    foreign: status?.foreign_interfaces ?? [],
  };
}

export function NetworkHealth({ network, status }: { network: Network; status?: NetworkStatus }) {
  if (!network.enabled) return <Badge>disabled</Badge>;
  if (!status) return <Badge tone="neutral">unknown</Badge>;
  if (!status.interface_present) return <Badge tone="bad">interface missing</Badge>;
  if (!status.interface_up) return <Badge tone="bad">interface down</Badge>;
  if (!status.healthy) return <Badge tone="warn">degraded</Badge>;
  return <Badge tone="ok">up</Badge>;
}

export default function Networks() {
  useDocumentTitle('Networks');
  const toast = useToast();
  const loc = useLocation();
  const data = useAsync(load, []);
  // Networks and their peer counts change from other tabs and the CLI too: the one
  // stream for every network says when, and the list is read again.
  useWatchAllNetworks();
  useReloadOnChange(ALL_NETWORKS, data.reload, data.loading);
  const [editing, setEditing] = useState<Network | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Network | null>(null);
  const [toggling, setToggling] = useState<number | null>(null);

  // /networks?create=1 (from the dashboard's empty state) opens the form.
  useEffect(() => {
    if (loc.query.get('create') === '1') {
      setEditing('new');
      navigate('/networks', { replace: true });
    }
  }, [loc.query]);

  const networks = data.data?.networks ?? [];

  const toggle = async (n: Network) => {
    setToggling(n.id);
    try {
      const updated = await api.networks.setEnabled(n.id, !n.enabled);
      data.setData((d) => ({ ...(d as Data), networks: (d as Data).networks.map((x) => (x.id === n.id ? { ...x, ...(updated ?? {}), enabled: !n.enabled } : x)) }));
      toast(`${n.name} ${n.enabled ? 'disabled' : 'enabled'}.`);
      data.reload();
    } catch (e) {
      toast(describeError(e), 'bad');
    } finally {
      setToggling(null);
    }
  };

  return (
    <>
      <PageHeader
        title="Networks"
        subtitle="Each network is one WireGuard interface with its own subnet, port and peers."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} disabled={!data.data}>
            New network
          </button>
        }
      />
      {data.data && data.error !== null && <StaleNotice error={data.error} onRetry={data.reload} />}
      {data.loading && !data.data ? (
        <Loading rows={4} />
      ) : !data.data ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : networks.length === 0 ? (
        <EmptyState
          title="No networks yet"
          action={
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
              Create a network
            </button>
          }
        >
          Create a network to start adding peers.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table responsive" data-testid="networks-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">State</th>
                <th scope="col">Mode</th>
                <th scope="col">Subnet</th>
                <th scope="col">Port</th>
                <th scope="col">Peers</th>
                <th scope="col">Transfer</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {networks.map((n) => {
                const s = data.data?.status.get(n.id);
                return (
                  <tr key={n.id} data-network={n.name}>
                    <td data-label="Name">
                      <Link to={`/networks/${n.id}`} className="strong">
                        {n.name}
                      </Link>
                      <div className="muted small mono">{n.interface}</div>
                    </td>
                    <td data-label="State">
                      <NetworkHealth network={n} status={s} />
                    </td>
                    <td data-label="Mode">{MODE_LABEL[n.mode]}</td>
                    <td data-label="Subnet" className="mono">
                      {n.subnet}
                      {n.subnet6 && <div className="small">{n.subnet6}</div>}
                    </td>
                    <td data-label="Port" className="tabular">
                      {n.listen_port}
                    </td>
                    <td data-label="Peers" className="tabular">
                      {s ? `${s.peers_online} / ${s.peers_total} online` : '—'}
                    </td>
                    <td data-label="Transfer" className="tabular">
                      {s ? formatBytes(s.rx_bytes + s.tx_bytes) : '—'}
                    </td>
                    <td className="row-actions">
                      <button type="button" className="btn btn-small" onClick={() => setEditing(n)}>
                        Edit
                      </button>
                      <button type="button" className="btn btn-small" onClick={() => void toggle(n)} disabled={toggling === n.id}>
                        {n.enabled ? 'Disable' : 'Enable'}
                      </button>
                      <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => setDeleting(n)}>
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

      {editing && data.data && (
        <Modal title={editing === 'new' ? 'New network' : `Edit ${editing.name}`} onClose={() => setEditing(null)} size="lg">
          <NetworkForm
            initial={editing === 'new' ? networkDefaults(networks, data.data.defaultDns) : valuesOf(editing)}
            existing={networks}
            takenInterfaces={data.data.foreign}
            network={editing === 'new' ? undefined : editing}
            save={(body) => (editing === 'new' ? api.networks.create(body) : api.networks.update(editing.id, body))}
            onSaved={(n) => {
              setEditing(null);
              toast(editing === 'new' ? `Network ${n.name} created.` : `Network ${n.name} saved.`);
              if (editing === 'new') navigate(`/networks/${n.id}`);
              else data.reload();
            }}
            onCancel={() => setEditing(null)}
            submitLabel={editing === 'new' ? 'Create network' : 'Save'}
          />
        </Modal>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete network"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.networks.remove(deleting.id);
            toast(`Network ${deleting.name} deleted.`);
            data.reload();
          }}
        >
          <p>
            The interface <span className="mono">{deleting.interface}</span> goes down and{' '}
            {data.data?.status.get(deleting.id) ? plural(data.data.status.get(deleting.id)?.peers_total ?? 0, 'peer') : 'all its peers'} are deleted with
            it. Their configurations stop working. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
