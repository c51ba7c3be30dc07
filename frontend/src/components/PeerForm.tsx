// Create or edit a peer. Used by the network page and by wizard step 4.

import type { PeerInput } from '../lib/api';
import { fromLocalInput, toLocalInput } from '../lib/format';
import { useForm } from '../lib/form';
import { useReportValue } from '../lib/hooks';
import type { Mode, Peer, Role } from '../lib/types';
import { checkCidrList, checkEmail, checkEndpoint, checkKeepalive, checkName, checkWgKey, collect, splitList, toInt } from '../lib/validate';
import { CheckField, ChoiceField, FormErrors, SelectField, TextAreaField, TextField } from './fields';

export interface PeerValues extends Record<string, unknown> {
  name: string;
  email: string;
  role: Role;
  tunnel: 'full' | 'split';
  client_allowed_ips: string;
  site_networks: string;
  persistent_keepalive: string;
  endpoint: string;
  own_key: boolean;
  public_key: string;
  preshared_key: boolean;
  expires_at: string;
  enabled: boolean;
}

export function peerDefaults(name = ''): PeerValues {
  return {
    name,
    email: '',
    role: 'client',
    tunnel: 'full',
    client_allowed_ips: '',
    site_networks: '',
    persistent_keepalive: '',
    endpoint: '',
    own_key: false,
    public_key: '',
    // The server's default (domain/models.py DEFAULT_PRESHARED_KEY, published as the
    // "default" of PeerCreate.preshared_key in /api/openapi.json); a browser test holds them equal.
    preshared_key: true,
    expires_at: '',
    enabled: true,
  };
}

export function peerValuesOf(p: Peer): PeerValues {
  return {
    name: p.name,
    email: p.email ?? '',
    role: p.role,
    tunnel: p.client_allowed_ips.length ? 'split' : 'full',
    client_allowed_ips: p.client_allowed_ips.join(', '),
    site_networks: p.site_networks.join(', '),
    persistent_keepalive: p.persistent_keepalive === null ? '' : String(p.persistent_keepalive),
    endpoint: p.endpoint ?? '',
    own_key: !p.has_private_key,
    public_key: '',
    preshared_key: p.preshared_key,
    expires_at: toLocalInput(p.expires_at),
    enabled: p.enabled,
  };
}

export function validatePeer(v: PeerValues, opts: { creating: boolean; siblings?: readonly Peer[]; selfId?: number; now?: number }): Record<string, string> {
  const errs = collect({
    name: checkName(v.name.trim()),
    email: checkEmail(v.email),
    client_allowed_ips: v.tunnel === 'split' ? checkCidrList(v.client_allowed_ips, { required: true }) : null,
    site_networks: v.role === 'site-gateway' ? checkCidrList(v.site_networks, { required: true }) : null,
    persistent_keepalive: checkKeepalive(v.persistent_keepalive),
    endpoint: checkEndpoint(v.endpoint),
    public_key: opts.creating && v.own_key ? checkWgKey(v.public_key, false) : null,
  });
  if (v.expires_at) {
    const ts = fromLocalInput(v.expires_at);
    const now = opts.now ?? Date.now() / 1000;
    if (ts === null) errs.expires_at = 'Not a valid date.';
    else if (ts <= now) errs.expires_at = 'Must be in the future.';
  }
  if (!errs.name && opts.siblings?.some((p) => p.id !== opts.selfId && p.name.toLowerCase() === v.name.trim().toLowerCase()))
    errs.name = 'Another peer in this network has this name.';
  return errs;
}

export function peerBody(v: PeerValues, before?: Peer): PeerInput {
  const full: PeerInput = {
    name: v.name.trim(),
    email: v.email.trim() || null,
    role: v.role,
    client_allowed_ips: v.tunnel === 'split' ? splitList(v.client_allowed_ips) : [],
    site_networks: v.role === 'site-gateway' ? splitList(v.site_networks) : [],
    persistent_keepalive: toInt(v.persistent_keepalive),
    endpoint: v.endpoint.trim() || null,
    expires_at: fromLocalInput(v.expires_at),
  };
  if (!before) {
    const body: PeerInput = { ...full, preshared_key: v.preshared_key };
    if (v.own_key) body.public_key = v.public_key.trim();
    // Optional values left empty are simply not sent on create.
    for (const k of ['email', 'persistent_keepalive', 'endpoint', 'expires_at'] as const) if (body[k] === null) delete body[k];
    if (body.site_networks?.length === 0) delete body.site_networks;
    return body;
  }
  const prev: PeerInput = {
    name: before.name,
    email: before.email,
    role: before.role,
    client_allowed_ips: before.client_allowed_ips,
    site_networks: before.site_networks,
    persistent_keepalive: before.persistent_keepalive,
    endpoint: before.endpoint,
    expires_at: before.expires_at,
  };
  const out: PeerInput = {};
  for (const k of Object.keys(full) as (keyof PeerInput)[]) {
    if (JSON.stringify(full[k]) !== JSON.stringify(prev[k])) (out as Record<string, unknown>)[k] = full[k];
  }
  if (v.enabled !== before.enabled) out.enabled = v.enabled;
  return out;
}

interface Props {
  mode: Mode;
  peer?: Peer;
  siblings?: readonly Peer[];
  initial?: PeerValues;
  save: (body: PeerInput) => Promise<void>;
  onCancel?: () => void;
  /** the label of the onCancel button (the wizard's "Back") */
  cancelLabel?: string;
  /** every change of the values (the wizard keeps them when the user goes back) */
  onValues?: (values: PeerValues) => void;
  submitLabel: string;
  /** the wizard keeps it short: no advanced section */
  simple?: boolean;
}

