// Maths for the hand-written SVG transfer chart. Pure.

import type { StatsPoint } from './types';

/** Round up to 1, 2 or 5 × 10^n (or × 1024^k for byte-ish values above 1 KiB). */
export function niceMax(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  // Work in binary units so the axis reads "2.0 MiB", not "2.1 MiB".
  let unit = 1;
  while (v / unit >= 1024) unit *= 1024;
  const x = v / unit;
  const pow = 10 ** Math.floor(Math.log10(x));
  const m = x / pow;
  const step = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return step * pow * unit;
}

/** Add up several series bucket by bucket (dashboard: all networks). */
export function sumSeries(all: StatsPoint[][]): StatsPoint[] {
  const byTs = new Map<number, StatsPoint>();
  for (const series of all) {
    for (const p of series) {
      const cur = byTs.get(p.timestamp);
      if (cur) {
        cur.rx_bytes += p.rx_bytes;
        cur.tx_bytes += p.tx_bytes;
      } else byTs.set(p.timestamp, { timestamp: p.timestamp, rx_bytes: p.rx_bytes, tx_bytes: p.tx_bytes });
    }
  }
  return [...byTs.values()].sort((a, b) => a.timestamp - b.timestamp);
}

export function totals(series: StatsPoint[]): { rx: number; tx: number; peak: StatsPoint | null } {
  let rx = 0;
  let tx = 0;
  let peak: StatsPoint | null = null;
  for (const p of series) {
    rx += p.rx_bytes;
    tx += p.tx_bytes;
    if (!peak || p.rx_bytes + p.tx_bytes > peak.rx_bytes + peak.tx_bytes) peak = p;
  }
  return { rx, tx, peak };
}

export interface Scale {
  (v: number): number;
}

export function linear(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** SVG path of an area under `values` (one point per timestamp), closed on the baseline. */
export function areaPath(points: { t: number; v: number }[], x: Scale, y: Scale, baseline: number): string {
  if (points.length === 0) return '';
  const f = (n: number) => (Math.round(n * 10) / 10).toString();
  const first = points[0] as { t: number; v: number };
  const last = points[points.length - 1] as { t: number; v: number };
  let d = `M${f(x(first.t))},${f(baseline)}`;
  for (const p of points) d += `L${f(x(p.t))},${f(y(p.v))}`;
  d += `L${f(x(last.t))},${f(baseline)}Z`;
  return d;
}

export function linePath(points: { t: number; v: number }[], x: Scale, y: Scale): string {
  const f = (n: number) => (Math.round(n * 10) / 10).toString();
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(x(p.t))},${f(y(p.v))}`).join('');
}

/** Evenly spaced time ticks at whole hours/days inside [from, to]. */
export function timeTicks(from: number, to: number, maxTicks: number): number[] {
  const span = to - from;
  if (span <= 0 || maxTicks < 1) return [];
  const steps = [300, 900, 1800, 3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];
  const step = steps.find((s) => span / s <= maxTicks) ?? 30 * 86400 * Math.ceil(span / (30 * 86400 * maxTicks));
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

/** Index of the point nearest to time t (points sorted by timestamp). */
export function nearestIndex(series: StatsPoint[], t: number): number {
  if (series.length === 0) return -1;
  let lo = 0;
  let hi = series.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((series[mid] as StatsPoint).timestamp < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs((series[lo - 1] as StatsPoint).timestamp - t) <= Math.abs((series[lo] as StatsPoint).timestamp - t)) return lo - 1;
  return lo;
}

/** Seconds a live chart keeps its window at least (one stats request per minute at most). */
export const CHART_MIN_AGE = 60;

/**
 * Whether a live chart should move its window forward to `now` and fetch again: only
 * when the live counters (SSE) show traffic since the last fetch, and at most once per
 * `minAge` seconds. No traffic, no requests.
 */
export function chartWindowDue(seenBytes: number, liveBytes: number, windowEnd: number, now: number, minAge = CHART_MIN_AGE): boolean {
  return liveBytes > seenBytes && now - windowEnd >= minAge;
}
