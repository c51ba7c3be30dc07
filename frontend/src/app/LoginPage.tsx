import { useState } from 'react';
import { FormErrors, TextField } from '../components/fields';
import { ThemeToggle } from '../components/ThemeToggle';
import { api } from '../lib/api';
import { ApiError } from '../lib/errors';
import { useForm } from '../lib/form';
import { useDocumentTitle } from '../lib/hooks';
import type { User } from '../lib/types';
import { collect } from '../lib/validate';

export function LoginForm({ onLoggedIn, submitLabel = 'Sign in' }: { onLoggedIn: (u: User) => void; submitLabel?: string }) {
  const [ended] = useState(() => new URLSearchParams(window.location.search).has('next'));
  const form = useForm({ username: '', password: '' }, (v) =>
    collect({ username: v.username.trim() ? null : 'Enter your username.', password: v.password ? null : 'Enter your password.' }),
  );
  const { values, errors } = form;

  const onSubmit = form.submit(async (v) => {
    try {
      const res = await api.auth.login(v.username.trim(), v.password);
      onLoggedIn(res.user);
    } catch (e) {
      // Never say which of the two was wrong; keep the username, clear the password.
      form.set('password', '');
      if (e instanceof ApiError && e.status === 401)
        throw new ApiError(401, e.code, 'Wrong username or password.', [], null);
      if (e instanceof ApiError && e.status === 429)
        throw new ApiError(429, e.code, `Too many sign-in attempts. Try again in ${e.retryAfter ?? 60} seconds.`, [], e.retryAfter);
      throw e;
    }
  });

  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="stack">
      {ended && form.general.length === 0 && <p className="notice notice-info">Please sign in to continue.</p>}
      <FormErrors messages={form.general} />
      <TextField
        label="Username"
        field="username"
        value={values.username}
        onValue={(v) => form.set('username', v)}
        error={errors.username}
        autoComplete="username"
        autoCapitalize="none"
        spellCheck={false}
        autoFocus
      />
      <TextField
        label="Password"
        field="password"
        type="password"
        value={values.password}
        onValue={(v) => form.set('password', v)}
        error={errors.password}
        autoComplete="current-password"
      />
      <button type="submit" className="btn btn-primary btn-block" disabled={form.busy}>
        {form.busy ? 'Signing in…' : submitLabel}
      </button>
    </form>
  );
}

export function LoginPage({ onLoggedIn }: { onLoggedIn: (u: User) => void }) {
  useDocumentTitle('Sign in');
  return (
    <div className="auth-screen">
      <main className="auth-card" id="main">
        <div className="brand brand-large">
          <img src="/favicon.svg" alt="" width={36} height={36} />
          <span>wgpilot</span>
        </div>
        <h1>Sign in</h1>
        <LoginForm onLoggedIn={onLoggedIn} />
      </main>
      <footer className="screen-foot">
        <ThemeToggle />
      </footer>
    </div>
  );
}
