import { useState } from 'react';
import { FormErrors, SelectField, TextAreaField, TextField } from '../components/fields';
import { useToast } from '../components/Toast';
import { Badge, Card, ErrorState, Loading, Notice, PageHeader } from '../components/ui';
import { api } from '../lib/api';
import { copyText } from '../lib/clipboard';
import { serverNow } from '../lib/clock';
import { describeError } from '../lib/errors';
import { formatDateTime } from '../lib/format';
import { useForm } from '../lib/form';
import { useAsync, useDocumentTitle, useTransient } from '../lib/hooks';
import type { MetricsToken, OkMessage, Settings, TlsStatus } from '../lib/types';
import { checkDnsList, checkEmail, checkHostname, checkPort, checkPublicIp, collect, splitList, toInt } from '../lib/validate';

function IdentityForm({ settings, onSaved }: { settings: Settings; onSaved: (s: Settings) => void }) {
  const toast = useToast();
  const form = useForm(
    { public_ip: settings.public_ip ?? '', hostname: settings.hostname ?? '', default_dns: settings.default_dns.join(', ') },
    (v) => collect({ public_ip: checkPublicIp(v.public_ip), hostname: checkHostname(v.hostname, true), default_dns: checkDnsList(v.default_dns) }),
  );
  const { values: v, errors } = form;
  const onSubmit = form.submit(async (vals) => {
    const saved = await api.settings.update({ public_ip: vals.public_ip.trim(), hostname: vals.hostname.trim() || null, default_dns: splitList(vals.default_dns) });
    onSaved(saved);
    toast('Server identity saved.');
  });
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      <FormErrors messages={form.general} />
      <div className="grid-2">
        <TextField
          label="Public IP address"
          field="public_ip"
          value={v.public_ip}
          onValue={(x) => form.set('public_ip', x)}
          error={errors.public_ip}
          hint="Peers connect here unless a hostname is set."
          spellCheck={false}
        />
        <TextField
          label="Hostname (optional)"
          field="hostname"
          value={v.hostname}
          onValue={(x) => form.set('hostname', x)}
          error={errors.hostname}
          hint="Used as the endpoint in configurations, and for a Let's Encrypt certificate."
          spellCheck={false}
          autoCapitalize="none"
        />
      </div>
      <TextAreaField
        label="Default DNS servers for new networks"
        field="default_dns"
        value={v.default_dns}
        onValue={(x) => form.set('default_dns', x)}
        error={errors.default_dns}
        hint="Separated by commas."
        rows={2}
        spellCheck={false}
      />
      <p className="field-hint">Changing the address or hostname changes the Endpoint of every configuration: peers must download theirs again.</p>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

function TlsCard() {
  const tls = useAsync(() => api.settings.tls(), []);
  const [test, setTest] = useState<OkMessage | null>(null);
  const [testing, setTesting] = useState(false);
  const runTest = async () => {
    setTesting(true);
    try {
      setTest(await api.settings.tlsTest());
    } catch (e) {
      setTest({ ok: false, message: describeError(e) });
    } finally {
      setTesting(false);
    }
  };
  return (
    <Card
      title="TLS certificate"
      actions={
        <button type="button" className="btn btn-small" onClick={() => void runTest()} disabled={testing}>
          {testing ? 'Testing…' : 'Test'}
        </button>
      }
    >
      {tls.loading && !tls.data ? (
        <Loading rows={2} />
      ) : tls.error ? (
        <ErrorState error={tls.error} onRetry={tls.reload} title="Could not read the TLS status" />
      ) : tls.data ? (
        <TlsFacts tls={tls.data} />
      ) : null}
      {test && <Notice tone={test.ok ? 'ok' : 'bad'}>{test.message}</Notice>}
    </Card>
  );
}

export function expiryTone(notAfter: number | null, now: number): { tone: 'ok' | 'warn' | 'bad'; text: string } {
  if (!notAfter) return { tone: 'warn', text: 'unknown expiry' };
  const days = Math.floor((notAfter - now) / 86400);
  if (days < 0) return { tone: 'bad', text: 'expired' };
  if (days < 14) return { tone: 'bad', text: `expires in ${days} d` };
  if (days < 30) return { tone: 'warn', text: `expires in ${days} d` };
  return { tone: 'ok', text: `valid for ${days} d` };
}

function TlsFacts({ tls }: { tls: TlsStatus }) {
  const exp = expiryTone(tls.not_after, serverNow());
  const modeLabel: Record<string, string> = { 'self-signed': 'Self-signed', acme: "Let's Encrypt (ACME)", manual: 'Certificate files' };
  return (
    <>
      {tls.fallback && (
        <Notice tone="warn">
          The {tls.mode === 'acme' ? 'ACME' : 'configured'} certificate could not be used; wgpilot fell back to a self-signed one.
          {tls.error ? ` ${tls.error}` : ''}
        </Notice>
      )}
      {!tls.fallback && tls.error && <Notice tone="bad">{tls.error}</Notice>}
      <dl className="facts">
        <div>
          <dt>Mode</dt>
          <dd>{modeLabel[tls.mode] ?? tls.mode}</dd>
        </div>
        <div>
          <dt>Domain</dt>
          <dd>{tls.domain ?? '—'}</dd>
        </div>
        <div>
          <dt>Issuer</dt>
          <dd className="break">{tls.issuer ?? '—'}</dd>
        </div>
        <div>
          <dt>Subject</dt>
          <dd className="break">{tls.subject ?? '—'}</dd>
        </div>
        <div>
          <dt>Valid from</dt>
          <dd>{formatDateTime(tls.not_before)}</dd>
        </div>
        <div>
          <dt>Valid until</dt>
          <dd>
            {formatDateTime(tls.not_after)} <Badge tone={exp.tone}>{exp.text}</Badge>
          </dd>
        </div>
      </dl>
    </>
  );
}

/** The bearer token /metrics requires: a secret, so shown only when asked for. */
function MetricsCard() {
  const [shown, setShown] = useState<MetricsToken | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useTransient<'idle' | 'done' | 'failed'>('idle', 2500);
  const reveal = async () => {
    setBusy(true);
    setError(null);
    try {
      setShown(await api.settings.metricsToken());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const copy = async (token: string) => {
    try {
      await copyText(token);
      setCopied('done');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <Card
      title="Prometheus"
      actions={
        shown ? (
          <button type="button" className="btn btn-small" onClick={() => setShown(null)}>
            Hide token
          </button>
        ) : (
          <button type="button" className="btn btn-small" onClick={() => void reveal()} disabled={busy}>
            {busy ? 'Loading…' : 'Show token'}
          </button>
        )
      }
    >
      <p className="field-hint">
        <span className="mono">/metrics</span> answers only requests with <span className="mono">Authorization: Bearer &lt;token&gt;</span> (in Prometheus:{' '}
        <span className="mono">authorization: {'{'}credentials_file: …{'}'}</span>).
      </p>
      {error !== null && <Notice tone="bad">{describeError(error)}</Notice>}
      {shown?.source === 'config' && (
        <Notice tone="info">
          The token is set by <span className="mono">metrics.token</span> in the configuration file; read it there.
        </Notice>
      )}
      {shown?.token && (
        <div className="button-row">
          <code className="break" data-testid="metrics-token">
            {shown.token}
          </code>
          <button type="button" className="btn btn-small" onClick={() => void copy(shown.token ?? '')}>
            {copied === 'done' ? 'Copied ✓' : copied === 'failed' ? 'Copy failed' : 'Copy'}
          </button>
        </div>
      )}
    </Card>
  );
}

function SmtpForm({ settings, onSaved }: { settings: Settings; onSaved: (s: Settings) => void }) {
  const toast = useToast();
  const form = useForm(
    {
      smtp_host: settings.smtp_host ?? '',
      smtp_port: settings.smtp_port ? String(settings.smtp_port) : '587',
      smtp_security: settings.smtp_security ?? 'starttls',
      smtp_username: settings.smtp_username ?? '',
      smtp_password: '',
      smtp_from: settings.smtp_from ?? '',
      alert_email: settings.alert_email ?? '',
    },
    (v) =>
      collect({
        smtp_host: checkHostname(v.smtp_host, true),
        smtp_port: v.smtp_host.trim() ? checkPort(v.smtp_port) : checkPort(v.smtp_port, true),
        smtp_from: checkEmail(v.smtp_from, true),
        alert_email: checkEmail(v.alert_email, true),
      }),
  );
  const { values: v, errors } = form;
  const [testTo, setTestTo] = useState(settings.alert_email ?? '');
  const [testResult, setTestResult] = useState<OkMessage | null>(null);
  const [testing, setTesting] = useState(false);
  const testError = testTo.trim() ? checkEmail(testTo, false) : null;

  const onSubmit = form.submit(async (vals) => {
    const body = {
      smtp_host: vals.smtp_host.trim() || null,
      smtp_port: toInt(vals.smtp_port),
      smtp_security: vals.smtp_security as Settings['smtp_security'],
      smtp_username: vals.smtp_username.trim() || null,
      smtp_from: vals.smtp_from.trim() || null,
      alert_email: vals.alert_email.trim() || null,
      ...(vals.smtp_password ? { smtp_password: vals.smtp_password } : {}),
    };
    const saved = await api.settings.update(body);
    form.set('smtp_password', '');
    onSaved(saved);
    toast('Mail settings saved.');
  });

  const sendTest = async () => {
    if (testError) return;
    setTesting(true);
    setTestResult(null);
    try {
      setTestResult(await api.settings.smtpTest(testTo.trim() || undefined));
    } catch (e) {
      setTestResult({ ok: false, message: describeError(e) });
    } finally {
      setTesting(false);
    }
  };

  return (
    <>
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
        <FormErrors messages={form.general} />
        <div className="grid-2">
          <TextField label="SMTP server" field="smtp_host" value={v.smtp_host} onValue={(x) => form.set('smtp_host', x)} error={errors.smtp_host} hint="Empty: no e-mail." spellCheck={false} autoCapitalize="none" />
          <TextField label="Port" field="smtp_port" value={v.smtp_port} onValue={(x) => form.set('smtp_port', x)} error={errors.smtp_port} inputMode="numeric" />
        </div>
        <SelectField
          label="Security"
          field="smtp_security"
          value={v.smtp_security}
          onValue={(x) => form.set('smtp_security', x as Settings['smtp_security'])}
          error={errors.smtp_security}
          options={[
            { value: 'starttls', label: 'STARTTLS (usually port 587)' },
            { value: 'tls', label: 'TLS (usually port 465)' },
            { value: 'none', label: 'None (local relays only)' },
          ]}
        />
        <div className="grid-2">
          <TextField label="Username" field="smtp_username" value={v.smtp_username} onValue={(x) => form.set('smtp_username', x)} error={errors.smtp_username} autoComplete="off" />
          <TextField
            label="Password"
            field="smtp_password"
            type="password"
            value={v.smtp_password}
            onValue={(x) => form.set('smtp_password', x)}
            error={errors.smtp_password}
            autoComplete="new-password"
            placeholder={settings.smtp_password_set ? '•••••••• (unchanged)' : ''}
            hint={settings.smtp_password_set ? 'A password is stored. Leave empty to keep it.' : undefined}
          />
        </div>
        <div className="grid-2">
          <TextField label="Sender address" field="smtp_from" type="email" value={v.smtp_from} onValue={(x) => form.set('smtp_from', x)} error={errors.smtp_from} />
          <TextField label="Send alerts to" field="alert_email" type="email" value={v.alert_email} onValue={(x) => form.set('alert_email', x)} error={errors.alert_email} />
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={form.busy}>
            {form.busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
      <div className="test-mail">
        <h3>Test mail</h3>
        <p className="field-hint">Sends a message with the saved settings. Save your changes first.</p>
        <div className="inline-form">
          <div className={`field grow ${testError ? 'has-error' : ''}`}>
            <label htmlFor="smtp-test-to">Recipient</label>
            <input id="smtp-test-to" type="email" value={testTo} onChange={(e) => setTestTo(e.target.value)} aria-invalid={testError ? true : undefined} aria-describedby={testError ? 'smtp-test-err' : undefined} />
            {testError && (
              <p className="field-error" id="smtp-test-err">
                {testError}
              </p>
            )}
          </div>
          <button type="button" className="btn" onClick={() => void sendTest()} disabled={testing || !!testError || !settings.smtp_host}>
            {testing ? 'Sending…' : 'Send test mail'}
          </button>
        </div>
        {!settings.smtp_host && <p className="field-hint">Save an SMTP server first.</p>}
        {testResult && <Notice tone={testResult.ok ? 'ok' : 'bad'}>{testResult.message}</Notice>}
      </div>
    </>
  );
}

export default function SettingsPage() {
  useDocumentTitle('Settings');
  const data = useAsync(() => api.settings.get(), []);
  return (
    <>
      <PageHeader title="Settings" />
      {data.loading && !data.data ? (
        <Loading rows={5} />
      ) : data.error || !data.data ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : (
        <>
          <Card title="Server identity">
            <IdentityForm settings={data.data} onSaved={(s) => data.setData(s)} />
          </Card>
          <TlsCard />
          <MetricsCard />
          <Card title="E-mail (SMTP)">
            <SmtpForm key={String(data.data.smtp_password_set)} settings={data.data} onSaved={(s) => data.setData(s)} />
          </Card>
        </>
      )}
    </>
  );
}
