// Alert thresholds: the API counts seconds (offline, down) or bytes per hour
// (spike); people think in minutes and MiB/hour. Pure.

import { formatBytes, formatDuration, plural, relativeTime } from './format';
import type { AlertDelivery, AlertType } from './types';

export const ALERT_LABEL: Record<AlertType, string> = {
  peer_offline: 'Peer offline',
  interface_down: 'Interface down',
  transfer_spike: 'Transfer spike',
};

export const THRESHOLD_UNIT: Record<AlertType, string> = {
  peer_offline: 'minutes',
  interface_down: 'minutes',
  transfer_spike: 'MiB per hour',
};

const MIB = 1024 * 1024;

/** API threshold → the number shown in the form. */
export function thresholdToInput(type: AlertType, threshold: number): string {
  if (type === 'transfer_spike') return String(Math.round((threshold / MIB) * 100) / 100);
  return String(Math.round((threshold / 60) * 100) / 100);
}

/** Form number → API threshold (integer seconds or bytes/hour). */
export function inputToThreshold(type: AlertType, value: string): number {
  const n = Number(value);
  return type === 'transfer_spike' ? Math.round(n * MIB) : Math.round(n * 60);
}

export function checkThreshold(type: AlertType, value: string): string | null {
  const s = value.trim();
  if (!s) return 'Required.';
  if (!/^\d+(\.\d+)?$/.test(s)) return 'Must be a positive number.';
  const n = inputToThreshold(type, s);
  if (n <= 0) return 'Must be more than zero.';
  if (type !== 'transfer_spike' && n < 60) return 'At least 1 minute.';
  if (type !== 'transfer_spike' && n > 30 * 86400) return 'At most 30 days.';
  return null;
}

export function describeThreshold(type: AlertType, threshold: number): string {
  if (type === 'transfer_spike') return `more than ${formatBytes(threshold)} per hour`;
  if (type === 'peer_offline') return `offline for ${formatDuration(threshold)}`;
  return `down for ${formatDuration(threshold)}`;
}

/** The outcome of a rule's latest notice, as the Alerts page shows it. `now`: server seconds. */
export function describeDelivery(d: AlertDelivery | null, now: number): { tone: 'ok' | 'warn' | 'bad' | 'neutral'; text: string } {
  if (!d) return { tone: 'neutral', text: 'no notice sent yet' };
  const when = relativeTime(d.attempted_at, now);
  if (d.status === 'sent') return { tone: 'ok', text: `sent ${when}` };
  const why = d.error ? `: ${d.error}` : '';
  if (d.status === 'retrying') return { tone: 'warn', text: `attempt ${d.attempts} failed ${when}, trying again${why}` };
  return { tone: 'bad', text: `not delivered (gave up ${when} after ${plural(d.attempts, 'attempt')})${why}` };
}
