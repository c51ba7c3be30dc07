// Where the app starts: the wizard (setup incomplete), the login page, or the
// app itself. Decided from /api/setup/status and /api/auth/me.

import { createContext, useContext } from 'react';
import { api } from '../lib/api';
import { ApiError } from '../lib/errors';
import type { SetupStatus, User } from '../lib/types';

export type Phase =
  | { kind: 'boot' }
  | { kind: 'boot-error'; error: unknown }
  | { kind: 'setup'; status: SetupStatus }
  | { kind: 'login' }
  | { kind: 'app'; user: User };

/** 401/403/404/409 from setup/status all mean "setup is over" (the endpoint may be closed after it). */
export function setupIsOver(e: unknown): boolean {
  return e instanceof ApiError && [401, 403, 404, 409].includes(e.status);
}

export async function resolvePhase(): Promise<Phase> {
  let status: SetupStatus | null = null;
  try {
    status = await api.setup.status();
  } catch (e) {
    if (!setupIsOver(e)) throw e;
  }
  if (status && !status.setup_complete) return { kind: 'setup', status };
  try {
    return { kind: 'app', user: await api.auth.me() };
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return { kind: 'login' };
    throw e;
  }
}

export interface Session {
  user: User;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside the signed-in app');
  return s;
}
