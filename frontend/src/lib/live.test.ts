import { beforeEach, describe, expect, it } from 'vitest';
import { resetClock, serverNow } from './clock';
import {
  ALL_NETWORKS,
  applyChanged,
  applySnapshot,
  applyStatus,
  backoffDelay,
  changeCount,
  connOf,
  HEARTBEAT_TIMEOUT_MS,
  LiveStore,
  NO_CHANGES,
  type EventSourceLike,
} from './live';
import type { PeerStatus } from './types';

const st = (peer_id: number, network_id: number, extra: Partial<PeerStatus> = {}): PeerStatus => ({
  peer_id,
  network_id,
  public_key: `key${peer_id}`,
  online: false,
  last_handshake: null,
  rx_bytes: 0,
  tx_bytes: 0,
  rx_rate: 0,
  tx_rate: 0,
  endpoint: null,
  ...extra,
});

describe('merging SSE events into the cache', () => {
  it('a snapshot replaces that network only', () => {
    let cache: Map<number, PeerStatus> = new Map([
      [1, st(1, 10)],
      [2, st(2, 10)],
      [3, st(3, 20)],
    ]);
    cache = applySnapshot(cache, 10, { peers: [st(1, 10, { online: true }), st(4, 10)] });
    expect([...cache.keys()].sort()).toEqual([1, 3, 4]);
    expect(cache.get(1)?.online).toBe(true);
    expect(cache.get(3)).toEqual(st(3, 20));
  });

  it('a status event merges changed peers and keeps the rest', () => {
    const before = new Map([
      [1, st(1, 10, { rx_bytes: 100, last_handshake: 5 })],
      [2, st(2, 10, { rx_bytes: 7 })],
    ]);
    const after = applyStatus(before, 10, { peers: [{ peer_id: 1, online: true, last_handshake: 50, rx_rate: 12 }] });
    expect(after.get(1)).toMatchObject({ online: true, last_handshake: 50, rx_rate: 12, rx_bytes: 100, public_key: 'key1' });
    expect(after.get(2)).toBe(before.get(2));
    expect(before.get(1)?.online).toBe(false); // inputs are not mutated
  });

  it('a status event can clear a handshake or an endpoint explicitly', () => {
    const before = new Map([[1, st(1, 10, { last_handshake: 5, endpoint: '1.2.3.4:5' })]]);
    const after = applyStatus(before, 10, { peers: [{ peer_id: 1, last_handshake: null, endpoint: null }] });
    expect(after.get(1)?.last_handshake).toBeNull();
    expect(after.get(1)?.endpoint).toBeNull();
  });

  it('a status event for an unknown peer adds it to the event network', () => {
    const after = applyStatus(new Map(), 10, { peers: [{ peer_id: 9, online: true }] });
    expect(after.get(9)).toMatchObject({ peer_id: 9, network_id: 10, online: true, rx_bytes: 0 });
  });

  it('ignores malformed payloads', () => {
    const before = new Map([[1, st(1, 10)]]);
    expect(applyStatus(before, 10, null).get(1)).toEqual(st(1, 10));
    expect(applyStatus(before, 10, { peers: 'x' }).size).toBe(1);
    expect(applyStatus(before, 10, { peers: [{ nope: 1 }, 5] }).size).toBe(1);
    expect(applySnapshot(before, 10, { peers: [{ peer_id: 'x' }] }).size).toBe(0);
  });
});

