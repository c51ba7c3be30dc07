// Human formatting of bytes, rates, durations and times. Pure functions.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB". Binary units; one decimal below 100 of a unit. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  // 1023.96 KiB would round to "1024.0 KiB": show it as the next unit instead.
  if (Number(v.toFixed(1)) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  const digits = v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[i]}`;
}

/** Bytes per second → "12.0 KiB/s"; anything below 1 B/s is idle. */
export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '—';
  if (bytesPerSecond < 1) return '0 B/s';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 90 → "1 min 30 s", 93784 → "1 d 2 h". Two largest units at most. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'min'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([v]) => v > 0);
  if (first === -1) return '0 s';
  return parts
    .slice(first, first + 2)
    .filter(([v]) => v > 0)
    .map(([v, u]) => `${v} ${u}`)
    .join(' ');
}

/**
 * Age of a server timestamp: "just now", "45 s ago", "2 min ago", "3 h ago",
 * "4 d ago", then the date. `now` is server time in seconds.
 */
export function relativeTime(ts: number | null | undefined, now: number): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return 'never';
  const age = now - ts;
  if (age < -5) return `in ${relativeSpan(-age)}`;
  if (age < 10) return 'just now';
  if (age < 30 * 86400) return `${relativeSpan(age)} ago`;
  return formatDate(ts);
}

/**
 * What a peer's expiry says next to its name: "expired" once the time has passed (never
 * "expires 5 min ago"), "expires in 3 d" when it is less than `soon` seconds away, else null.
 */
export function expiryLabel(expiresAt: number | null | undefined, now: number, soon = 7 * 86400): { text: string; expired: boolean } | null {
  if (expiresAt === null || expiresAt === undefined || !Number.isFinite(expiresAt) || expiresAt <= 0) return null;
  if (expiresAt <= now) return { text: 'expired', expired: true };
  if (expiresAt - now >= soon) return null;
  return { text: `expires in ${relativeSpan(expiresAt - now)}`, expired: false };
}

function relativeSpan(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function formatDate(ts: number): string {
  return dateFmt.format(new Date(ts * 1000));
}

export function formatDateTime(ts: number | null | undefined): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts) || ts <= 0) return '—';
  return dateTimeFmt.format(new Date(ts * 1000));
}

export function formatTime(ts: number): string {
  return timeFmt.format(new Date(ts * 1000));
}

/** "1 peer", "3 peers" */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** unix seconds → value for <input type="datetime-local"> (local time) */
export function toLocalInput(ts: number | null | undefined): string {
  if (!ts) return '';
  const d = new Date(ts * 1000);
  const pad = (v: number) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** <input type="datetime-local"> value → unix seconds, or null when empty/invalid */
export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
