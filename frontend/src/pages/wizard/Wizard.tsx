// First run (SPEC §8): admin → server identity → first network → first peer.
// Every step is idempotent on the server; a closed browser comes back to the
// first incomplete step (`next_step` of /api/setup/status).

import { useEffect, useRef, useState } from 'react';
import { LoginForm } from '../../app/LoginPage';
import { CheckField, FormErrors, TextAreaField, TextField } from '../../components/fields';
import { NetworkForm, networkDefaults } from '../../components/NetworkForm';
import { PeerConfig } from '../../components/PeerConfig';
import { PeerForm, peerDefaults } from '../../components/PeerForm';
import { ErrorState, Loading, Notice } from '../../components/ui';
import { api } from '../../lib/api';
import { ApiError, describeError } from '../../lib/errors';
import { useForm } from '../../lib/form';
import { useDocumentTitle } from '../../lib/hooks';
import { MODE_LABEL } from '../../lib/networks';
import type { ExistingInterface, Network, Peer, SetupStatus, SetupStep, User } from '../../lib/types';
import { checkDnsList, checkHostname, checkPassword, checkPublicIp, checkUsername, collect, passwordWarning, splitList } from '../../lib/validate';

const STEPS: { key: SetupStep; label: string }[] = [
  { key: 'admin', label: 'Administrator' },
  { key: 'server', label: 'Server' },
  { key: 'network', label: 'Network' },
  { key: 'peer', label: 'First peer' },
];

type Step = SetupStep | 'done';

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

function AdminStep({ onNext }: { onNext: () => void }) {
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
    onNext();
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

function ServerStep({ detected, onNext }: { detected: string | null; onNext: () => void }) {
  const form = useForm({ public_ip: detected ?? '', hostname: '', dns_servers: '1.1.1.1, 1.0.0.1' }, (v) =>
    collect({ public_ip: checkPublicIp(v.public_ip), hostname: checkHostname(v.hostname, true), dns_servers: checkDnsList(v.dns_servers) }),
  );
  const { values: v, errors } = form;
  const [configured, setConfigured] = useState<string | null>(null);
  // `wgpilot init --public-ip/--hostname` may have set these already: start from them.
  const setAll = form.setAll;
  useEffect(() => {
    let live = true;
    api.settings.get().then(
      (s) => {
        if (!live) return;
        if (s.public_ip) setConfigured(s.public_ip);
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
        onValue={(x) => form.set('public_ip', x)}
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
        onValue={(x) => form.set('hostname', x)}
        error={errors.hostname}
        hint="A DNS name pointing at this server, e.g. vpn.example.com. wgpilot then gets a Let's Encrypt certificate and puts the name in configurations."
        spellCheck={false}
        autoCapitalize="none"
      />
      <TextAreaField
        label="DNS servers for peers"
        field="dns_servers"
        value={v.dns_servers}
        onValue={(x) => form.set('dns_servers', x)}
        error={errors.dns_servers}
        hint="Separated by commas."
        rows={2}
        spellCheck={false}
      />
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : 'Continue'}
        </button>
      </div>
    </form>
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

function ImportChoice({ status, onImported }: { status: SetupStatus; onImported: (n: Network[]) => void }) {
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
        <button type="button" className="btn btn-primary" onClick={() => void run()} disabled={busy || selected.length === 0}>
          {busy ? 'Importing…' : `Import ${selected.length === 1 ? 'interface' : 'interfaces'}`}
        </button>
      </div>
    </div>
  );
}

function NetworkStep({ status, onNext }: { status: SetupStatus; onNext: (networks: Network[]) => void }) {
  const canImport = status.existing_interfaces.length > 0;
  const anyImportable = status.existing_interfaces.some((i) => i.importable);
  const [choice, setChoice] = useState<'new' | 'import'>(anyImportable ? 'import' : 'new');
  // Step 2's DNS servers fill the form, so the network gets what the user saw there.
  const [defaultDns, setDefaultDns] = useState<string[] | null>(null);
  useEffect(() => {
    let live = true;
    api.settings.get().then(
      (s) => live && setDefaultDns(s.default_dns),
      () => live && setDefaultDns([]),
    );
    return () => {
      live = false;
    };
  }, []);
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
        <ImportChoice status={status} onImported={onNext} />
      ) : (
        <>
          <p>A network is one WireGuard interface with its own subnet and UDP port. The interface comes up as soon as you continue.</p>
          {defaultDns === null ? (
            <Loading rows={4} />
          ) : (
            <NetworkForm initial={{ ...networkDefaults([], defaultDns), name: 'home' }} existing={[]} save={(body) => api.setup.network(body)} onSaved={(n) => onNext([n])} submitLabel="Create network" />
          )}
        </>
      )}
    </div>
  );
}

function PeerStep({ networks: known, onNext }: { networks: Network[]; onNext: (r: { peer: Peer; config: string }) => void }) {
  const [networks, setNetworks] = useState<Network[] | null>(known.length ? known : null);
  const [networkId, setNetworkId] = useState<number | null>(known[0]?.id ?? null);
  useEffect(() => {
    if (networks) return;
    // Resumed at this step: the network was made in an earlier visit.
    api.networks.list().then(
      (list) => {
        setNetworks(list);
        setNetworkId(list[0]?.id ?? null);
      },
      () => setNetworks([]),
    );
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
        initial={peerDefaults('my-phone')}
        simple
        submitLabel="Create peer"
        save={async (body) => {
          const res = await api.setup.peer(net ? { ...body, network_id: net.id } : body);
          onNext(res);
        }}
      />
    </div>
  );
}

function DoneStep({ result, onFinish }: { result: { peer: Peer; config: string }; onFinish: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="stack">
      <Notice tone="ok">wgpilot is set up. Scan the code with the WireGuard app on “{result.peer.name}”, or download the file.</Notice>
      <PeerConfig peer={result.peer} config={result.config} />
      {error !== null && <Notice tone="bad">{describeError(error)}</Notice>}
      <div className="form-actions">
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
  const heading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);
  useDocumentTitle(`Setup: ${TITLES[step]}`);

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
  else if (step === 'admin') body = <AdminStep onNext={() => setStep('server')} />;
  else if (step === 'server') body = <ServerStep detected={status.detected_public_ip} onNext={() => setStep('network')} />;
  else if (step === 'network')
    body = (
      <NetworkStep
        status={status}
        onNext={(n) => {
          setNetworks(n);
          setStep('peer');
        }}
      />
    );
  else if (step === 'peer')
    body = (
      <PeerStep
        networks={networks}
        onNext={(r) => {
          setResult(r);
          setStep('done');
        }}
      />
    );
  else if (result) body = <DoneStep result={result} onFinish={async () => onDone(await api.auth.me())} />;

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
          {auth === 'login' ? 'Sign in to continue' : TITLES[step]}
        </h1>
        {body}
      </main>
    </div>
  );
}
