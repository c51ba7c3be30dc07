// Live peer status: one client cache fed by SSE streams.
//
//   GET /api/networks/{id}/events   one network
//   GET /api/events                 every network (ALL_NETWORKS); peers carry network_id
//     event: snapshot   {peers: [PeerStatus]}   first, after every (re)connect
//     event: status     {peers: [PeerStatus]}   only the peers that changed
//     event: changed    {kind, network_id}      the network or its peers changed in the
//                                               database (null: everything, a restore)
//     event: heartbeat  {ts}                    every 15 s
//
// A snapshot replaces what the cache holds for its scope (one network, or all of
// them: peers deleted in the meantime disappear); a status event merges into it,
// each peer into its own network_id. Pages subscribe to a stream while they show
// it (reference counted); a dropped stream is reopened with exponential backoff,
// and a stream that stays silent past three missed heartbeats is treated as
// dropped. Nothing here polls.
//
// A stream the server refuses outright (429 at the stream caps, 503 when busy, 401 when
// the session ended) ends as CLOSED with no status to read; the store asks `whyRefused`
// and keeps its answer for that stream until it is live again, so a page can say why
// it is reconnecting instead of only that it is.
//
// Status events only patch peers a page already has. What the page shows of the rows
// themselves (peers added, removed, disabled, renamed — by this tab, another one, or
// the CLI) it reads again when the store's change count for that network moves: on a
// `changed` event, and on a snapshot after a reconnect (events may have been missed).

import { noteServerSeconds } from './clock';
import type { PeerStatus } from './types';

export type PeerCache = ReadonlyMap<number, PeerStatus>;
export type ConnState = 'connecting' | 'live' | 'reconnecting';

/** The stream key of `GET /api/events` (network ids start at 1). */
export const ALL_NETWORKS = 0;

function isStatus(v: unknown): v is Partial<PeerStatus> & { peer_id: number } {
  return typeof v === 'object' && v !== null && typeof (v as PeerStatus).peer_id === 'number';
}

function peersOf(data: unknown): (Partial<PeerStatus> & { peer_id: number })[] {
  const peers = typeof data === 'object' && data !== null ? (data as { peers?: unknown }).peers : undefined;
  return Array.isArray(peers) ? peers.filter(isStatus) : [];
}

function complete(p: Partial<PeerStatus> & { peer_id: number }, networkId: number, old?: PeerStatus): PeerStatus {
  return {
    peer_id: p.peer_id,
    network_id: networkId,
    public_key: p.public_key ?? old?.public_key ?? '',
    online: p.online ?? old?.online ?? false,
    last_handshake: p.last_handshake !== undefined ? p.last_handshake : (old?.last_handshake ?? null),
    rx_bytes: p.rx_bytes ?? old?.rx_bytes ?? 0,
    tx_bytes: p.tx_bytes ?? old?.tx_bytes ?? 0,
    rx_rate: p.rx_rate ?? old?.rx_rate ?? 0,
    tx_rate: p.tx_rate ?? old?.tx_rate ?? 0,
    endpoint: p.endpoint !== undefined ? p.endpoint : (old?.endpoint ?? null),
  };
}

/** The network an entry belongs to: its own network_id, else what the cache knew, else the
 *  stream's network; null for an unknown peer without network_id on the ALL stream. */
function networkOf(p: Partial<PeerStatus>, scope: number, old?: PeerStatus): number | null {
  if (typeof p.network_id === 'number') return p.network_id;
  if (old) return old.network_id;
  return scope === ALL_NETWORKS ? null : scope;
}

/**
 * `snapshot` event: the peers of `scope` (one network id, or ALL_NETWORKS for every
 * network) are exactly these. Returns a new map.
 */
export function applySnapshot(cache: PeerCache, scope: number, data: unknown): Map<number, PeerStatus> {
  const next = new Map<number, PeerStatus>();
  if (scope !== ALL_NETWORKS) for (const [id, s] of cache) if (s.network_id !== scope) next.set(id, s);
  for (const p of peersOf(data)) {
    const nid = networkOf(p, scope);
    if (nid !== null) next.set(p.peer_id, complete(p, nid));
  }
  return next;
}

/** `status` event: merge the changed peers (fields absent from an entry are kept). */
export function applyStatus(cache: PeerCache, scope: number, data: unknown): Map<number, PeerStatus> {
  const next = new Map(cache);
  for (const p of peersOf(data)) {
    const old = cache.get(p.peer_id);
    const nid = networkOf(p, scope, old);
    if (nid !== null) next.set(p.peer_id, complete(p, nid, old));
  }
  return next;
}

