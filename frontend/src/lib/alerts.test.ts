import { describe, expect, it } from 'vitest';
import { checkThreshold, describeThreshold, inputToThreshold, thresholdToInput } from './alerts';

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