describe('merging events of the all-networks stream (GET /api/events)', () => {
  it('a snapshot replaces every network, each peer under its own network_id', () => {
    const before = new Map([
      [1, st(1, 10, { online: true })],
      [2, st(2, 20)],
      [3, st(3, 30)], // its network was deleted meanwhile: not in the snapshot
    ]);
    const after = applySnapshot(before, ALL_NETWORKS, { peers: [st(1, 10), st(2, 20, { rx_bytes: 5 }), st(4, 40)] });
    expect([...after.keys()].sort()).toEqual([1, 2, 4]);
    expect(after.get(1)).toEqual(st(1, 10));
    expect(after.get(2)?.rx_bytes).toBe(5);
    expect(after.get(4)?.network_id).toBe(40);
    expect([...after.values()].every((s) => s.network_id !== ALL_NETWORKS)).toBe(true);
  });

  it('an empty snapshot empties the cache', () => {
    expect(applySnapshot(new Map([[1, st(1, 10)]]), ALL_NETWORKS, { peers: [] }).size).toBe(0);
  });

  it('a status event merges the changed peers of several networks by network_id', () => {
    const before = new Map([
      [1, st(1, 10, { rx_bytes: 100 })],
      [2, st(2, 20, { rx_bytes: 200 })],
      [3, st(3, 30, { rx_bytes: 300 })],
    ]);
    const after = applyStatus(before, ALL_NETWORKS, {
      peers: [
        { peer_id: 1, network_id: 10, online: true, last_handshake: 99 },
        { peer_id: 2, network_id: 20, rx_rate: 7 },
        { peer_id: 5, network_id: 50, online: true },
      ],
    });
    expect(after.get(1)).toMatchObject({ network_id: 10, online: true, last_handshake: 99, rx_bytes: 100 });
    expect(after.get(2)).toMatchObject({ network_id: 20, rx_rate: 7, rx_bytes: 200, online: false });
    expect(after.get(3)).toBe(before.get(3));
    expect(after.get(5)).toMatchObject({ network_id: 50, online: true, rx_bytes: 0 });
  });

  it('an entry without network_id keeps the network the cache knew, and an unknown one is dropped', () => {
    const before = new Map([[1, st(1, 10)]]);
    const after = applyStatus(before, ALL_NETWORKS, { peers: [{ peer_id: 1, online: true }, { peer_id: 9, online: true }] });
    expect(after.get(1)).toMatchObject({ network_id: 10, online: true });
    expect(after.has(9)).toBe(false);
    expect(applySnapshot(before, ALL_NETWORKS, { peers: [{ peer_id: 9 }] }).size).toBe(0);
  });

  it('a per-network snapshot after an all-networks one replaces only that network', () => {
    let cache = applySnapshot(new Map(), ALL_NETWORKS, { peers: [st(1, 10), st(2, 20)] });
    cache = applySnapshot(cache, 20, { peers: [st(3, 20)] });
    expect([...cache.keys()].sort()).toEqual([1, 3]);
  });

  it('the connection state of a network is its own stream or the all-networks one', () => {
    expect(connOf({}, 10)).toBeUndefined();
    expect(connOf({ [ALL_NETWORKS]: 'live' }, 10)).toBe('live');
    expect(connOf({ [ALL_NETWORKS]: 'reconnecting', 10: 'live' }, 10)).toBe('live');
    expect(connOf({ [ALL_NETWORKS]: 'reconnecting' }, 10)).toBe('reconnecting');
    expect(connOf({ 10: 'connecting' }, 10)).toBe('connecting');
  });
});

describe('changes of the rows themselves (event: changed)', () => {
  it('counts a change for its network and for every all-networks page', () => {
    let c = applyChanged(NO_CHANGES, 10, { kind: 'peers', network_id: 10 });
    c = applyChanged(c, ALL_NETWORKS, { kind: 'networks', network_id: 20 });
    expect([changeCount(c, 10), changeCount(c, 20), changeCount(c, 30), changeCount(c, ALL_NETWORKS)]).toEqual([1, 1, 0, 2]);
  });

  it('a change of everything (a restore) counts for every network', () => {
    const c = applyChanged(applyChanged(NO_CHANGES, 10, { network_id: 10 }), 10, { kind: 'restore', network_id: null });
    expect([changeCount(c, 10), changeCount(c, 99), changeCount(c, ALL_NETWORKS)]).toEqual([2, 1, 2]);
  });

  it('an event without network_id belongs to its stream', () => {
    expect(changeCount(applyChanged(NO_CHANGES, 7, {}), 7)).toBe(1);
    expect(changeCount(applyChanged(NO_CHANGES, ALL_NETWORKS, null), 3)).toBe(1);
  });
});

