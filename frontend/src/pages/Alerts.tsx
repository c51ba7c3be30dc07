import { useState } from 'react';
import { CheckField, FormErrors, SelectField, TextField } from '../components/fields';
import { ConfirmDialog, Modal } from '../components/Modal';
import { useToast } from '../components/Toast';
import { Badge, EmptyState, ErrorState, Loading, Notice, PageHeader } from '../components/ui';
import { ALERT_LABEL, THRESHOLD_UNIT, checkThreshold, describeDelivery, describeThreshold, inputToThreshold, thresholdToInput } from '../lib/alerts';
import { api } from '../lib/api';
import { describeError } from '../lib/errors';
import { useForm } from '../lib/form';
import { useAsync, useDocumentTitle, useNow } from '../lib/hooks';
import { Link } from '../lib/router';
import type { Alert, AlertType, Notify, Settings } from '../lib/types';
import { checkEmail, checkUrl, collect } from '../lib/validate';

interface AlertValues extends Record<string, unknown> {
  type: AlertType;
  threshold: string;
  notify: Notify;
  target: string;
  enabled: boolean;
}

const DEFAULT_THRESHOLD: Record<AlertType, string> = { peer_offline: '15', interface_down: '2', transfer_spike: '1024' };

function AlertForm({ alert, defaultEmail, onDone, onCancel }: { alert?: Alert; defaultEmail: string; onDone: () => void; onCancel: () => void }) {
  const form = useForm<AlertValues>(
    alert
      ? { type: alert.type, threshold: thresholdToInput(alert.type, alert.threshold), notify: alert.notify, target: alert.target, enabled: alert.enabled }
      : { type: 'peer_offline', threshold: DEFAULT_THRESHOLD.peer_offline, notify: 'email', target: defaultEmail, enabled: true },
    (v) =>
      collect({
        threshold: checkThreshold(v.type, v.threshold),
        target: v.notify === 'email' ? checkEmail(v.target, false) : checkUrl(v.target),
      }),
  );
  const { values: v, errors } = form;
  const onSubmit = form.submit(async (vals) => {
    // An alert's type is fixed once it exists (PUT does not take it).
    const common = { threshold: inputToThreshold(vals.type, vals.threshold), notify: vals.notify, target: vals.target.trim(), enabled: vals.enabled };
    if (alert) await api.alerts.update(alert.id, common);
    else await api.alerts.create({ type: vals.type, ...common });
    onDone();
  });
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      <FormErrors messages={form.general} />
      <SelectField
        label="When"
        field="type"
        value={v.type}
        onValue={(x) => {
          form.set('type', x as AlertType);
          if (!alert) form.set('threshold', DEFAULT_THRESHOLD[x as AlertType]);
        }}
        error={errors.type}
        disabled={!!alert}
        options={[
          { value: 'peer_offline', label: 'a peer has been offline for…' },
          { value: 'interface_down', label: 'a WireGuard interface has been down for…' },
          { value: 'transfer_spike', label: 'a peer transfers more than… per hour' },
        ]}
      />
      <TextField label={`Threshold (${THRESHOLD_UNIT[v.type]})`} field="threshold" value={v.threshold} onValue={(x) => form.set('threshold', x)} error={errors.threshold} inputMode="decimal" />
      <SelectField
        label="Notify by"
        field="notify"
        value={v.notify}
        onValue={(x) => form.set('notify', x as Notify)}
        error={errors.notify}
        options={[
          { value: 'email', label: 'E-mail' },
          { value: 'webhook', label: 'Webhook (HTTP POST)' },
        ]}
      />
      <TextField
        label={v.notify === 'email' ? 'E-mail address' : 'Webhook URL'}
        field="target"
        type={v.notify === 'email' ? 'email' : 'url'}
        value={v.target}
        onValue={(x) => form.set('target', x)}
        error={errors.target}
        spellCheck={false}
        autoCapitalize="none"
      />
      <CheckField label="Enabled" field="enabled" checked={v.enabled} onChecked={(x) => form.set('enabled', x)} error={errors.enabled} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onCancel} disabled={form.busy}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={form.busy}>
          {form.busy ? 'Saving…' : alert ? 'Save' : 'Create alert'}
        </button>
      </div>
    </form>
  );
}