/** The state of the stream that keeps network `networkId` live: its own, or the ALL stream. */
export function connOf(conn: Readonly<Record<number, ConnState>>, networkId: number): ConnState | undefined {
  const own = conn[networkId];
  const all = conn[ALL_NETWORKS];
  if (own === 'live' || all === 'live') return 'live';
  return own ?? all;
}

/** 1 s, 2 s, 4 s … capped at 30 s, with up to 20 % random spread. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt));
  return Math.round(base * (1 + 0.2 * random()));
}

export const HEARTBEAT_TIMEOUT_MS = 45_000;

/** How often the rows of each network changed, as far as the streams told. */
export interface ChangeCounts {
  /** every change of any network (what an all-networks page follows) */
  any: number;
  /** changes of everything at once (a restore); part of every network's count */
  everything: number;
  byNetwork: Readonly<Record<number, number>>;
}

export const NO_CHANGES: ChangeCounts = { any: 0, everything: 0, byNetwork: {} };

/** A `changed` event of stream `scope`: count it for its network (null: for every network). */
export function applyChanged(counts: ChangeCounts, scope: number, data: unknown): ChangeCounts {
  const raw = typeof data === 'object' && data !== null ? (data as { network_id?: unknown }).network_id : undefined;
  const nid = typeof raw === 'number' ? raw : raw === null ? null : scope === ALL_NETWORKS ? null : scope;
  return countChange(counts, nid);
}

function countChange(counts: ChangeCounts, nid: number | null): ChangeCounts {
  if (nid === null || nid === ALL_NETWORKS) return { ...counts, any: counts.any + 1, everything: counts.everything + 1 };
  return { ...counts, any: counts.any + 1, byNetwork: { ...counts.byNetwork, [nid]: (counts.byNetwork[nid] ?? 0) + 1 } };
}

/** The change count a page showing network `networkId` (or ALL_NETWORKS) follows. */
export function changeCount(counts: ChangeCounts, networkId: number): number {
  if (networkId === ALL_NETWORKS) return counts.any;
  return counts.everything + (counts.byNetwork[networkId] ?? 0);
}

// ---- the store ---------------------------------------------------------------

export interface LiveSnapshot {
  peers: PeerCache;
  conn: Readonly<Record<number, ConnState>>;
  changes: ChangeCounts;
  /** why the server refused a stream that is not live (yet), by stream key */
  refused: Readonly<Record<number, string>>;
}

/** The subset of EventSource we use, so tests can hand in a fake. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export interface LiveDeps {
  open: (url: string) => EventSourceLike;
  /** the stream URL of a network id, or of ALL_NETWORKS */
  urlFor: (networkId: number) => string;
  /** a stream was refused outright: why, in words for the page (null: nothing to say,
   *  e.g. the session ended and the app is already on its way to the login page) */
  whyRefused?: (url: string) => Promise<string | null>;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  random?: () => number;
}

interface Conn {
  refs: number;
  es: EventSourceLike | null;
  attempt: number;
  retry: unknown;
  watchdog: unknown;
  /** a snapshot arrived before: the next one follows a gap in which changes may be lost */
  synced: boolean;
}

export class LiveStore {
  private state: LiveSnapshot = { peers: new Map(), conn: {}, changes: NO_CHANGES, refused: {} };
  private readonly listeners = new Set<() => void>();
  private readonly conns = new Map<number, Conn>();

  constructor(private readonly deps: LiveDeps) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot => this.state;

  /** Keep every network live (one `/api/events` stream) until the returned function is called. */
  watchAll(): () => void {
    return this.watch(ALL_NETWORKS);
  }

