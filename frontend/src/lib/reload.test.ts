import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReloadThrottle } from './reload';

const timers = { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>) };

describe('reading rows again after changes (useReloadOnChange)', () => {
  let reloads: number;
  let page: ReloadThrottle;

  beforeEach(() => {
    vi.useFakeTimers();
    reloads = 0;
    page = new ReloadThrottle(0, () => reloads++, 200, timers);
  });
  afterEach(() => {
    page.dispose();
    vi.useRealTimers();
  });

  it('reads once, `delay` after a change, and not without one', () => {
    page.update(0, false);
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(0);
    page.update(1, false);
    vi.advanceTimersByTime(199);
    expect(reloads).toBe(0);
    vi.advanceTimersByTime(1);
    expect(reloads).toBe(1);
    page.update(1, false); // re-rendered, nothing new
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(1);
  });

  it('keeps reading during a burst of changes faster than `delay` (a throttle, not a debounce)', () => {
    let count = 0;
    for (let t = 0; t < 2000; t += 100) {
      page.update(++count, false); // a change every 100 ms for 2 s
      vi.advanceTimersByTime(100);
    }
    // one read per 200 ms while the burst lasts; a debounce would not have read at all yet
    expect(reloads).toBe(10);
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(10); // the last read saw every change: nothing left over
  });

  it('a change joins the pending read instead of postponing it', () => {
    page.update(1, false);
    vi.advanceTimersByTime(150);
    page.update(2, false);
    vi.advanceTimersByTime(50);
    expect(reloads).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(1);
  });

  it('never reads while a load is in flight; a change during it reads once it ends', () => {
    page.update(1, true);
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(0);
    page.update(1, false);
    vi.advanceTimersByTime(200);
    expect(reloads).toBe(1);
    // the read starts a load; changes arrive during it
    page.update(1, true);
    page.update(2, true);
    page.update(3, true);
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(1);
    page.update(3, false);
    vi.advanceTimersByTime(200);
    expect(reloads).toBe(2);
  });

  it('a load that starts while a read is pending drops it (the load reads the rows anyway)', () => {
    page.update(1, false);
    vi.advanceTimersByTime(100);
    page.update(1, true); // e.g. the page reloaded after an action of its own
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(0);
    page.update(1, false); // ...but the change is still unhandled: read once more
    vi.advanceTimersByTime(200);
    expect(reloads).toBe(1);
  });

  it('nothing fires after the page unmounts', () => {
    page.update(1, false);
    page.dispose();
    vi.advanceTimersByTime(1000);
    expect(reloads).toBe(0);
  });
});