export default function Alerts() {
  useDocumentTitle('Alerts');
  const toast = useToast();
  const data = useAsync(async () => {
    const [alerts, settings] = await Promise.all([api.alerts.list(), api.settings.get().catch(() => null as Settings | null)]);
    return { alerts, settings };
  }, []);
  const [editing, setEditing] = useState<Alert | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Alert | null>(null);
  const alerts = data.data?.alerts ?? [];
  const smtpMissing = data.data?.settings && !data.data.settings.smtp_host;
  const usesEmail = alerts.some((a) => a.notify === 'email' && a.enabled);
  const undelivered = alerts.filter((a) => a.last_delivery?.status === 'failed').length;
  const now = useNow(15_000);

  const toggle = async (a: Alert) => {
    try {
      await api.alerts.update(a.id, { enabled: !a.enabled });
      toast(`Alert ${a.enabled ? 'disabled' : 'enabled'}.`);
      data.reload();
    } catch (e) {
      toast(describeError(e), 'bad');
    }
  };

  return (
    <>
      <PageHeader
        title="Alerts"
        subtitle="Get told when peers drop off, interfaces go down or traffic jumps. Each alert also sends a message when it recovers."
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setEditing('new')} disabled={!data.data}>
            New alert
          </button>
        }
      />
      {smtpMissing && usesEmail && (
        <Notice tone="warn">
          E-mail alerts need an SMTP server: <Link to="/settings">set one up in Settings</Link>.
        </Notice>
      )}
      {undelivered > 0 && (
        <Notice tone="bad">
          The latest notice of {undelivered === 1 ? 'one alert' : `${undelivered} alerts`} could not be delivered: see “Last notice” below
          {smtpMissing ? ', and set up an SMTP server in Settings' : ''}.
        </Notice>
      )}
      {data.loading && !data.data ? (
        <Loading rows={3} />
      ) : data.error ? (
        <ErrorState error={data.error} onRetry={data.reload} />
      ) : alerts.length === 0 ? (
        <EmptyState
          title="No alerts"
          action={
            <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>
              Create an alert
            </button>
          }
        >
          Nothing will notify you yet when something goes wrong.
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table className="table responsive">
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Condition</th>
                <th scope="col">Notify</th>
                <th scope="col">State</th>
                <th scope="col">Last notice</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((a) => (
                <tr key={a.id}>
                  <td data-label="Alert" className="strong">
                    {ALERT_LABEL[a.type]}
                  </td>
                  <td data-label="Condition">{describeThreshold(a.type, a.threshold)}</td>
                  <td data-label="Notify" className="break">
                    {a.notify === 'email' ? 'E-mail' : 'Webhook'}: {a.target || 'the alert address in Settings'}
                  </td>
                  <td data-label="State">
                    {!a.enabled ? <Badge>disabled</Badge> : a.state === 'firing' ? <Badge tone="bad">firing</Badge> : <Badge tone="ok">ok</Badge>}
                  </td>
                  <td data-label="Last notice" className={`delivery delivery-${describeDelivery(a.last_delivery, now).tone}`} data-testid="last-notice">
                    {describeDelivery(a.last_delivery, now).text}
                  </td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" onClick={() => setEditing(a)}>
                      Edit
                    </button>
                    <button type="button" className="btn btn-small" onClick={() => void toggle(a)}>
                      {a.enabled ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => setDeleting(a)}>
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
        <Modal title={editing === 'new' ? 'New alert' : 'Edit alert'} onClose={() => setEditing(null)}>
          <AlertForm
            alert={editing === 'new' ? undefined : editing}
            defaultEmail={data.data?.settings?.alert_email ?? ''}
            onCancel={() => setEditing(null)}
            onDone={() => {
              toast(editing === 'new' ? 'Alert created.' : 'Alert saved.');
              setEditing(null);
              data.reload();
            }}
          />
        </Modal>
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete this alert?"
          confirmLabel="Delete alert"
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.alerts.remove(deleting.id);
            toast('Alert deleted.');
            data.reload();
          }}
        >
          <p>
            “{ALERT_LABEL[deleting.type]}, {describeThreshold(deleting.type, deleting.threshold)}” will no longer notify {deleting.target || 'the alert address in Settings'}.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
