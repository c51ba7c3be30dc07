// First run (SPEC §8): admin → server identity → first network → first peer.
// Every step is idempotent on the server; a closed browser comes back to the
// first incomplete step (`next_step` of /api/setup/status).
//
// Every step after the first has a Back button. What was typed into a step is kept
// when the user goes back and forth (the wizard holds each form's values). A step
// that already made something on the server (the administrator, the first network,
// the first peer) shows what exists when it is visited again, with Continue: it is
// never made a second time. The server identity can be saved again until the first
// peer completes the setup; from then on the server refuses every setup step (409
// SETUP_COMPLETE), so step 2 shows it read-only (Settings changes it later).

import { useCallback, useEffect, useRef, useState } from 'react';
import { LoginForm } from '../../app/LoginPage';
import { CheckField, FormErrors, TextAreaField, TextField } from '../../components/fields';
import { NetworkForm, networkDefaults, type NetworkValues } from '../../components/NetworkForm';
import { PeerConfig } from '../../components/PeerConfig';
import { PeerForm, peerDefaults, type PeerValues } from '../../components/PeerForm';
import { ThemeToggle } from '../../components/ThemeToggle';
import { ErrorState, Loading, Notice } from '../../components/ui';
import { api } from '../../lib/api';
import { ApiError, describeError } from '../../lib/errors';
import { useForm } from '../../lib/form';
import { useDocumentTitle, useReportValue } from '../../lib/hooks';
import { MODE_LABEL } from '../../lib/networks';
import type { ExistingInterface, Network, Peer, Settings, SetupStatus, SetupStep, User } from '../../lib/types';
import { checkDnsList, checkHostname, checkPassword, checkPublicIp, checkUsername, collect, passwordWarning, splitList } from '../../lib/validate';

const STEPS: { key: SetupStep; label: string }[] = [
  { key: 'admin', label: 'Administrator' },
  { key: 'server', label: 'Server' },
  { key: 'network', label: 'Network' },
  { key: 'peer', label: 'First peer' },
];

type Step = SetupStep | 'done';

interface ServerValues extends Record<string, unknown> {
  public_ip: string;
  hostname: string;
  dns_servers: string;
}

/** Step 3's form as the user left it, and the DNS servers it started from (step 2's at the time). */
export interface NetworkDraft {
  values: NetworkValues;
  dnsFrom: string;
}

/** What the user typed into each step, kept while they go back and forth. */
interface Drafts {
  server?: ServerValues;
  network?: NetworkDraft;
  peer?: PeerValues;
}

/**
 * Where step 3's form starts: fresh, with step 2's DNS servers (`defaultDns`, as saved);
 * or as the user left it, except that a DNS field the user did not edit takes step 2's
 * current list (the user may have gone back and changed it there).
 */
export function networkStart(draft: NetworkDraft | undefined, defaultDns: readonly string[]): NetworkDraft {
  const dns = defaultDns.join(', ');
  if (!draft) return { values: { ...networkDefaults([], [...defaultDns]), name: 'home' }, dnsFrom: dns };
  const edited = draft.values.dns_servers !== draft.dnsFrom;
  return { values: edited ? draft.values : { ...draft.values, dns_servers: dns }, dnsFrom: dns };
}

function BackButton({ onBack, disabled = false }: { onBack: () => void; disabled?: boolean }) {
  return (
    <button type="button" className="btn" onClick={onBack} disabled={disabled}>
      Back
    </button>
  );
}

function StepList({ current }: { current: Step }) {
  const idx = current === 'done' ? STEPS.length : STEPS.findIndex((s) => s.key === current);
  return (
    <>
      <ol className="steps" aria-label="Setup progress">
        {STEPS.map((s, i) => (
          <li key={s.key} className={i < idx ? 'done' : i === idx ? 'current' : ''} aria-current={i === idx ? 'step' : undefined}>
            <span className="step-num" aria-hidden="true">
              {i < idx ? '✓' : i + 1}
            </span>
            <span className="step-label">
              {s.label}
              <span className="visually-hidden">{i < idx ? ' (done)' : i === idx ? ' (current)' : ''}</span>
            </span>
          </li>
        ))}
      </ol>
      <p className="step-caption" aria-hidden="true">
        {idx < STEPS.length ? `Step ${idx + 1} of ${STEPS.length}: ${STEPS[idx]?.label}` : 'All steps done'}
      </p>
    </>
  );
}

