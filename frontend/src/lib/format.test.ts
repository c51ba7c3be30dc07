import { describe, expect, it } from 'vitest';
import { expiryLabel, formatBytes, formatDuration, formatRate, fromLocalInput, plural, relativeTime, toLocalInput } from './format';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 * 1024, '10.0 MiB'],
    [123.4 * 1024 * 1024, '123 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [2 * 1024 ** 4, '2.0 TiB'],
  ])('%d → %s', (n, s) => expect(formatBytes(n)).toBe(s));

  it('never shows 1024 of a unit', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
  });

  it('dashes what is not a byte count', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(undefined)).toBe('—');
  });
});

describe('formatRate', () => {
  it('adds /s and treats sub-byte rates as idle', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(0.4)).toBe('0 B/s');
    expect(formatRate(512)).toBe('512 B/s');
    expect(formatRate(2048)).toBe('2.0 KiB/s');
    expect(formatRate(1.5 * 1024 * 1024)).toBe('1.5 MiB/s');
    expect(formatRate(null)).toBe('—');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [45, '45 s'],
    [90, '1 min 30 s'],
    [3600, '1 h'],
    [3660, '1 h 1 min'],
    [93784, '1 d 2 h'],
    [86400 * 3 + 5, '3 d'],
  ])('%d → %s', (n, s) => expect(formatDuration(n)).toBe(s));
});

describe('relativeTime', () => {
  const now = 1_700_000_000;
  it.each([
    [now, 'just now'],
    [now - 9, 'just now'],
    [now - 45, '45 s ago'],
    [now - 120, '2 min ago'],
    [now - 179, '2 min ago'],
    [now - 3599, '59 min ago'],
    [now - 3 * 3600, '3 h ago'],
    [now - 4 * 86400, '4 d ago'],
  ])('%d → %s', (ts, s) => expect(relativeTime(ts, now)).toBe(s));

  it('says never for a missing handshake', () => {
    expect(relativeTime(null, now)).toBe('never');
    expect(relativeTime(0, now)).toBe('never');
  });

  it('tolerates a little clock skew, names the future otherwise', () => {
    expect(relativeTime(now + 3, now)).toBe('just now');
    expect(relativeTime(now + 600, now)).toBe('in 10 min');
  });

  it('falls back to a date after 30 days', () => {
    expect(relativeTime(now - 40 * 86400, now)).not.toMatch(/ago/);
  });
});

describe('helpers', () => {
  it('pluralises', () => {
    expect(plural(1, 'peer')).toBe('1 peer');
    expect(plural(0, 'peer')).toBe('0 peers');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });

  it('round-trips datetime-local values to the minute', () => {
    const ts = 1_700_000_040;
    expect(fromLocalInput(toLocalInput(ts))).toBe(ts);
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('garbage')).toBeNull();
    expect(toLocalInput(null)).toBe('');
  });
});

describe('expiryLabel', () => {
  const now = 1_700_000_000;
  it('says "expired" once the time has passed, never "expires … ago"', () => {
    expect(expiryLabel(now - 300, now)).toEqual({ text: 'expired', expired: true });
    expect(expiryLabel(now, now)).toEqual({ text: 'expired', expired: true });
    expect(expiryLabel(now - 90 * 86400, now)?.text).toBe('expired');
  });
  it('counts down within the week before, and says nothing earlier', () => {
    expect(expiryLabel(now + 300, now)).toEqual({ text: 'expires in 5 min', expired: false });
    expect(expiryLabel(now + 3 * 86400, now)?.text).toBe('expires in 3 d');
    expect(expiryLabel(now + 8 * 86400, now)).toBeNull();
    expect(expiryLabel(null, now)).toBeNull();
  });
});
