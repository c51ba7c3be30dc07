import { describe, expect, it } from 'vitest';
import { checkThreshold, describeDelivery, describeThreshold, inputToThreshold, thresholdToInput } from './alerts';

describe('alert thresholds', () => {
  it('converts minutes and MiB/hour both ways', () => {
    expect(inputToThreshold('peer_offline', '15')).toBe(900);
    expect(thresholdToInput('peer_offline', 900)).toBe('15');
    expect(inputToThreshold('interface_down', '1.5')).toBe(90);
    expect(inputToThreshold('transfer_spike', '1024')).toBe(1024 ** 3);
    expect(thresholdToInput('transfer_spike', 512 * 1024 * 1024)).toBe('512');
  });
  it('validates', () => {
    expect(checkThreshold('peer_offline', '15')).toBeNull();
    expect(checkThreshold('peer_offline', '')).toBe('Required.');
    expect(checkThreshold('peer_offline', '0.5')).toContain('1 minute');
    expect(checkThreshold('peer_offline', '-3')).toContain('positive');
    expect(checkThreshold('transfer_spike', '0')).toContain('more than zero');
    expect(checkThreshold('interface_down', '50000')).toContain('30 days');
  });
  it('describes', () => {
    expect(describeThreshold('peer_offline', 900)).toBe('offline for 15 min');
    expect(describeThreshold('transfer_spike', 1024 ** 3)).toBe('more than 1.0 GiB per hour');
  });
});

describe('the latest notice of a rule', () => {
  const now = 1_700_000_000;
  it('says when a notice was not delivered, and why', () => {
    expect(describeDelivery({ status: 'failed', attempts: 6, error: 'SMTP is not configured', attempted_at: now - 120, sent_at: null }, now)).toEqual({
      tone: 'bad',
      text: 'not delivered (gave up 2 min ago after 6 attempts): SMTP is not configured',
    });
    expect(describeDelivery({ status: 'retrying', attempts: 1, error: 'webhook answered HTTP 503', attempted_at: now - 30, sent_at: null }, now)).toEqual({
      tone: 'warn',
      text: 'attempt 1 failed 30 s ago, trying again: webhook answered HTTP 503',
    });
  });
  it('a delivered notice and none at all', () => {
    expect(describeDelivery({ status: 'sent', attempts: 1, error: null, attempted_at: now - 7200, sent_at: now - 7200 }, now)).toEqual({ tone: 'ok', text: 'sent 2 h ago' });
    expect(describeDelivery(null, now)).toEqual({ tone: 'neutral', text: 'no notice sent yet' });
  });
});
