import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ToastProvider } from '../components/Toast';
import { ErrorState, Loading } from '../components/ui';
import { api } from '../lib/api';
import { resetHealth } from '../lib/health';
import { setUnauthorizedHandler } from '../lib/http';
import { liveStore } from '../lib/liveStore';
import { navigate, safeNext, useLocation } from '../lib/router';
import type { User } from '../lib/types';
import { Layout } from './Layout';
import { LoginPage } from './LoginPage';
import { resolvePhase, SessionContext, type Phase } from './session';

const Wizard = lazy(() => import('../pages/wizard/Wizard'));

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'boot' });
  // A fresh wizard after every re-check (e.g. a 401 half-way through setup).
  const [epoch, setEpoch] = useState(0);
  const loc = useLocation();
  const resolving = useRef(false);

  const resolve = useCallback(async () => {
    if (resolving.current) return;
    resolving.current = true;
    try {
      setPhase(await resolvePhase());
      setEpoch((e) => e + 1);
    } catch (error) {
      setPhase({ kind: 'boot-error', error });
    } finally {
      resolving.current = false;
    }
  }, []);

  useEffect(() => {
    void resolve();
  }, [resolve]);

  // Any 401: drop live state, then go to the login page or back into the wizard.
  useEffect(() => {
    setUnauthorizedHandler(() => {
      liveStore.reset();
      void resolve();
    });
  }, [resolve]);

  // Keep the address bar honest about where the user is.
  useEffect(() => {
    if (phase.kind === 'setup' && loc.path !== '/setup') navigate('/setup', { replace: true });
    if (phase.kind === 'login' && loc.path !== '/login') {
      const next = loc.path === '/' || loc.path === '/setup' ? '' : `?next=${encodeURIComponent(loc.href)}`;
      navigate(`/login${next}`, { replace: true });
    }
    if (phase.kind === 'app' && (loc.path === '/login' || loc.path === '/setup')) navigate('/', { replace: true });
  }, [phase.kind, loc.path, loc.href]);

  const onLoggedIn = useCallback(
    (user: User) => {
      const next = safeNext(new URLSearchParams(window.location.search).get('next'));
      setPhase({ kind: 'app', user });
      navigate(next, { replace: true });
    },
    [],
  );

  const logout = useCallback(async () => {
    try {
      await api.auth.logout();
    } finally {
      liveStore.reset();
      resetHealth();
      setPhase({ kind: 'login' });
      navigate('/login', { replace: true });
    }
  }, []);

  const session = useMemo(() => (phase.kind === 'app' ? { user: phase.user, logout } : null), [phase, logout]);

  let body;
  switch (phase.kind) {
    case 'boot':
      body = (
        <div className="center-screen">
          <Loading label="Starting wgpilot…" />
        </div>
      );
      break;
    case 'boot-error':
      body = (
        <div className="center-screen">
          <ErrorState title="wgpilot is not answering" error={phase.error} onRetry={() => void resolve()} />
        </div>
      );
      break;
    case 'setup':
      body = (
        <Suspense fallback={<div className="center-screen"><Loading /></div>}>
          <Wizard
            key={epoch}
            status={phase.status}
            onDone={(user) => {
              setPhase({ kind: 'app', user });
              navigate('/', { replace: true });
            }}
          />
        </Suspense>
      );
      break;
    case 'login':
      body = <LoginPage onLoggedIn={onLoggedIn} />;
      break;
    case 'app':
      body = (
        <SessionContext.Provider value={session}>
          <Layout />
        </SessionContext.Provider>
      );
      break;
  }
  return <ToastProvider>{body}</ToastProvider>;
}
