// Server time. Handshake ages ("2 min ago", the status dot) compare a server
// timestamp with "now"; a browser clock that is a few minutes off would turn
// every dot amber. We estimate the offset from the HTTP Date header and the SSE
// heartbeat's `ts`, both with one-second resolution.

let offsetMs = 0;
let known = false;

/** Adopt a server reading (whole seconds) unless the current estimate already fits it. */
export function noteServerSeconds(serverSeconds: number, localMs: number = Date.now()): void {
  if (!Number.isFinite(serverSeconds)) return;
  const lo = serverSeconds * 1000;
  const estimate = localMs + offsetMs;
  // The true server time lies in [lo, lo + 1 s); allow one more second for latency.
  if (known && estimate >= lo - 1000 && estimate < lo + 2000) return;
  offsetMs = lo + 500 - localMs;
  known = true;
}

export function noteServerDate(header: string | null, localMs: number = Date.now()): void {
  if (!header) return;
  const ms = Date.parse(header);
  if (!Number.isNaN(ms)) noteServerSeconds(Math.floor(ms / 1000), localMs);
}

/** Server "now" in unix seconds (fractional). */
export function serverNow(localMs: number = Date.now()): number {
  return (localMs + offsetMs) / 1000;
}

export function resetClock(): void {
  offsetMs = 0;
  known = false;
}
