import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { chartWindowDue } from './chart';
import { serverNow } from './clock';
import { liveStore } from './liveStore';
import { changeCount, type LiveSnapshot } from './live';
import { ReloadThrottle } from './reload';
import { Transient } from './transient';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (update: T | ((prev: T | undefined) => T)) => void;
}

/** Run `load` on mount and whenever `deps` change; the latest call wins. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    loadRef.current().then(
      (v) => {
        if (seq.current !== mine) return;
        setDataState(v);
        setLoading(false);
      },
      (e: unknown) => {
        if (seq.current !== mine) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((update: T | ((prev: T | undefined) => T)) => {
    setDataState((prev) => (typeof update === 'function' ? (update as (p: T | undefined) => T)(prev) : update));
  }, []);
  return { data, error, loading, reload, setData };
}

/** Server time in seconds, re-rendering every `everyMs` (relative times, status dots). */
export function useNow(everyMs = 5000): number {
  const [now, setNow] = useState(() => serverNow());
  useEffect(() => {
    const t = window.setInterval(() => setNow(serverNow()), everyMs);
    return () => window.clearInterval(t);
  }, [everyMs]);
  return now;
}

export function useLive(): LiveSnapshot {
  return useSyncExternalStore(liveStore.subscribe, liveStore.getSnapshot, liveStore.getSnapshot);
}

/**
 * Read a page's rows again when the live streams say they changed (`changed` events,
 * or a reconnect): `reload` runs `delay` ms after the count for `networkId` (or
 * ALL_NETWORKS) first moves, then at most once per `delay` while it keeps moving, never
 * while `busy` (a change during a load reloads once it ends). See ReloadThrottle.
 */
export function useReloadOnChange(networkId: number, reload: () => void, busy: boolean, delay = 200): void {
  const count = changeCount(useLive().changes, networkId);
  const reloadRef = useRef(reload);
  reloadRef.current = reload;
  const [throttle] = useState(() => new ReloadThrottle(count, () => reloadRef.current(), delay, windowTimers));
  useEffect(() => throttle.update(count, busy), [throttle, count, busy]);
  useEffect(() => () => throttle.dispose(), [throttle]);
}

const windowTimers = {
  setTimeout: (fn: () => void, ms: number) => window.setTimeout(fn, ms),
  clearTimeout: (h: unknown) => window.clearTimeout(h as number),
};

/** Keep the one SSE stream of every network open while the component is mounted (and `on`). */
export function useWatchAllNetworks(on = true): void {
  useEffect(() => (on ? liveStore.watchAll() : undefined), [on]);
}

/** Keep the SSE streams of these networks open while the component is mounted. */
export function useWatchNetworks(ids: readonly number[]): void {
  const key = [...ids].sort((a, b) => a - b).join(',');
  useEffect(() => {
    if (!key) return;
    const releases = key.split(',').map((id) => liveStore.watch(Number(id)));
    return () => releases.forEach((r) => r());
  }, [key]);
}

/**
 * Call `report` with `value` on mount and whenever `value` changes. The callback is held
 * in a ref: a caller's inline function (a new one each render) neither re-runs it nor,
 * when it sets the caller's state, loops.
 */
export function useReportValue<T>(value: T, report: ((value: T) => void) | undefined): void {
  const ref = useRef(report);
  ref.current = report;
  useEffect(() => ref.current?.(value), [value]);
}

/** A value that falls back to `idle` `ms` after it was set (see Transient): the fallback
 *  timer is replaced by the next set and cleared on unmount. */
export function useTransient<T>(idle: T, ms: number): [T, (value: T) => void] {
  const [value, setValue] = useState(idle);
  const [transient] = useState(() => new Transient(idle, ms, setValue, windowTimers));
  useEffect(() => () => transient.dispose(), [transient]);
  const set = useCallback((next: T) => transient.set(next), [transient]);
  return [value, set];
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · wgpilot` : 'wgpilot';
  }, [title]);
}

/**
 * The time window of a transfer chart: the last `span` seconds, ending at server "now"
 * when the chart mounts or `span` changes. It moves forward to "now" when `liveBytes`
 * (the counters the SSE streams keep current) shows traffic since, at most once a
 * minute, so an open chart picks up new history without a polling loop.
 */
export function useLiveWindow(span: number, liveBytes: number): { from: number; to: number } {
  const [win, setWin] = useState(() => ({ span, to: Math.floor(serverNow()) }));
  const seen = useRef(liveBytes);
  let cur = win;
  if (win.span !== span) {
    // Adjusted while rendering (not in an effect), so no request goes out for the old end.
    cur = { span, to: Math.floor(serverNow()) };
    setWin(cur);
    seen.current = liveBytes;
  }
  const end = cur.to;
  useEffect(() => {
    const now = Math.floor(serverNow());
    if (chartWindowDue(seen.current, liveBytes, end, now)) {
      seen.current = liveBytes;
      setWin((w) => ({ ...w, to: now }));
    } else if (liveBytes < seen.current) seen.current = liveBytes; // counters restarted
  }, [liveBytes, end]);
  return { from: end - cur.span, to: end };
}
