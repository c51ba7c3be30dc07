import { useState } from 'react';
import { CheckField, FormErrors, SelectField, TextAreaField } from '../components/fields';
import { ConfirmDialog, Modal } from '../components/Modal';
import { useToast } from '../components/Toast';
import { Badge, EmptyState, ErrorState, Loading, PageHeader } from '../components/ui';
import { api } from '../lib/api';
import { describeError } from '../lib/errors';
import { useForm } from '../lib/form';
import { useAsync, useDocumentTitle } from '../lib/hooks';
import { Link } from '../lib/router';
import type { Bridge, Direction, Network } from '../lib/types';
import { checkCidrList, collect, splitList } from '../lib/validate';

export function directionLabel(d: Direction, a: string, b: string): string {
  if (d === 'a_to_b') return `${a} → ${b}`;
  if (d === 'b_to_a') return `${b} → ${a}`;
  return `${a} ↔ ${b}`;
}

interface BridgeValues extends Record<string, unknown> {
  network_a_id: string;
  network_b_id: string;
  direction: Direction;
  allowed_cidrs: string;
  enabled: boolean;
}

export function validateBridge(v: BridgeValues, bridges: readonly Bridge[], selfId?: number): Record<string, string> {
  const errs = collect({
    network_a_id: v.network_a_id ? null : 'Choose a network.',
    network_b_id: !v.network_b_id ? 'Choose a network.' : v.network_b_id === v.network_a_id ? 'Choose two different networks.' : null,
    allowed_cidrs: checkCidrList(v.allowed_cidrs),
  });
  if (!errs.network_a_id && !errs.network_b_id) {
    const a = Number(v.network_a_id);
    const b = Number(v.network_b_id);
    const dup = bridges.find((x) => x.id !== selfId && ((x.network_a_id === a && x.network_b_id === b) || (x.network_a_id === b && x.network_b_id === a)));
    if (dup) errs.network_b_id = 'These two networks are already bridged; edit that bridge instead.';
  }
  return errs;
}

function BridgeForm({ networks, bridges, bridge, onDone, onCancel }: { networks: Network[]; bridges: Bridge[]; bridge?: Bridge; onDone: () => void; onCancel: () => void }) {
  const form = useForm<BridgeValues>(
    bridge
      ? {
          network_a_id: String(bridge.network_a_id),
          network_b_id: String(bridge.network_b_id),
          direction: bridge.direction,
          allowed_cidrs: bridge.allowed_cidrs.join(', '),
          enabled: bridge.enabled,
        }
      : { network_a_id: String(networks[0]?.id ?? ''), network_b_id: String(networks[1]?.id ?? ''), direction: 'bidirectional', allowed_cidrs: '', enabled: true },
    (v) => validateBridge(v, bridges, bridge?.id),
  );
  const { values: v, errors } = form;
  const name = (id: string) => networks.find((n) => String(n.id) === id)?.name ?? 'A';
  const options = networks.map((n) => ({ value: String(n.id), label: `${n.name} (${n.subnet})` }));
  const onSubmit = form.submit(async (vals) => {
    // The two networks of a bridge are fixed once it exists (PUT does not take them).
    const common = { direction: vals.direction, allowed_cidrs: splitList(vals.allowed_cidrs), enabled: vals.enabled };
    if (bridge) await api.bridges.update(bridge.id, common);
    else await api.bridges.create({ network_a_id: Number(vals.network_a_id), network_b_id: Number(vals.network_b_id), ...common });
    onDone();
  });
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      <FormErrors messages={form.general} />
      <div className="grid-2">
        <SelectField label="Network A" field="network_a_id" value={v.network_a_id} onValue={(x) => form.set('network_a_id', x)} options={options} error={errors.network_a_id} disabled={!!bridge} />
        <SelectField label="Network B" field="network_b_id" value={v.network_b_id} onValue={(x) => form.set('network_b_id', x)} options={options} error={errors.network_b_id} disabled={!!bridge} />
      </div>
      <SelectField
        label="Traffic may start from"
        field="direction"
        value={v.direction}
        onValue={(x) => form.set('direction', x as Direction)}
        error={errors.direction}
        options={[
          { value: 'bidirectional', label: `Both sides (${directionLabel('bidirectional', name(v.network_a_id), name(v.network_b_id))})` },
          { value: 'a_to_b', label: `A only (${directionLabel('a_to_b', name(v.network_a_id), name(v.network_b_id))})` },
          { value: 'b_to_a', label: `B only (${directionLabel('b_to_a', name(v.network_a_id), name(v.network_b_id))})` },
        ]}
        hint="Replies always flow back; this decides who may open connections."
      />
      <TextAreaField
        label="Only these destinations (optional)"
        field="allowed_cidrs"
        value={v.allowed_cidrs}
        onValue={(x) => form.set('allowed_cidrs', x)}
        error={errors.allowed_cidrs}
        hint="CIDRs separated by commas. Empty: the whole other network."
        rows={2}
        spellCheck={false}
      />
      <CheckField label="Enabled" field="enabled" checked={v.enabled} onChecked={(x) => form.set('enabled', x)} error={errors.enabled} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onCancel} disabled={form.busy}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : bridge ? 'Save' : 'Create bridge'}
        </button>
      </div>
    </form>
  );
}

