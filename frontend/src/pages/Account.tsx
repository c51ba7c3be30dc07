import { useSession } from '../app/session';
import { FormErrors, TextField } from '../components/fields';
import { useToast } from '../components/Toast';
import { Card, PageHeader } from '../components/ui';
import { api } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { useForm } from '../lib/form';
import { useDocumentTitle } from '../lib/hooks';
import { checkPassword, collect, passwordWarning } from '../lib/validate';

export function validatePasswordChange(v: { current_password: string; new_password: string; confirm: string }): Record<string, string> {
  const errs = collect({
    current_password: v.current_password ? null : 'Enter your current password.',
    new_password: checkPassword(v.new_password),
    confirm: v.confirm === v.new_password ? null : 'The two passwords differ.',
  });
  if (!errs.new_password && v.new_password === v.current_password) errs.new_password = 'Choose a password different from the current one.';
  return errs;
}

export default function Account() {
  useDocumentTitle('Account');
  const { user, logout } = useSession();
  const toast = useToast();
  const form = useForm({ current_password: '', new_password: '', confirm: '' }, validatePasswordChange);
  const { values: v, errors } = form;
  const warn = passwordWarning(v.new_password);
  const onSubmit = form.submit(async (vals) => {
    await api.auth.changePassword(vals.current_password, vals.new_password);
    form.setAll({ current_password: '', new_password: '', confirm: '' });
    toast('Password changed. Other sessions were signed out.');
  });
  return (
    <>
      <PageHeader title="Account" />
      <Card title="Signed in">
        <dl className="facts">
          <div>
            <dt>Username</dt>
            <dd>{user.username}</dd>
          </div>
          <div>
            <dt>Role</dt>
            <dd>{user.role}</dd>
          </div>
          {user.created_at ? (
            <div>
              <dt>Created</dt>
              <dd>{formatDateTime(user.created_at)}</dd>
            </div>
          ) : null}
        </dl>
        <button type="button" className="btn" onClick={() => void logout()}>
          Log out
        </button>
      </Card>
      <Card title="Change password">
        <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack narrow">
          <FormErrors messages={form.general} />
          <TextField label="Current password" field="current_password" type="password" value={v.current_password} onValue={(x) => form.set('current_password', x)} error={errors.current_password} autoComplete="current-password" />
          <TextField
            label="New password"
            field="new_password"
            type="password"
            value={v.new_password}
            onValue={(x) => form.set('new_password', x)}
            error={errors.new_password}
            hint={warn ?? 'At least 10 characters. A passphrase of a few words is easy to type and hard to guess.'}
            autoComplete="new-password"
          />
          <TextField label="New password again" field="confirm" type="password" value={v.confirm} onValue={(x) => form.set('confirm', x)} error={errors.confirm} autoComplete="new-password" />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={form.busy}>
              {form.busy ? 'Saving…' : 'Change password'}
            </button>
          </div>
        </form>
      </Card>
    </>
  );
}
