import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Transient } from './transient';

const timers = { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>) };

describe('a confirmation that fades (useTransient: "Copied ✓")', () => {
  let shown: string[];
  let copied: Transient<string>;
  beforeEach(() => {
    vi.useFakeTimers();
    shown = [];
    copied = new Transient('idle', 2500, (v) => shown.push(v), timers);
  });
  afterEach(() => vi.useRealTimers());

  it('falls back to idle after its time', () => {
    copied.set('done');
    vi.advanceTimersByTime(2499);
    expect(shown).toEqual(['done']);
    vi.advanceTimersByTime(1);
    expect(shown).toEqual(['done', 'idle']);
  });

  it('a second confirmation gets its whole time (the first fallback does not cut it short)', () => {
    copied.set('done');
    vi.advanceTimersByTime(2000);
    copied.set('failed');
    vi.advanceTimersByTime(2000);
    expect(shown).toEqual(['done', 'failed']);
    vi.advanceTimersByTime(500);
    expect(shown).toEqual(['done', 'failed', 'idle']);
  });

  it('nothing is shown after the component is gone', () => {
    copied.set('done');
    copied.dispose();
    vi.advanceTimersByTime(10_000);
    expect(shown).toEqual(['done']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
