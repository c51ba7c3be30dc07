// Create or edit a network. Used by the networks pages and by wizard step 3.

import { CheckField, ChoiceField, FormErrors, TextAreaField, TextField } from './fields';
import type { NetworkInput } from '../lib/api';
import { useForm } from '../lib/form';
import { useReportValue } from '../lib/hooks';
import { MODE_HELP, MODE_LABEL, overlappingNetwork, peerCapacity, portOwner, suggestInterface, suggestPort, suggestSubnet } from '../lib/networks';
import type { Mode, Network } from '../lib/types';
import { checkDnsList, checkInterface, checkMtu, checkName, checkPort, checkSubnet, checkSubnet6, collect, splitList, toInt } from '../lib/validate';

export interface NetworkValues extends Record<string, unknown> {
  name: string;
  mode: Mode;
  subnet: string;
  subnet6: string;
  listen_port: string;
  dns_servers: string;
  mtu: string;
  nat_enabled: boolean;
  inter_peer_routing: boolean;
  /** create only: empty lets the server pick (wg0, wg1, …) */
  interface: string;
}

export function networkDefaults(existing: readonly Network[], defaultDns: string[] = []): NetworkValues {
  return {
    name: existing.length === 0 ? 'home' : '',
    mode: 'gateway',
    subnet: suggestSubnet(existing),
    subnet6: '',
    listen_port: String(suggestPort(existing)),
    dns_servers: defaultDns.join(', '),
    mtu: '',
    nat_enabled: true,
    inter_peer_routing: false,
    interface: '',
  };
}

export function valuesOf(n: Network): NetworkValues {
  return {
    name: n.name,
    mode: n.mode,
    subnet: n.subnet,
    subnet6: n.subnet6 ?? '',
    listen_port: String(n.listen_port),
    dns_servers: n.dns_servers.join(', '),
    mtu: n.mtu === null ? '' : String(n.mtu),
    nat_enabled: n.nat_enabled,
    inter_peer_routing: n.inter_peer_routing,
    interface: n.interface,
  };
}

export function validateNetwork(v: NetworkValues, others: readonly Network[], selfId?: number): Record<string, string> {
  const errs = collect({
    name: checkName(v.name.trim()),
    subnet: checkSubnet(v.subnet),
    subnet6: v.subnet6.trim() ? checkSubnet6(v.subnet6, v.subnet) : null,
    listen_port: checkPort(v.listen_port),
    dns_servers: checkDnsList(v.dns_servers),
    mtu: checkMtu(v.mtu),
  });
  if (!errs.subnet) {
    const clash = overlappingNetwork(v.subnet.trim(), others, selfId);
    if (clash) errs.subnet = `Overlaps network “${clash.name}” (${clash.subnet}).`;
  }
  if (!errs.subnet6 && v.subnet6.trim()) {
    const clash = overlappingNetwork(v.subnet6.trim(), others, selfId);
    if (clash) errs.subnet6 = `Overlaps network “${clash.name}”.`;
  }
  if (!errs.listen_port) {
    const owner = portOwner(Number(v.listen_port), others, selfId);
    if (owner) errs.listen_port = `Port ${v.listen_port} is used by network “${owner.name}”.`;
  }
  if (!errs.name && others.some((n) => n.id !== selfId && n.name.toLowerCase() === v.name.trim().toLowerCase()))
    errs.name = 'Another network has this name.';
  // The interface is chosen once, on create; an edit never sends it.
  const iface = v.interface.trim();
  if (selfId === undefined && iface) {
    const bad = checkInterface(iface);
    if (bad) errs.interface = bad;
    else {
      const owner = others.find((n) => n.interface === iface);
      if (owner) errs.interface = `Network “${owner.name}” uses ${iface}.`;
    }
  }
  return errs;
}

/** The request body: everything for a create, only what changed for an edit. */
export function networkBody(v: NetworkValues, before?: Network): NetworkInput {
  const full: NetworkInput = {
    name: v.name.trim(),
    mode: v.mode,
    subnet: v.subnet.trim(),
    subnet6: v.subnet6.trim() || null,
    listen_port: Number(v.listen_port),
    dns_servers: splitList(v.dns_servers),
    mtu: toInt(v.mtu),
    nat_enabled: v.nat_enabled,
    inter_peer_routing: v.inter_peer_routing,
  };
  if (!before) {
    // Leave optional fields out rather than sending nulls the server may not expect on create.
    if (full.subnet6 === null) delete full.subnet6;
    if (full.mtu === null) delete full.mtu;
    if (v.interface.trim()) full.interface = v.interface.trim();
    return full;
  }
  const out: NetworkInput = {};
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const prev: NetworkInput = {
    name: before.name,
    mode: before.mode,
    subnet: before.subnet,
    subnet6: before.subnet6,
    listen_port: before.listen_port,
    dns_servers: before.dns_servers,
    mtu: before.mtu,
    nat_enabled: before.nat_enabled,
    inter_peer_routing: before.inter_peer_routing,
  };
  for (const k of Object.keys(full) as (keyof NetworkInput)[]) {
    if (!same(full[k], prev[k])) (out as Record<string, unknown>)[k] = full[k];
  }
  return out;
}

