// The live status dot of a peer, from the age of its last handshake.
//
//   online  (green) handshake less than 180 s ago — WireGuard re-handshakes every
//                   2 min while traffic flows, so this matches the server's
//                   `online` flag (SPEC §9: online = handshake within 3 minutes)
//   recent  (amber) handshake less than 15 min ago: idle or just dropped off
//   offline (grey)  older, or never
//   disabled (grey, hollow) the peer is disabled in wgpilot
//
// Computed in the browser against server time so the dot also turns amber and
// then grey between SSE events (the server only sends changes).

import type { PeerStatus } from './types';

export const ONLINE_SECONDS = 180;
export const RECENT_SECONDS = 15 * 60;

export type Liveness = 'online' | 'recent' | 'offline' | 'never' | 'disabled';

export function livenessFromHandshake(lastHandshake: number | null | undefined, now: number): Exclude<Liveness, 'disabled'> {
  if (lastHandshake === null || lastHandshake === undefined || lastHandshake <= 0) return 'never';
  const age = Math.max(0, now - lastHandshake);
  if (age < ONLINE_SECONDS) return 'online';
  if (age < RECENT_SECONDS) return 'recent';
  return 'offline';
}

export function peerLiveness(enabled: boolean, status: PeerStatus | undefined, now: number): Liveness {
  if (!enabled) return 'disabled';
  if (!status) return 'never';
  return livenessFromHandshake(status.last_handshake, now);
}

export const LIVENESS_LABEL: Record<Liveness, string> = {
  online: 'Online',
  recent: 'Seen recently',
  offline: 'Offline',
  never: 'Never connected',
  disabled: 'Disabled',
};

/** Order for "sort by status": online first. */
export const LIVENESS_RANK: Record<Liveness, number> = { online: 0, recent: 1, offline: 2, never: 3, disabled: 4 };
