import { beforeEach, describe, expect, it } from 'vitest';
import { noteServerDate, noteServerSeconds, resetClock, serverNow } from './clock';

describe('server clock', () => {
  beforeEach(() => resetClock());

  it('is the local clock until the server says otherwise', () => {
    expect(serverNow(5_000)).toBe(5);
  });

  it('adopts the offset of a server ten minutes ahead', () => {
    const local = 1_700_000_000_000;
    noteServerSeconds(1_700_000_600, local);
    expect(serverNow(local)).toBeCloseTo(1_700_000_600.5, 3);
    expect(serverNow(local + 10_000)).toBeCloseTo(1_700_000_610.5, 3);
  });

  it('keeps a fitting estimate (whole-second readings do not make it jitter)', () => {
    const local = 1_700_000_000_000;
    noteServerSeconds(1_700_000_000, local);
    const first = serverNow(local);
    noteServerSeconds(1_700_000_000, local + 400);
    expect(serverNow(local)).toBe(first);
  });

  it('reads an HTTP Date header', () => {
    const local = Date.parse('2024-01-01T00:00:00Z');
    noteServerDate('Mon, 01 Jan 2024 00:05:00 GMT', local);
    expect(serverNow(local)).toBeCloseTo(local / 1000 + 300.5, 3);
    noteServerDate('not a date', local);
    noteServerDate(null, local);
    expect(serverNow(local)).toBeCloseTo(local / 1000 + 300.5, 3);
  });
});
