// Whether a page's live stream is up, and, when the server refused it, why.

import type { ConnState } from '../lib/live';

export function LiveIndicator({ conn }: { conn: ConnState | undefined }) {
  return (
    <span className={`live-indicator live-${conn ?? 'connecting'}`} role="status">
      {conn === 'live' ? 'Live' : conn === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'}
    </span>
  );
}

/** The server's reason for refusing the page's stream (e.g. 429 at the stream caps), while it retries. */
export function LiveRefused({ reason }: { reason: string | undefined }) {
  if (!reason) return null;
  return (
    <p className="notice notice-warn" role="alert" data-testid="live-refused">
      Live updates are paused: the server refused this page’s event stream ({reason}). The page keeps trying and goes live again by itself.
    </p>
  );
}