  /** Keep network `id` (or ALL_NETWORKS) live while the returned function has not been called. */
  watch(networkId: number): () => void {
    let c = this.conns.get(networkId);
    if (!c) {
      c = { refs: 0, es: null, attempt: 0, retry: null, watchdog: null, synced: false };
      this.conns.set(networkId, c);
      this.connect(networkId, c);
    }
    c.refs += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const cur = this.conns.get(networkId);
      if (!cur) return;
      cur.refs -= 1;
      if (cur.refs <= 0) this.stop(networkId, cur);
    };
  }

  /** Fill in statuses from /api/status for networks that have no live stream. */
  seed(statuses: PeerStatus[]): void {
    const byNet = new Map<number, PeerStatus[]>();
    for (const s of statuses) {
      if (connOf(this.state.conn, s.network_id) === 'live') continue;
      const list = byNet.get(s.network_id) ?? [];
      list.push(s);
      byNet.set(s.network_id, list);
    }
    if (byNet.size === 0) return;
    let peers: PeerCache = this.state.peers;
    for (const [nid, list] of byNet) peers = applyStatus(peers, nid, { peers: list });
    this.set({ ...this.state, peers });
  }

  /** Forget everything (logout). */
  reset(): void {
    for (const [id, c] of [...this.conns]) this.stop(id, c);
    this.set({ peers: new Map(), conn: {}, changes: NO_CHANGES, refused: {} });
  }

  private set(next: LiveSnapshot): void {
    this.state = next;
    for (const l of [...this.listeners]) l();
  }

  private setConn(networkId: number, state: ConnState | null): void {
    const conn = { ...this.state.conn };
    if (state === null) delete conn[networkId];
    else conn[networkId] = state;
    let refused = this.state.refused;
    if ((state === null || state === 'live') && networkId in refused) {
      const rest: Record<number, string> = { ...refused };
      delete rest[networkId];
      refused = rest;
    }
    this.set({ ...this.state, conn, refused });
  }

  private noteRefused(networkId: number, c: Conn, url: string): void {
    const why = this.deps.whyRefused;
    if (!why) return;
    why(url).then(
      (reason) => {
        // Too late if the stream went live (or nobody watches) in the meantime.
        if (reason === null || this.conns.get(networkId) !== c || this.state.conn[networkId] === 'live') return;
        this.set({ ...this.state, refused: { ...this.state.refused, [networkId]: reason } });
      },
      () => undefined,
    );
  }

  private connect(networkId: number, c: Conn): void {
    this.setConn(networkId, c.attempt === 0 ? 'connecting' : 'reconnecting');
    const url = this.deps.urlFor(networkId);
    const es = this.deps.open(url);
    c.es = es;
    this.armWatchdog(networkId, c);
    const parse = (ev: MessageEvent): unknown => {
      try {
        return JSON.parse(String(ev.data));
      } catch {
        return null;
      }
    };
    es.addEventListener('snapshot', (ev) => {
      if (c.es !== es) return;
      c.attempt = 0;
      this.armWatchdog(networkId, c);
      const changes = c.synced ? countChange(this.state.changes, networkId) : this.state.changes;
      c.synced = true;
      this.state = { ...this.state, peers: applySnapshot(this.state.peers, networkId, parse(ev)), changes };
      this.setConn(networkId, 'live');
    });
    es.addEventListener('changed', (ev) => {
      if (c.es !== es) return;
      this.armWatchdog(networkId, c);
      this.set({ ...this.state, changes: applyChanged(this.state.changes, networkId, parse(ev)) });
    });
    es.addEventListener('status', (ev) => {
      if (c.es !== es) return;
      this.armWatchdog(networkId, c);
      this.set({ ...this.state, peers: applyStatus(this.state.peers, networkId, parse(ev)) });
    });
    es.addEventListener('heartbeat', (ev) => {
      if (c.es !== es) return;
      this.armWatchdog(networkId, c);
      const data = parse(ev);
      const ts = typeof data === 'object' && data !== null ? (data as { ts?: unknown }).ts : undefined;
      if (typeof ts === 'number') noteServerSeconds(Math.floor(ts));
    });
    es.onerror = () => {
      if (c.es !== es) return;
      // EventSource retries by itself only after a network error; a refused
      // stream (401, 404, wrong type) ends CLOSED. Either way we take over so
      // the backoff is ours and the page shows "reconnecting".
      const refused = es.readyState === 2;
      this.drop(networkId, c);
      if (refused) this.noteRefused(networkId, c, url);
    };
  }

  private armWatchdog(networkId: number, c: Conn): void {
    if (c.watchdog !== null) this.deps.clearTimeout(c.watchdog);
    c.watchdog = this.deps.setTimeout(() => {
      c.watchdog = null;
      this.drop(networkId, c);
    }, HEARTBEAT_TIMEOUT_MS);
  }

  private drop(networkId: number, c: Conn): void {
    if (this.conns.get(networkId) !== c) return;
    c.es?.close();
    c.es = null;
    if (c.watchdog !== null) this.deps.clearTimeout(c.watchdog);
    c.watchdog = null;
    if (c.retry !== null) return;
    this.setConn(networkId, 'reconnecting');
    const delay = backoffDelay(c.attempt, this.deps.random);
    c.attempt += 1;
    c.retry = this.deps.setTimeout(() => {
      c.retry = null;
      if (this.conns.get(networkId) === c) this.connect(networkId, c);
    }, delay);
  }

  private stop(networkId: number, c: Conn): void {
    c.es?.close();
    c.es = null;
    if (c.retry !== null) this.deps.clearTimeout(c.retry);
    if (c.watchdog !== null) this.deps.clearTimeout(c.watchdog);
    c.retry = null;
    c.watchdog = null;
    this.conns.delete(networkId);
    this.setConn(networkId, null);
  }
}