export default function Bridges() {
  useDocumentTitle('Bridges');
  const toast = useToast();
  const data = useAsync(async () => {
    const [bridges, networks] = await Promise.all([api.bridges.list(), api.networks.list()]);
    return { bridges, networks };
  }, []);
  const [editing, setEditing] = useState<Bridge | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Bridge | null>(null);
  const networks = data.data?.networks ?? [];
  const bridges = data.data?.bridges ?? [];
  const netName = (id: number) => networks.find((n) => n.id === id)?.name ?? `network ${id}`;
  const canCreate = networks.length >= 2;

  const toggle = async (b: Bridge) => {
    try {
      await api.bridges.update(b.id, { enabled: !b.enabled });
      toast(`Bridge ${b.enabled ? 'disabled' : 'enabled'}.`);
      data.reload();
    } catch (e) {
      toast(describeError(e), 'bad');
    }
  };

  return (
    <>
      <PageHeader
        title="Bridges"
        subtitle="Let two networks reach each other, in one or both directions."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} disabled={!canCreate}>
            New bridge
          </button>
        }
      />
      {data.loading && !data.data ? (
        <Loading rows={3} />
      ) : data.error ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : bridges.length === 0 ? (
        <EmptyState
          title="No bridges"
          action={
            canCreate ? (
              <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
                Bridge two networks
              </button>
            ) : (
              <Link to="/networks" className="btn">
                Networks
              </Link>
            )
          }
        >
          {canCreate ? 'Networks are isolated from each other until you bridge them.' : 'A bridge joins two networks; create a second network first.'}
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Networks</th>
                <th scope="col">Destinations</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {bridges.map((b) => (
                <tr key={b.id}>
                  <td data-label="Networks" className="strong">
                    {directionLabel(b.direction, netName(b.network_a_id), netName(b.network_b_id))}
                  </td>
                  <td data-label="Destinations" className="mono">
                    {b.allowed_cidrs.length ? b.allowed_cidrs.join(', ') : 'everything'}
                  </td>
                  <td data-label="State">{b.enabled ? <Badge tone="ok">enabled</Badge> : <Badge>disabled</Badge>}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" onClick={() => setEditing(b)}>
                      Edit
                    </button>
                    <button type="button" className="btn btn-small" onClick={() => void toggle(b)}>
                      {b.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => setDeleting(b)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <Modal title={editing === 'new' ? 'New bridge' : 'Edit bridge'} onClose={() => setEditing(null)}>
          <BridgeForm
            networks={networks}
            bridges={bridges}
            bridge={editing === 'new' ? undefined : editing}
            onCancel={() => setEditing(null)}
            onDone={() => {
              toast(editing === 'new' ? 'Bridge created.' : 'Bridge saved.');
              setEditing(null);
              data.reload();
            }}
          />
        </Modal>
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this bridge?"
          confirmLabel="Delete bridge"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.bridges.remove(deleting.id);
            toast('Bridge deleted.');
            data.reload();
          }}
        >
          <p>
            {netName(deleting.network_a_id)} and {netName(deleting.network_b_id)} can no longer reach each other. Open connections between them break.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