export function validateAdmin(v: { install_token: string; username: string; password: string; confirm: string }): Record<string, string> {
  return collect({
    install_token: v.install_token.trim() ? null : 'Enter the install token printed by the installer.',
    username: checkUsername(v.username),
    password: checkPassword(v.password),
    confirm: v.confirm === v.password ? null : 'The two passwords differ.',
  });
}

function AdminStep({ onNext }: { onNext: (username: string) => void }) {
  const form = useForm({ install_token: '', username: 'admin', password: '', confirm: '' }, validateAdmin);
  const { values: v, errors } = form;
  const warn = passwordWarning(v.password);
  const onSubmit = form.submit(async (vals) => {
    try {
      await api.setup.admin(vals.install_token.trim(), vals.username.trim(), vals.password);
    } catch (e) {
      // A wrong token is refused as a whole; show it at the token field.
      if (e instanceof ApiError && e.fields.length === 0 && (e.status === 401 || e.status === 403))
        throw new ApiError(e.status, e.code, e.message, [{ field: 'install_token', message: e.message || 'This install token is not valid.' }]);
      throw e;
    }
    onNext(vals.username.trim());
  });
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      <p>
        Create the administrator account. The one-time install token was printed by the installer (or by <code>wgpilot init</code>); on a systemd
        install it is also in <code>journalctl -u wgpilot</code>.
      </p>
      <FormErrors messages={form.general} />
      <TextField
        label="Install token"
        field="install_token"
        value={v.install_token}
        onValue={(x) => form.set('install_token', x)}
        error={errors.install_token}
        autoComplete="off"
        spellCheck={false}
        autoCapitalize="none"
        className="field-mono"
        autoFocus
      />
      <TextField label="Username" field="username" value={v.username} onValue={(x) => form.set('username', x)} error={errors.username} autoComplete="username" autoCapitalize="none" spellCheck={false} />
      <TextField
        label="Password"
        field="password"
        type="password"
        value={v.password}
        onValue={(x) => form.set('password', x)}
        error={errors.password}
        hint={warn ?? 'At least 10 characters.'}
        autoComplete="new-password"
      />
      <TextField label="Password again" field="confirm" type="password" value={v.confirm} onValue={(x) => form.set('confirm', x)} error={errors.confirm} autoComplete="new-password" />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Creating…' : 'Create administrator'}
        </button>
      </div>
    </form>
  );
}

