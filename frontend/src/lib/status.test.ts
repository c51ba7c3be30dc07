import { describe, expect, it } from 'vitest';
import { livenessFromHandshake, ONLINE_SECONDS, peerLiveness, RECENT_SECONDS } from './status';
import type { PeerStatus } from './types';

const now = 1_700_000_000;
const status = (last_handshake: number | null): PeerStatus => ({
  peer_id: 1,
  network_id: 1,
  public_key: 'k',
  online: false,
  last_handshake,
  rx_bytes: 0,
  tx_bytes: 0,
  rx_rate: 0,
  tx_rate: 0,
  endpoint: null,
});

describe('status dot thresholds', () => {
  it('uses 3 and 15 minutes', () => {
    expect(ONLINE_SECONDS).toBe(180);
    expect(RECENT_SECONDS).toBe(900);
  });

  it.each([
    [0, 'online'],
    [1, 'online'],
    [179, 'online'],
    [180, 'recent'],
    [600, 'recent'],
    [899, 'recent'],
    [900, 'offline'],
    [86400, 'offline'],
  ])('handshake %d s ago → %s', (age, want) => {
    expect(livenessFromHandshake(now - age, now)).toBe(want);
  });

  it('treats a handshake slightly in the future (clock skew) as now', () => {
    expect(livenessFromHandshake(now + 5, now)).toBe('online');
  });

  it('never connected', () => {
    expect(livenessFromHandshake(null, now)).toBe('never');
    expect(livenessFromHandshake(0, now)).toBe('never');
    expect(peerLiveness(true, undefined, now)).toBe('never');
  });

  it('a disabled peer is disabled whatever its handshake', () => {
    expect(peerLiveness(false, status(now - 1), now)).toBe('disabled');
  });

  it('an enabled peer follows its handshake age', () => {
    expect(peerLiveness(true, status(now - 30), now)).toBe('online');
    expect(peerLiveness(true, status(now - 300), now)).toBe('recent');
    expect(peerLiveness(true, status(now - 3000), now)).toBe('offline');
  });
});
