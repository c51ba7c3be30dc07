import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { serverNow } from './clock';
import { liveStore } from './liveStore';
import type { LiveSnapshot } from './live';

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

/** Keep the SSE streams of these networks open while the component is mounted. */
export function useWatchNetworks(ids: readonly number[]): void {
  const key = [...ids].sort((a, b) => a - b).join(',');
  useEffect(() => {
    if (!key) return;
    const releases = key.split(',').map((id) => liveStore.watch(Number(id)));
    return () => releases.forEach((r) => r());
  }, [key]);
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · wgpilot` : 'wgpilot';
  }, [title]);
}