/** Step 1 visited again: the account exists and is not made twice. */
function AdminDone({ username, onNext }: { username: string | null; onNext: () => void }) {
  const [name, setName] = useState(username);
  useEffect(() => {
    if (username) return;
    let live = true;
    api.auth.me().then(
      (u) => live && setName(u.username),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [username]);
  return (
    <div className="stack" data-testid="admin-done">
      <Notice tone="ok">
        The administrator account{name ? <> “{name}”</> : null} has been created and you are signed in with it.
      </Notice>
      <p>It is not created again here. Change its password later under Account &amp; password.</p>
      <div className="form-actions">
        <button type="button" className="btn btn-primary" onClick={onNext}>
          Continue
        </button>
      </div>
    </div>
  );
}

function ServerStep({
  detected,
  draft,
  onDraft,
  onBack,
  onNext,
}: {
  detected: string | null;
  draft: ServerValues | undefined;
  onDraft: (v: ServerValues) => void;
  onBack: () => void;
  onNext: () => void;
}) {
  const form = useForm<ServerValues>(draft ?? { public_ip: detected ?? '', hostname: '', dns_servers: '1.1.1.1, 1.0.0.1' }, (v) =>
    collect({ public_ip: checkPublicIp(v.public_ip), hostname: checkHostname(v.hostname, true), dns_servers: checkDnsList(v.dns_servers) }),
  );
  const { values: v, errors } = form;
  const [configured, setConfigured] = useState<string | null>(null);
  useReportValue(v, onDraft);
  // `wgpilot init --public-ip/--hostname` (or an earlier visit) may have set these
  // already: start from them, unless the form holds what the user typed (now, or in
  // a visit before going back).
  const setAll = form.setAll;
  const typed = useRef(draft !== undefined);
  const edit = (name: keyof ServerValues, value: string) => {
    typed.current = true;
    form.set(name, value);
  };
  useEffect(() => {
    let live = true;
    api.settings.get().then(
      (s) => {
        if (!live) return;
        if (s.public_ip) setConfigured(s.public_ip);
        if (typed.current) return;
        setAll({
          public_ip: s.public_ip ?? detected ?? '',
          hostname: s.hostname ?? '',
          dns_servers: s.default_dns.length ? s.default_dns.join(', ') : '1.1.1.1, 1.0.0.1',
        });
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [detected, setAll]);
  const onSubmit = form.submit(async (vals) => {
    await api.setup.server({
      public_ip: vals.public_ip.trim(),
      ...(vals.hostname.trim() ? { hostname: vals.hostname.trim() } : {}),
      dns_servers: splitList(vals.dns_servers),
    });
    onNext();
  });
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      <p>How peers reach this server, and which DNS servers they use.</p>
      <FormErrors messages={form.general} />
      <TextField
        label="Public IP address"
        field="public_ip"
        value={v.public_ip}
        onValue={(x) => edit('public_ip', x)}
        error={errors.public_ip}
        hint={
          configured
            ? `Set when wgpilot was installed${detected && detected !== configured ? ` (detected: ${detected})` : ''}.`
            : detected
              ? `Detected: ${detected}. Change it if the server sits behind NAT with another address.`
              : 'Could not be detected; enter the address peers connect to.'
        }
        spellCheck={false}
        autoFocus
      />
      <TextField
        label="Hostname (optional)"
        field="hostname"
        value={v.hostname}
        onValue={(x) => edit('hostname', x)}
        error={errors.hostname}
        hint="A DNS name pointing at this server, e.g. vpn.example.com. wgpilot then gets a Let's Encrypt certificate and puts the name in configurations."
        spellCheck={false}
        autoCapitalize="none"
      />
      <TextAreaField
        label="DNS servers for peers"
        field="dns_servers"
        value={v.dns_servers}
        onValue={(x) => edit('dns_servers', x)}
        error={errors.dns_servers}
        hint="Separated by commas."
        rows={2}
        spellCheck={false}
      />
      <div className="form-actions">
        <BackButton onBack={onBack} disabled={form.busy} />
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : 'Continue'}
        </button>
      </div>
    </form>
  );
}

/** Step 2 visited after the first peer completed the setup: the server refuses to save it now. */
function ServerDone({ onBack, onNext }: { onBack: () => void; onNext: () => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    api.settings.get().then(
      (s) => live && setSettings(s),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, []);
  return (
    <div className="stack" data-testid="server-done">
      <Notice tone="ok">Setup is complete, so the server identity is not changed here. Change it later under Settings.</Notice>
      {error !== null ? (
        <Notice tone="bad">{describeError(error)}</Notice>
      ) : !settings ? (
        <Loading rows={3} />
      ) : (
        <dl className="facts">
          <div>
            <dt>Public IP address</dt>
            <dd className="mono">{settings.public_ip ?? '—'}</dd>
          </div>
          <div>
            <dt>Hostname</dt>
            <dd className="mono">{settings.hostname ?? '—'}</dd>
          </div>
          <div>
            <dt>DNS servers for peers</dt>
            <dd className="mono">{settings.default_dns.length ? settings.default_dns.join(', ') : 'none'}</dd>
          </div>
        </dl>
      )}
      <div className="form-actions">
        <BackButton onBack={onBack} />
        <button type="button" className="btn btn-primary" onClick={onNext}>
          Continue
        </button>
      </div>
    </div>
  );
}

/** Kernel interfaces are imported by name, wg-quick files by path. */
export function importBody(found: readonly ExistingInterface[], selected: readonly string[]): { interfaces?: string[]; files?: string[] } {
  const chosen = found.filter((i) => selected.includes(importKey(i)));
  const interfaces = chosen.filter((i) => i.source === 'kernel').map((i) => i.name);
  const files = chosen.filter((i) => i.source === 'file' && i.path).map((i) => i.path as string);
  return { ...(interfaces.length ? { interfaces } : {}), ...(files.length ? { files } : {}) };
}

export const importKey = (i: ExistingInterface) => (i.source === 'file' && i.path ? `file:${i.path}` : `kernel:${i.name}`);

/** What the wizard selects at first: everything that can be imported. */
export const importableKeys = (found: readonly ExistingInterface[]) => found.filter((i) => i.importable).map(importKey);

function ImportChoice({ status, onImported, onBack }: { status: SetupStatus; onImported: (n: Network[]) => void; onBack: () => void }) {
  const [selected, setSelected] = useState<string[]>(importableKeys(status.existing_interfaces));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [warnings, setWarnings] = useState<string[] | null>(null);
  const [imported, setImported] = useState<Network[] | null>(null);
  const run = async () => {
    if (selected.length === 0) return;
    setBusy(true);
    setError(null);
    try {
      const res = await api.setup.import(importBody(status.existing_interfaces, selected));
      if (res.warnings && res.warnings.length > 0) {
        // Let the user read what was skipped before moving on.
        setWarnings(res.warnings);
        setImported(res.networks);
        setBusy(false);
      } else onImported(res.networks);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  if (imported && warnings) {
    return (
      <div className="stack">
        <Notice tone="ok">Imported {imported.map((n) => n.name).join(', ') || 'nothing'}.</Notice>
        <Notice tone="warn">
          <span>Some things were not imported:</span>
          <ul>
            {warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </Notice>
        <div className="form-actions">
          <button type="button" className="btn btn-primary" onClick={() => onImported(imported)} disabled={imported.length === 0}>
            Continue
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="stack">
      {status.existing_interfaces.some((i) => i.importable) ? (
        <p>wgpilot found WireGuard interfaces on this server. Import them to manage their peers here; wgpilot owns them afterwards.</p>
      ) : (
        <p>wgpilot found WireGuard interfaces on this server, but none can be imported as it is (why is listed below). Create a new network instead, or change them and reload this page.</p>
      )}
      <fieldset className="field">
        <legend>Interfaces to import</legend>
        {status.existing_interfaces.map((i) => (
          <div key={importKey(i)} className="import-choice">
            <CheckField
              field={`import-${i.name}`}
              label={
                <>
                  <span className="mono">{i.name}</span> — {i.peers} peers{i.listen_port ? `, port ${i.listen_port}` : ''}{' '}
                  <span className="muted">({i.source === 'file' ? (i.path ?? 'file') : 'running interface'})</span>
                  {!i.importable && <strong> — cannot be imported as it is</strong>}
                </>
              }
              checked={selected.includes(importKey(i))}
              disabled={!i.importable}
              onChecked={(on) => setSelected((s) => (on ? [...s, importKey(i)] : s.filter((x) => x !== importKey(i))))}
            />
            {i.problems.length > 0 && (
              <ul className="field-hint" aria-label={`What importing ${i.name} would report`}>
                {i.problems.map((p, k) => (
                  <li key={k}>{p}</li>
                ))}
              </ul>
            )}
          </div>
        ))}
      </fieldset>
      {error !== null && <Notice tone="bad">{describeError(error)}</Notice>}
      <div className="form-actions">
        <BackButton onBack={onBack} disabled={busy} />
        <button type="button" className="btn btn-primary" onClick={() => void run()} disabled={busy || selected.length === 0}>
          {busy ? 'Importing…' : `Import ${selected.length === 1 ? 'interface' : 'interfaces'}`}
        </button>
      </div>
    </div>
  );
}

/** Networks made by step 3 (or found when the wizard resumed after it): shown, not made again. */
function NetworkDone({ networks: known, onBack, onNext }: { networks: Network[] | null; onBack: () => void; onNext: (n: Network[]) => void }) {
  const [networks, setNetworks] = useState<Network[] | null>(known);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (known) return;
    let live = true;
    api.networks.list().then(
      (list) => live && setNetworks(list),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [known]);
  if (error) return <ErrorState error={error} />;
  if (!networks) return <Loading rows={2} />;
  return (
    <div className="stack" data-testid="network-done">
      <Notice tone="ok">{networks.length === 1 ? 'This network exists already:' : 'These networks exist already:'}</Notice>
      <ul className="plain-list">
        {networks.map((n) => (
          <li key={n.id}>
            <strong>{n.name}</strong> — <span className="mono">{n.interface}</span>, {MODE_LABEL[n.mode]}, <span className="mono">{n.subnet}</span>, UDP{' '}
            {n.listen_port}
          </li>
        ))}
      </ul>
      <p>
        {networks.length === 1 ? 'It is not created again here; change it later on the Networks page.' : 'They are not created again here; change them later on the Networks page.'}
      </p>
      <div className="form-actions">
        <BackButton onBack={onBack} />
        <button type="button" className="btn btn-primary" onClick={() => onNext(networks)}>
          Continue
        </button>
      </div>
    </div>
  );
}

function NetworkStep({
  status,
  draft,
  onDraft,
  onBack,
  onNext,
}: {
  status: SetupStatus;
  draft: NetworkDraft | undefined;
  onDraft: (d: NetworkDraft) => void;
  onBack: () => void;
  onNext: (networks: Network[]) => void;
}) {
  const canImport = status.existing_interfaces.length > 0;
  const anyImportable = status.existing_interfaces.some((i) => i.importable);
  const [choice, setChoice] = useState<'new' | 'import'>(anyImportable && !draft ? 'import' : 'new');
  const running = status.existing_interfaces.filter((i) => i.source === 'kernel').map((i) => i.name);
  // Step 2's DNS servers (as saved, read on every visit) fill the form, so the network
  // gets what the user saw there; see networkStart for a form filled in before.
  const first = useRef(draft);
  const [start, setStart] = useState<NetworkDraft | null>(null);
  useEffect(() => {
    let live = true;
    api.settings.get().then(
      (s) => live && setStart(networkStart(first.current, s.default_dns)),
      () => live && setStart(first.current ?? networkStart(undefined, [])),
    );
    return () => {
      live = false;
    };
  }, []);
  const dnsFrom = start?.dnsFrom ?? '';
  const keep = useCallback((values: NetworkValues) => onDraft({ values, dnsFrom }), [onDraft, dnsFrom]);
  return (
    <div className="stack">
      {canImport && (
        <div className="segmented" role="group" aria-label="First network">
          <button type="button" className={choice === 'import' ? 'active' : ''} aria-pressed={choice === 'import'} onClick={() => setChoice('import')}>
            Import existing
          </button>
          <button type="button" className={choice === 'new' ? 'active' : ''} aria-pressed={choice === 'new'} onClick={() => setChoice('new')}>
            Create new
          </button>
        </div>
      )}
      {choice === 'import' ? (
        <ImportChoice status={status} onImported={onNext} onBack={onBack} />
      ) : (
        <>
          <p>A network is one WireGuard interface with its own subnet and UDP port. The interface comes up as soon as you continue.</p>
          {start === null ? (
            <Loading rows={4} />
          ) : (
            <NetworkForm
              initial={start.values}
              existing={[]}
              takenInterfaces={running}
              save={(body) => api.setup.network(body)}
              onSaved={(n) => onNext([n])}
              onValues={keep}
              onCancel={onBack}
              cancelLabel="Back"
              submitLabel="Create network"
            />
          )}
        </>
      )}
    </div>
  );
}

function PeerStep({
  networks: known,
  draft,
  onDraft,
  onBack,
  onNext,
}: {
  networks: Network[];
  draft: PeerValues | undefined;
  onDraft: (v: PeerValues) => void;
  onBack: () => void;
  onNext: (r: { peer: Peer; config: string }) => void;
}) {
  const [networks, setNetworks] = useState<Network[] | null>(known.length ? known : null);
  const [networkId, setNetworkId] = useState<number | null>(known[0]?.id ?? null);
  useEffect(() => {
    if (networks) return;
    // Resumed at this step: the network was made in an earlier visit.
    let live = true;
    api.networks.list().then(
      (list) => {
        if (!live) return;
        setNetworks(list);
        setNetworkId(list[0]?.id ?? null);
      },
      () => live && setNetworks([]),
    );
    return () => {
      live = false;
    };
  }, [networks]);
  if (!networks) return <Loading rows={3} />;
  const net = networks.find((n) => n.id === networkId) ?? networks[0];
  return (
    <div className="stack">
      <p>Add the first device. You get a QR code for the WireGuard app and a configuration file.</p>
      {networks.length > 1 && (
        <div className="field">
          <label htmlFor="wizard-peer-network">Network</label>
          <select id="wizard-peer-network" value={String(networkId ?? '')} onChange={(e) => setNetworkId(Number(e.target.value))}>
            {networks.map((n) => (
              <option key={n.id} value={n.id}>
                {n.name} ({MODE_LABEL[n.mode]}, {n.subnet})
              </option>
            ))}
          </select>
        </div>
      )}
      <PeerForm
        key={net?.id ?? 0}
        mode={net?.mode ?? 'gateway'}
        initial={draft ?? peerDefaults('my-phone')}
        simple
        onValues={onDraft}
        onCancel={onBack}
        cancelLabel="Back"
        submitLabel="Create peer"
        save={async (body) => {
          const res = await api.setup.peer(net ? { ...body, network_id: net.id } : body);
          onNext(res);
        }}
      />
    </div>
  );
}

/** Step 4 visited again: the first peer exists (and setup is complete). */
function PeerDone({ peer, onBack, onNext }: { peer: Peer; onBack: () => void; onNext: () => void }) {
  return (
    <div className="stack" data-testid="peer-done">
      <Notice tone="ok">The peer “{peer.name}” has been created ({peer.address}), which completed the setup.</Notice>
      <p>It is not created again here; add more peers, or change this one, on its network's page.</p>
      <div className="form-actions">
        <BackButton onBack={onBack} />
        <button type="button" className="btn btn-primary" onClick={onNext}>
          Continue
        </button>
      </div>
    </div>
  );
}

function DoneStep({ result, onBack, onFinish }: { result: { peer: Peer; config: string }; onBack: () => void; onFinish: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="stack">
      <Notice tone="ok">
        {result.peer.has_private_key
          ? `wgpilot is set up. Scan the code with the WireGuard app on “${result.peer.name}”, or download the file.`
          : `wgpilot is set up. Download the file for “${result.peer.name}” and add the device's private key to it.`}
      </Notice>
      <PeerConfig peer={result.peer} config={result.config} />
      {error !== null && <Notice tone="bad">{describeError(error)}</Notice>}
      <div className="form-actions">
        <BackButton onBack={onBack} disabled={busy} />
        <button
          type="button"
          className="btn btn-primary"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            onFinish().catch((e: unknown) => {
              setError(e);
              setBusy(false);
            });
          }}
        >
          Go to the dashboard
        </button>
      </div>
    </div>
  );
}

const TITLES: Record<Step, string> = {
  admin: 'Create the administrator',
  server: 'Server identity',
  network: 'Your first network',
  peer: 'Your first peer',
  done: 'Ready to connect',
};

export default function Wizard({ status, onDone }: { status: SetupStatus; onDone: (u: User) => void }) {
  const [step, setStep] = useState<Step>(status.next_step ?? 'peer');
  // Steps after the first need the session the first one created.
  const [auth, setAuth] = useState<'ok' | 'checking' | 'login' | 'error'>(status.next_step === 'admin' ? 'ok' : 'checking');
  const [authError, setAuthError] = useState<unknown>(null);
  const [networks, setNetworks] = useState<Network[]>([]);
  const [result, setResult] = useState<{ peer: Peer; config: string } | null>(null);
  // What exists on the server already (from /api/setup/status, then from this visit).
  const [adminName, setAdminName] = useState<string | null>(null);
  const [made, setMade] = useState({ admin: status.steps.admin, network: status.steps.network });
  const [drafts, setDrafts] = useState<Drafts>({});
  const keepServer = useCallback((v: ServerValues) => setDrafts((d) => ({ ...d, server: v })), []);
  const keepNetwork = useCallback((v: NetworkDraft) => setDrafts((d) => ({ ...d, network: v })), []);
  const keepPeer = useCallback((v: PeerValues) => setDrafts((d) => ({ ...d, peer: v })), []);
  const heading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);
  const title = auth === 'login' ? 'Sign in to continue' : step === 'admin' && made.admin ? 'Administrator created' : TITLES[step];
  useDocumentTitle(`Setup: ${title}`);

  const checkSession = () => {
    setAuth('checking');
    api.auth.me().then(
      () => setAuth('ok'),
      (e: unknown) => {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setAuth('login');
        else {
          setAuthError(e);
          setAuth('error');
        }
      },
    );
  };
  const initialCheck = useRef(auth === 'checking');
  useEffect(() => {
    if (initialCheck.current) {
      initialCheck.current = false;
      checkSession();
    }
  });

  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    heading.current?.focus();
  }, [step, auth]);

  let body;
  if (auth === 'checking') body = <Loading rows={3} />;
  else if (auth === 'error') body = <ErrorState error={authError} onRetry={checkSession} />;
  else if (auth === 'login')
    body = (
      <div className="stack">
        <p>Setup is not finished yet. Sign in with the administrator account you created to continue where you left off.</p>
        <LoginForm onLoggedIn={() => setAuth('ok')} submitLabel="Sign in and continue" />
      </div>
    );
  else if (step === 'admin')
    body = made.admin ? (
      <AdminDone username={adminName} onNext={() => setStep('server')} />
    ) : (
      <AdminStep
        onNext={(username) => {
          setAdminName(username);
          setMade((m) => ({ ...m, admin: true }));
          setStep('server');
        }}
      />
    );
  else if (step === 'server')
    // `result`: the first peer exists, so setup is complete and the server refuses step 2.
    body = result ? (
      <ServerDone onBack={() => setStep('admin')} onNext={() => setStep('network')} />
    ) : (
      <ServerStep detected={status.detected_public_ip} draft={drafts.server} onDraft={keepServer} onBack={() => setStep('admin')} onNext={() => setStep('network')} />
    );
  else if (step === 'network')
    body = made.network ? (
      <NetworkDone
        networks={networks.length ? networks : null}
        onBack={() => setStep('server')}
        onNext={(n) => {
          setNetworks(n);
          setStep('peer');
        }}
      />
    ) : (
      <NetworkStep
        status={status}
        draft={drafts.network}
        onDraft={keepNetwork}
        onBack={() => setStep('server')}
        onNext={(n) => {
          setNetworks(n);
          setMade((m) => ({ ...m, network: true }));
          setStep('peer');
        }}
      />
    );
  else if (step === 'peer')
    body = result ? (
      <PeerDone peer={result.peer} onBack={() => setStep('network')} onNext={() => setStep('done')} />
    ) : (
      <PeerStep
        networks={networks}
        draft={drafts.peer}
        onDraft={keepPeer}
        onBack={() => setStep('network')}
        onNext={(r) => {
          setResult(r);
          setStep('done');
        }}
      />
    );
  else if (result) body = <DoneStep result={result} onBack={() => setStep('peer')} onFinish={async () => onDone(await api.auth.me())} />;

  return (
    <div className="wizard-screen">
      <main className="wizard" id="main" data-step={step}>
        <div className="brand brand-large">
          <img src="/favicon.svg" alt="" width={32} height={32} />
          <span>wgpilot setup</span>
        </div>
        <StepList current={step} />
        {status.driver === 'none' && (
          <Notice tone="warn">
            WireGuard is not available on this server (no kernel module, no wireguard-go). You can finish the setup, but no tunnel comes up
            until WireGuard is installed and wgpilot restarted.
          </Notice>
        )}
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {body}
      </main>
      <footer className="screen-foot">
        <ThemeToggle />
      </footer>
    </div>
  );
}
