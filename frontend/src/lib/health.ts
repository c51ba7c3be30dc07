// What the degraded banner shows: /health plus the kernel flag of /api/status.
// Pages that load /api/status anyway hand it over here (no extra request).

import { useSyncExternalStore } from 'react';
import { api } from './api';
import type { Health, Status } from './types';

export interface HealthState {
  health: Health | null;
  kernelEnabled: boolean | null;
  driver: string | null;
  diagnostics: string[];
  unhealthy: string[];
  unreachable: boolean;
}

let state: HealthState = { health: null, kernelEnabled: null, driver: null, diagnostics: [], unhealthy: [], unreachable: false };
const listeners = new Set<() => void>();

function set(patch: Partial<HealthState>): void {
  state = { ...state, ...patch };
  listeners.forEach((l) => l());
}

export function noteStatus(s: Status): void {
  set({
    kernelEnabled: s.kernel_enabled,
    driver: s.driver,
    diagnostics: s.diagnostics ?? [],
    unhealthy: (s.networks ?? []).filter((n) => n.enabled && !n.healthy).map((n) => n.error ? `${n.name}: ${n.error}` : `${n.name} (${n.interface}) is not healthy`),
  });
}

export async function refreshHealth(withStatus = false): Promise<void> {
  try {
    // Read the body whatever the status: a degraded server may answer 503.
    const res = await fetch('/health', { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
    const body = (await res.json().catch(() => null)) as Health | null;
    set({ health: body && typeof body.status === 'string' ? body : null, unreachable: false });
  } catch {
    set({ unreachable: true });
  }
  if (withStatus) {
    try {
      noteStatus(await api.status());
    } catch {
      /* the page's own loading states cover this */
    }
  }
}

export function resetHealth(): void {
  set({ health: null, kernelEnabled: null, driver: null, diagnostics: [], unhealthy: [], unreachable: false });
}

export function useHealth(): HealthState {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
    () => state,
  );
}

/** Banner text, or null when all is well. Pure, for tests. */
export function degradedMessage(s: HealthState): { title: string; details: string[] } | null {
  if (s.unreachable) return { title: 'The wgpilot server is not reachable. Changes cannot be saved until it is back.', details: [] };
  if (s.kernelEnabled === false) {
    return {
      title: 'WireGuard is not active on this server: the kernel layer is disabled, so changes are saved but no tunnel is running.',
      // The server's diagnostics say why; our own hint only when it gives none.
      details: s.diagnostics.length
        ? s.diagnostics
        : [`Driver: ${s.driver ?? 'none'}. Install the WireGuard kernel module or wireguard-go and restart wgpilot.`],
    };
  }
  if (s.health?.status === 'degraded') {
    const n = s.health.networks;
    const lead = n && n.total > n.healthy ? `${n.total - n.healthy} of ${n.total} networks are not healthy.` : 'Some checks failed.';
    return { title: `wgpilot is degraded. ${lead}`, details: [...s.unhealthy, ...s.diagnostics] };
  }
  return null;
}