export function PeerForm({ mode, peer, siblings, initial, save, onCancel, cancelLabel = 'Cancel', onValues, submitLabel, simple = false }: Props) {
  const creating = !peer;
  const form = useForm<PeerValues>(initial ?? (peer ? peerValuesOf(peer) : peerDefaults()), (v) =>
    validatePeer(v, { creating, siblings, selfId: peer?.id }),
  );
  const { values: v, errors } = form;
  useReportValue(v, onValues);
  const tunnelOptions =
    mode === 'gateway'
      ? [
          { value: 'full' as const, label: 'Full tunnel', description: 'All of the device’s traffic goes through the VPN.' },
          { value: 'split' as const, label: 'Split tunnel', description: 'Only the networks you list go through the VPN.' },
        ]
      : [
          { value: 'full' as const, label: 'Network routes', description: 'The VPN subnet and the networks of the other sites.' },
          { value: 'split' as const, label: 'Custom routes', description: 'Only the networks you list.' },
        ];

  const onSubmit = form.submit(async (vals) => {
    await save(peerBody(vals, peer));
  });

  const advancedHasError = Boolean(errors.persistent_keepalive || errors.endpoint || errors.expires_at || errors.public_key || errors.email || errors.preshared_key);

  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack" data-testid="peer-form">
      <FormErrors messages={form.general} />
      <TextField label="Name" field="name" value={v.name} onValue={(x) => form.set('name', x)} error={errors.name} maxLength={64} hint="e.g. Anna's phone" required />
      {(mode === 'site-to-site' || v.role === 'site-gateway') && (
        <SelectField
          label="Role"
          field="role"
          value={v.role}
          onValue={(x) => form.set('role', x as Role)}
          error={errors.role}
          options={[
            { value: 'client', label: 'Client device' },
            { value: 'site-gateway', label: 'Site gateway (routes a LAN)' },
          ]}
        />
      )}
      {v.role === 'site-gateway' && (
        <TextAreaField
          label="Networks behind this gateway"
          field="site_networks"
          value={v.site_networks}
          onValue={(x) => form.set('site_networks', x)}
          error={errors.site_networks}
          hint="CIDRs separated by commas, e.g. 192.168.10.0/24"
          rows={2}
          spellCheck={false}
        />
      )}
      <ChoiceField<'full' | 'split'> label="Routing" field="tunnel" value={v.tunnel} onValue={(x) => form.set('tunnel', x)} error={errors.tunnel} options={tunnelOptions} />
      {v.tunnel === 'split' && (
        <TextAreaField
          label="Networks to route through the VPN"
          field="client_allowed_ips"
          value={v.client_allowed_ips}
          onValue={(x) => form.set('client_allowed_ips', x)}
          error={errors.client_allowed_ips}
          hint="CIDRs separated by commas, e.g. 10.8.0.0/24, 192.168.1.0/24"
          rows={2}
          spellCheck={false}
        />
      )}
      {peer && <CheckField label="Enabled" field="enabled" checked={v.enabled} onChecked={(x) => form.set('enabled', x)} error={errors.enabled} />}
      {!simple && (
        <details className="advanced" open={advancedHasError}>
          <summary>Advanced</summary>
          <div className="stack">
            <TextField label="E-mail (optional)" field="email" type="email" value={v.email} onValue={(x) => form.set('email', x)} error={errors.email} autoComplete="off" />
            {mode !== 'site-to-site' && v.role !== 'site-gateway' && (
              <SelectField
                label="Role"
                field="role"
                value={v.role}
                onValue={(x) => form.set('role', x as Role)}
                error={errors.role}
                options={[
                  { value: 'client', label: 'Client device' },
                  { value: 'site-gateway', label: 'Site gateway (routes a LAN)' },
                ]}
              />
            )}
            <div className="grid-2">
              <TextField
                label="Keepalive (seconds)"
                field="persistent_keepalive"
                value={v.persistent_keepalive}
                onValue={(x) => form.set('persistent_keepalive', x)}
                error={errors.persistent_keepalive}
                hint="Empty: default (25). 0: off."
                inputMode="numeric"
              />
              <TextField
                label="Expires (optional)"
                field="expires_at"
                type="datetime-local"
                value={v.expires_at}
                onValue={(x) => form.set('expires_at', x)}
                error={errors.expires_at}
                hint="Disabled automatically after this."
              />
            </div>
            <TextField
              label="Endpoint (optional)"
              field="endpoint"
              value={v.endpoint}
              onValue={(x) => form.set('endpoint', x)}
              error={errors.endpoint}
              hint="host:port where the server can reach this peer (site gateways with a fixed address)."
              spellCheck={false}
              autoCapitalize="none"
            />
            {creating && (
              <>
                <CheckField
                  label="The device brings its own key pair"
                  field="own_key"
                  checked={v.own_key}
                  onChecked={(x) => form.set('own_key', x)}
                  hint="wgpilot then keeps no private key; you fill it into the configuration yourself."
                />
                {v.own_key && (
                  <TextField
                    label="Public key of the device"
                    field="public_key"
                    value={v.public_key}
                    onValue={(x) => form.set('public_key', x)}
                    error={errors.public_key}
                    spellCheck={false}
                    autoCapitalize="none"
                    className="field-mono"
                  />
                )}
                <CheckField
                  label="Add a preshared key (extra post-quantum protection)"
                  field="preshared_key"
                  checked={v.preshared_key}
                  onChecked={(x) => form.set('preshared_key', x)}
                  error={errors.preshared_key}
                />
              </>
            )}
          </div>
        </details>
      )}
      <div className="form-actions">
        {onCancel && (
          <button type="button" className="btn" onClick={onCancel} disabled={form.busy}>
            {cancelLabel}
          </button>
        )}
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : submitLabel}
        </button>
      </div>
    </form>
  );
}