describe('backoff', () => {
  it('doubles from 1 s and stops at 30 s', () => {
    const none = () => 0;
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, none))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(backoffDelay(0, () => 1)).toBe(1200);
  });
});

// ---- the store with a fake EventSource and fake timers ---------------------

class FakeES implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  private handlers = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), listener]);
  }
  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data: unknown): void {
    this.readyState = 1;
    for (const h of this.handlers.get(type) ?? []) h({ data: JSON.stringify(data) } as MessageEvent);
  }
  fail(refused = false): void {
    this.readyState = refused ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
}

class Timers {
  now = 0;
  private next = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  set = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };
  clear = (h: unknown): void => {
    this.pending.delete(h as number);
  };
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
  get count(): number {
    return this.pending.size;
  }
}

describe('LiveStore', () => {
  let opened: FakeES[];
  let timers: Timers;
  let refused: string[];
  let reason: string | null;
  let store: LiveStore;

  beforeEach(() => {
    opened = [];
    timers = new Timers();
    refused = [];
    reason = null;
    resetClock();
    store = new LiveStore({
      open: (url) => {
        const es = new FakeES(url);
        opened.push(es);
        return es;
      },
      urlFor: (id) => (id === ALL_NETWORKS ? '/api/events' : `/api/networks/${id}/events`),
      whyRefused: async (url) => {
        refused.push(url);
        return reason;
      },
      setTimeout: timers.set,
      clearTimeout: timers.clear,
      random: () => 0,
    });
  });

  it('opens one stream per network however many watchers', () => {
    const a = store.watch(1);
    const b = store.watch(1);
    expect(opened.map((e) => e.url)).toEqual(['/api/networks/1/events']);
    expect(store.getSnapshot().conn[1]).toBe('connecting');
    a();
    expect(opened[0]?.closed).toBe(false);
    b();
    expect(opened[0]?.closed).toBe(true);
    expect(store.getSnapshot().conn[1]).toBeUndefined();
    expect(timers.count).toBe(0);
  });

  it('counts changed events and the snapshot after a reconnect, not the first snapshot', () => {
    store.watch(1);
    const first = opened[0] as FakeES;
    first.emit('snapshot', { peers: [st(1, 1)] });
    expect(changeCount(store.getSnapshot().changes, 1)).toBe(0);
    first.emit('changed', { kind: 'peers', network_id: 1 });
    expect(changeCount(store.getSnapshot().changes, 1)).toBe(1);
    expect(store.getSnapshot().peers.size).toBe(1); // the rows are the page's to read again
    first.fail();
    timers.advance(1000);
    (opened[1] as FakeES).emit('snapshot', { peers: [st(1, 1)] });
    expect(changeCount(store.getSnapshot().changes, 1)).toBe(2); // something may have been missed
    expect(changeCount(store.getSnapshot().changes, 2)).toBe(0);
  });

  it('changed events of the all-networks stream count for their network', () => {
    store.watchAll();
    const es = opened[0] as FakeES;
    es.emit('snapshot', { peers: [] });
    es.emit('changed', { kind: 'peers', network_id: 4 });
    es.emit('changed', { kind: 'networks', network_id: 5 });
    const c = store.getSnapshot().changes;
    expect([changeCount(c, 4), changeCount(c, 5), changeCount(c, ALL_NETWORKS)]).toEqual([1, 1, 2]);
  });

  it('merges snapshot then status events and notifies subscribers', () => {
    let calls = 0;
    store.subscribe(() => calls++);
    store.watch(1);
    const es = opened[0] as FakeES;
    es.emit('snapshot', { peers: [st(1, 1), st(2, 1)] });
    expect(store.getSnapshot().conn[1]).toBe('live');
    expect(store.getSnapshot().peers.size).toBe(2);
    const before = store.getSnapshot();
    es.emit('status', { peers: [{ peer_id: 2, online: true, last_handshake: 123 }] });
    const after = store.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.peers.get(2)).toMatchObject({ online: true, last_handshake: 123 });
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it('reconnects with backoff after a drop, and resets the backoff on a snapshot', () => {
    store.watch(7);
    (opened[0] as FakeES).fail();
    expect(opened[0]?.closed).toBe(true);
    expect(store.getSnapshot().conn[7]).toBe('reconnecting');
    timers.advance(999);
    expect(opened.length).toBe(1);
    timers.advance(1);
    expect(opened.length).toBe(2);
    (opened[1] as FakeES).fail();
    timers.advance(1999);
    expect(opened.length).toBe(2);
    timers.advance(1);
    expect(opened.length).toBe(3);
    (opened[2] as FakeES).emit('snapshot', { peers: [] });
    expect(store.getSnapshot().conn[7]).toBe('live');
    (opened[2] as FakeES).fail();
    timers.advance(1000);
    expect(opened.length).toBe(4);
  });

  it('treats a silent stream as dropped', () => {
    store.watch(1);
    const es = opened[0] as FakeES;
    es.emit('snapshot', { peers: [] });
    timers.advance(HEARTBEAT_TIMEOUT_MS - 1000);
    es.emit('heartbeat', { ts: 1_700_000_000 });
    timers.advance(HEARTBEAT_TIMEOUT_MS - 1000);
    expect(es.closed).toBe(false);
    timers.advance(1000);
    expect(es.closed).toBe(true);
    expect(store.getSnapshot().conn[1]).toBe('reconnecting');
  });

  it('a heartbeat sets the server clock', () => {
    store.watch(1);
    (opened[0] as FakeES).emit('heartbeat', { ts: 1_000 });
    expect(Math.abs(serverNow() - 1_000.5)).toBeLessThan(1);
  });

  it('asks why when a stream is refused (not when it merely dropped)', () => {
    store.watch(1);
    (opened[0] as FakeES).fail(false);
    expect(refused).toEqual([]);
    timers.advance(1000);
    (opened[1] as FakeES).fail(true);
    expect(refused).toEqual(['/api/networks/1/events']);
  });

  it('keeps the reason of a refusal until the stream is live again', async () => {
    reason = 'this address already has 16 live event streams open';
    store.watch(1);
    (opened[0] as FakeES).fail(true);
    await Promise.resolve();
    expect(store.getSnapshot().conn[1]).toBe('reconnecting');
    expect(store.getSnapshot().refused[1]).toBe(reason);
    timers.advance(1000); // the retry: still not live, the reason stays
    expect(store.getSnapshot().refused[1]).toBe(reason);
    (opened[1] as FakeES).emit('snapshot', { peers: [] });
    expect(store.getSnapshot().conn[1]).toBe('live');
    expect(store.getSnapshot().refused[1]).toBeUndefined();
  });

  it('drops a reason that arrives after the stream went live, or with nobody watching', async () => {
    reason = 'busy';
    let answer: (r: string | null) => void = () => undefined;
    const slow = new LiveStore({
      open: (url) => {
        const es = new FakeES(url);
        opened.push(es);
        return es;
      },
      urlFor: (id) => `/api/networks/${id}/events`,
      whyRefused: () => new Promise((resolve) => (answer = resolve)),
      setTimeout: timers.set,
      clearTimeout: timers.clear,
      random: () => 0,
    });
    slow.watch(1);
    (opened[0] as FakeES).fail(true);
    timers.advance(1000);
    (opened[1] as FakeES).emit('snapshot', { peers: [] });
    answer('busy');
    await Promise.resolve();
    expect(slow.getSnapshot().refused[1]).toBeUndefined();

    const release = slow.watch(2);
    (opened[2] as FakeES).fail(true);
    release();
    answer('busy');
    await Promise.resolve();
    expect(slow.getSnapshot().refused[2]).toBeUndefined();
  });

  it('ignores events from a stream it already replaced', () => {
    store.watch(1);
    const old = opened[0] as FakeES;
    old.fail();
    timers.advance(1000);
    old.emit('snapshot', { peers: [st(1, 1)] });
    expect(store.getSnapshot().peers.size).toBe(0);
  });

  it('seeds from /api/status only where no stream is live', () => {
    store.watch(1);
    (opened[0] as FakeES).emit('snapshot', { peers: [st(1, 1, { rx_bytes: 500 })] });
    store.seed([st(1, 1, { rx_bytes: 1 }), st(2, 2, { rx_bytes: 9 })]);
    expect(store.getSnapshot().peers.get(1)?.rx_bytes).toBe(500);
    expect(store.getSnapshot().peers.get(2)?.rx_bytes).toBe(9);
  });

  it('keeps every network live through one all-networks stream', () => {
    const a = store.watchAll();
    const b = store.watchAll();
    expect(opened.map((e) => e.url)).toEqual(['/api/events']);
    const es = opened[0] as FakeES;
    es.emit('snapshot', { peers: [st(1, 10), st(2, 20), st(3, 30)] });
    expect(store.getSnapshot().conn[ALL_NETWORKS]).toBe('live');
    expect(store.getSnapshot().peers.size).toBe(3);
    es.emit('status', { peers: [st(2, 20, { online: true, last_handshake: 50 }), st(3, 30, { rx_bytes: 9 })] });
    const peers = store.getSnapshot().peers;
    expect(peers.get(1)).toEqual(st(1, 10));
    expect(peers.get(2)).toMatchObject({ network_id: 20, online: true, last_handshake: 50 });
    expect(peers.get(3)).toMatchObject({ network_id: 30, rx_bytes: 9 });
    // a reconnect's snapshot is the whole truth again: peer 3's network is gone
    es.fail();
    timers.advance(1000);
    (opened[1] as FakeES).emit('snapshot', { peers: [st(1, 10), st(2, 20, { online: true })] });
    expect([...store.getSnapshot().peers.keys()].sort()).toEqual([1, 2]);
    a();
    expect(opened[1]?.closed).toBe(false);
    b();
    expect(opened[1]?.closed).toBe(true);
    expect(store.getSnapshot().conn[ALL_NETWORKS]).toBeUndefined();
    expect(timers.count).toBe(0);
  });

  it('does not seed from /api/status over a live all-networks stream', () => {
    store.watchAll();
    store.seed([st(1, 10, { rx_bytes: 1 })]);
    expect(store.getSnapshot().peers.get(1)?.rx_bytes).toBe(1); // not live yet: seeded
    (opened[0] as FakeES).emit('snapshot', { peers: [st(1, 10, { rx_bytes: 500 })] });
    store.seed([st(1, 10, { rx_bytes: 2 }), st(2, 20, { rx_bytes: 3 })]);
    expect(store.getSnapshot().peers.get(1)?.rx_bytes).toBe(500);
    expect(store.getSnapshot().peers.has(2)).toBe(false);
  });

  it('reset closes everything and forgets the cache', () => {
    store.watch(1);
    store.watch(2);
    (opened[0] as FakeES).emit('snapshot', { peers: [st(1, 1)] });
    store.reset();
    expect(opened.every((e) => e.closed)).toBe(true);
    expect(store.getSnapshot().peers.size).toBe(0);
    expect(timers.count).toBe(0);
  });

  it('stops retrying once nobody watches', () => {
    const release = store.watch(1);
    (opened[0] as FakeES).fail();
    release();
    timers.advance(60_000);
    expect(opened.length).toBe(1);
  });
});