interface Props {
  initial: NetworkValues;
  existing: readonly Network[];
  network?: Network;
  save: (body: NetworkInput) => Promise<Network>;
  onSaved: (n: Network) => void;
  onCancel?: () => void;
  /** the label of the onCancel button (the wizard's "Back") */
  cancelLabel?: string;
  /** every change of the values (the wizard keeps them when the user goes back) */
  onValues?: (values: NetworkValues) => void;
  submitLabel: string;
  /** inside a modal the buttons sit in the footer style */
  compact?: boolean;
  /** interface names in use on the host besides the networks' (the placeholder's guess avoids them) */
  takenInterfaces?: readonly string[];
}

export function NetworkForm({ initial, existing, network, save, onSaved, onCancel, cancelLabel = 'Cancel', onValues, submitLabel, takenInterfaces = [] }: Props) {
  const form = useForm<NetworkValues>(initial, (v) => validateNetwork(v, existing, network?.id));
  const { values: v, errors } = form;
  useReportValue(v, onValues);
  const capacity = peerCapacity(v.subnet.trim());

  const onSubmit = form.submit(async (vals) => {
    const body = networkBody(vals, network);
    if (network && Object.keys(body).length === 0) {
      onSaved(network);
      return;
    }
    onSaved(await save(body));
  });

  const setMode = (m: Mode) => {
    form.set('mode', m);
    if (!network) form.set('nat_enabled', m === 'gateway');
  };

  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack" data-testid="network-form">
      <FormErrors messages={form.general} />
      <TextField label="Name" field="name" value={v.name} onValue={(x) => form.set('name', x)} error={errors.name} maxLength={64} required />
      <ChoiceField<Mode>
        label="Mode"
        field="mode"
        value={v.mode}
        onValue={setMode}
        error={errors.mode}
        options={(['gateway', 'site-to-site', 'hub-routed'] as Mode[]).map((m) => ({ value: m, label: MODE_LABEL[m], description: MODE_HELP[m] }))}
      />
      <div className="grid-2">
        <TextField
          label="Subnet (IPv4)"
          field="subnet"
          value={v.subnet}
          onValue={(x) => form.set('subnet', x)}
          error={errors.subnet}
          hint={capacity !== null && !errors.subnet ? `Room for ${capacity} peers.` : 'e.g. 10.8.0.0/24'}
          spellCheck={false}
          autoCapitalize="none"
          inputMode="decimal"
          required
        />
        <TextField
          label="Listen port (UDP)"
          field="listen_port"
          value={v.listen_port}
          onValue={(x) => form.set('listen_port', x)}
          error={errors.listen_port}
          inputMode="numeric"
          required
        />
      </div>
      {network && network.subnet !== v.subnet.trim() && !errors.subnet && (
        <p className="notice notice-warn">Changing the subnet renumbers every peer: all their configurations must be downloaded again.</p>
      )}
      <CheckField
        label="NAT (masquerade peer traffic leaving the server)"
        field="nat_enabled"
        checked={v.nat_enabled}
        onChecked={(x) => form.set('nat_enabled', x)}
        error={errors.nat_enabled}
        hint={v.mode === 'gateway' ? 'Needed for internet access through the server in most setups.' : 'Usually off in this mode.'}
      />
      <details className="advanced" open={Boolean(errors.subnet6 || errors.dns_servers || errors.mtu || errors.inter_peer_routing || errors.interface)}>
        <summary>Advanced</summary>
        <div className="stack">
          {!network && (
            <TextField
              label="Interface (optional)"
              field="interface"
              value={v.interface}
              onValue={(x) => form.set('interface', x)}
              error={errors.interface}
              placeholder={suggestInterface(existing, takenInterfaces)}
              hint={`Empty: wgpilot picks the first free name (${suggestInterface(existing, takenInterfaces)} here, unless the server finds it taken). Up to 15 letters, digits and _ = + . -; it cannot be changed later.`}
              spellCheck={false}
              autoCapitalize="none"
              autoComplete="off"
              className="field-mono"
            />
          )}
          <TextField
            label="Subnet (IPv6, optional)"
            field="subnet6"
            value={v.subnet6}
            onValue={(x) => form.set('subnet6', x)}
            error={errors.subnet6}
            hint="e.g. fd00:8::/64"
            spellCheck={false}
            autoCapitalize="none"
          />
          <TextAreaField
            label="DNS servers for peers"
            field="dns_servers"
            value={v.dns_servers}
            onValue={(x) => form.set('dns_servers', x)}
            error={errors.dns_servers}
            hint="IP addresses or search domains, separated by commas. Empty: peer configurations get no DNS line (peers keep their own resolver)."
            rows={2}
            spellCheck={false}
          />
          <TextField label="MTU (optional)" field="mtu" value={v.mtu} onValue={(x) => form.set('mtu', x)} error={errors.mtu} hint="1280–9000; empty for automatic." inputMode="numeric" />
          <CheckField
            label="Peers may reach each other"
            field="inter_peer_routing"
            checked={v.inter_peer_routing}
            onChecked={(x) => form.set('inter_peer_routing', x)}
            error={errors.inter_peer_routing}
          />
        </div>
      </details>
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
