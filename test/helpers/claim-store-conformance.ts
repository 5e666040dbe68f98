import { describe, expect, it } from 'vitest';
import { keepClaim } from '../../src/controller/claim-heartbeat.js';
import type { ControllerEvents } from '../../src/controller/events.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import type { Sleep } from '../../src/controller/retrying-run.js';
import { ClaimCorruptError, ClaimLostError, ClaimStore, type HeldClaim } from '../../src/state/claims.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { ScriptedEngine } from './scripted-engine.js';
import { versionStates } from './version-states.js';

const TTL = 120_000;
const version = { dataset: 'orders', key: 'raw/orders/a.parquet', etag: '"e1"' };

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2026-11-29T00:00:00Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
}

/** A heartbeat timer the test drives: each `tick()` ends one wait (resolving once the renewal after it is done). */
export function manualTicker() {
  const waiting: Array<() => void> = [];
  const waiters: Array<() => void> = [];
  const sleep: Sleep = (_ms, signal) =>
    new Promise<void>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      waiting.push(resolve);
      for (const w of waiters.splice(0)) w();
    });
  /** Waits until the heartbeat sleeps again, i.e. the previous beat's renewal is done. */
  const sleeping = () => (waiting.length > 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r)));
  return {
    sleep,
    tick: async () => {
      await sleeping();
      waiting.shift()?.();
    },
    sleeping,
  };
}

function held(result: Awaited<ReturnType<ClaimStore['acquire']>>): HeldClaim {
  if (!result.acquired) throw new Error(`expected the claim, but ${result.heldBy.owner} holds it`);
  return result.claim;
}

/** The claim store's behaviour, the same on every ObjectStore (local folder, S3 on moto). */
export function claimStoreConformance(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`claim store: ${name}`, () => {
    it('gives a dataset to one controller; another is told who holds it and until when', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const a = new ClaimStore(store, { ttlMs: TTL, owner: 'host-a/1/aa', now: clock.now });
      const b = new ClaimStore(store, { ttlMs: TTL, owner: 'host-b/2/bb', now: clock.now });
      const claim = held(await a.acquire(version));
      expect(claim.document).toMatchObject({ ...version, owner: 'host-a/1/aa', expiresAt: '2026-11-29T00:02:00.000Z' });
      const other = await b.acquire({ ...version, key: 'raw/orders/b.parquet', etag: '"e2"' });
      expect(other).toEqual({ acquired: false, heldBy: expect.objectContaining({ owner: 'host-a/1/aa', key: version.key }) });
      expect(await a.read('orders')).toMatchObject({ owner: 'host-a/1/aa' });
    });

    it('lets exactly one of several controllers that claim at once win', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const stores = Array.from({ length: 6 }, (_, i) => new ClaimStore(store, { ttlMs: TTL, owner: `h/${i}/x`, now: clock.now }));
      const results = await Promise.all(stores.map((s) => s.acquire(version)));
      const winners = results.filter((r) => r.acquired);
      expect(winners).toHaveLength(1);
      const owner = (await stores[0]?.read('orders'))?.owner;
      for (const r of results) if (!r.acquired) expect(r.heldBy.owner).toBe(owner);
    });

    it('renews a claim, so it outlives its first TTL while the job runs', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const a = new ClaimStore(store, { ttlMs: TTL, owner: 'a', now: clock.now });
      const b = new ClaimStore(store, { ttlMs: TTL, owner: 'b', now: clock.now });
      let claim = held(await a.acquire(version));
      clock.advance(TTL / 3);
      claim = await a.renew(claim);
      expect(claim.document.expiresAt).toBe('2026-11-29T00:02:40.000Z');
      clock.advance(TTL - 1000); // past the first expiry, within the renewed one
      expect((await b.acquire(version)).acquired).toBe(false);
    });

    it('keeps renewing through a heartbeat on an injected timer, and says when the claim was taken over', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const ticker = manualTicker();
      const a = new ClaimStore(store, { ttlMs: TTL, owner: 'a', now: clock.now });
      const b = new ClaimStore(store, { ttlMs: TTL, owner: 'b', now: clock.now });
      const heartbeat = keepClaim(a, held(await a.acquire(version)), { everyMs: TTL / 3, sleep: ticker.sleep });
      clock.advance(TTL / 3);
      await ticker.tick();
      await ticker.sleeping();
      expect((await a.read('orders'))?.expiresAt).toBe('2026-11-29T00:02:40.000Z');
      // The controller stalls (no beat) past the expiry: another one takes the claim over.
      clock.advance(TTL + 1);
      expect((await b.acquire(version)).acquired).toBe(true);
      await ticker.tick();
      await expect.poll(() => heartbeat.lost.aborted).toBe(true);
      expect(heartbeat.lost.reason).toBeInstanceOf(ClaimLostError);
      // Releasing what it no longer holds leaves the new owner's claim alone.
      await a.release(await heartbeat.stop());
      expect(await a.read('orders')).toMatchObject({ owner: 'b' });
      expect(Date.parse((await a.read('orders'))?.expiresAt ?? '')).toBeGreaterThan(clock.now().getTime());
    });

    it('takes over the claim of a controller that died (expired), but not before', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const dead = new ClaimStore(store, { ttlMs: TTL, owner: 'dead/1/x', now: clock.now });
      const live = new ClaimStore(store, { ttlMs: TTL, owner: 'live/2/y', now: clock.now });
      const old = held(await dead.acquire(version));
      clock.advance(TTL - 1);
      expect((await live.acquire(version)).acquired).toBe(false);
      clock.advance(2);
      expect(held(await live.acquire(version)).document.owner).toBe('live/2/y');
      await expect(dead.renew(old)).rejects.toBeInstanceOf(ClaimLostError);
    });

    it('frees a released claim at once, for any controller', async () => {
      const store = await makeStore();
      const clock = manualClock();
      const a = new ClaimStore(store, { ttlMs: TTL, owner: 'a', now: clock.now });
      const b = new ClaimStore(store, { ttlMs: TTL, owner: 'b', now: clock.now });
      await a.release(held(await a.acquire(version)));
      expect(await a.read('orders')).toMatchObject({ owner: 'a', releasedAt: '2026-11-29T00:00:00.000Z' });
      expect(held(await b.acquire(version)).document.owner).toBe('b');
    });

    it('refuses a claim document it cannot read, naming it, and leaves it untouched', async () => {
      const store = await makeStore();
      await store.put(ClaimStore.keyFor('orders'), '{"version":1,"owner":');
      const a = new ClaimStore(store, { ttlMs: TTL, owner: 'a' });
      const error = await a.acquire(version).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClaimCorruptError);
      expect((error as Error).message).toMatch(/metadata\/claims\/orders\.json cannot be read \(not JSON\).*delete the file/u);
      expect((await store.get(ClaimStore.keyFor('orders')))?.body.toString()).toBe('{"version":1,"owner":');
    });
  });
}

/** Two (or more) controllers on one lake, each with its own engine, claim store and clock. */
function replicas(store: ObjectStore) {
  const make = (owner: string, options: { clock?: ReturnType<typeof manualClock>; heartbeatSleep?: Sleep } = {}) => {
    const engine = new ScriptedEngine();
    const claims = new ClaimStore(store, { ttlMs: TTL, owner, ...(options.clock ? { now: options.clock.now } : {}) });
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters: new DeadLetterStore(store),
      engine,
      maxConcurrentJobs: 2,
      sleep: async () => {},
      claims,
      ...(options.heartbeatSleep ? { heartbeatSleep: options.heartbeatSleep } : {}),
    });
    const elsewhere: Array<ControllerEvents['job:claimed-elsewhere']> = [];
    reconciler.events.on('job:claimed-elsewhere', (e) => elsewhere.push(e));
    return { engine, claims, reconciler, elsewhere };
  };
  return { make };
}

/** Replica safety end to end: several Reconcilers on one lake (scripted engines; Spark is not the point here). */
export function replicaScenarios(name: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`two controllers on one lake: ${name}`, () => {
    it('run every version exactly once between them, passing at the same time', async () => {
      const store = await makeStore();
      const keys = [
        'raw/orders/2026/11/01/a.parquet',
        'raw/orders/2026/11/02/b.parquet',
        'raw/orders/2026/11/03/c.parquet',
        'raw/customers/c1.parquet',
        'raw/customers/c2.parquet',
        'raw/events/e1.parquet',
        'raw/events/e2.parquet',
        'raw/top.parquet',
      ];
      for (const [i, key] of keys.entries()) await store.put(key, `content ${i}`);
      const { make } = replicas(store);
      const a = make('host-a/1/aa');
      const b = make('host-b/2/bb');
      for (let round = 0; round < 10; round++) {
        const [sa, sb] = await Promise.all([a.reconciler.runPass(), b.reconciler.runPass()]);
        expect(sa.failed + sb.failed).toBe(0);
        if (sa.pending === 0 && sb.pending === 0) break;
      }
      const runs = [...a.engine.submitted, ...b.engine.submitted].map((j) => j.key).sort();
      expect(runs).toEqual([...keys].sort());
      const states = await versionStates(store);
      expect(Object.values(states)).toEqual(keys.map(() => 'processed'));
      // And nothing runs again.
      await Promise.all([a.reconciler.runPass(), b.reconciler.runPass()]);
      expect(a.engine.submitted.length + b.engine.submitted.length).toBe(keys.length);
    });

    it('leave a version pending while a live other controller runs its dataset, then it is done once', async () => {
      const store = await makeStore();
      await store.put('raw/orders/a.parquet', 'A');
      await store.put('raw/orders/b.parquet', 'B');
      const { make } = replicas(store);
      const a = make('host-a/1/aa');
      const b = make('host-b/2/bb');
      a.engine.script('raw/orders/a.parquet', 'hold').script('raw/orders/b.parquet', 'hold');
      const passA = a.reconciler.runPass();
      await a.engine.started(1);
      await store.put('raw/customers/c.parquet', 'C'); // after A listed: only B sees it
      const running = a.engine.submitted[0]?.key ?? '';
      const summaryB = await b.reconciler.runPass();
      // B ran the other dataset, and left both orders versions for now: A holds the orders claim.
      expect(b.engine.submitted.map((j) => j.key).filter((k) => k.startsWith('raw/orders/'))).toEqual([]);
      expect(summaryB).toMatchObject({ failed: 0, pending: 2 });
      expect(summaryB.unfinishedKeys).toEqual(expect.arrayContaining(['raw/orders/a.parquet', 'raw/orders/b.parquet']));
      expect(b.elsewhere[0]).toMatchObject({ dataset: 'orders', owner: 'host-a/1/aa', runningKey: running });
      expect((await versionStates(store))['raw/orders/a.parquet']).toBe('pending');
      a.engine.release(running);
      await a.engine.started(2);
      a.engine.release(a.engine.submitted[1]?.key ?? '');
      await passA;
      await b.reconciler.runPass();
      const all = [...a.engine.submitted, ...b.engine.submitted].map((j) => j.key).sort();
      expect(all).toEqual(['raw/customers/c.parquet', 'raw/orders/a.parquet', 'raw/orders/b.parquet']);
      expect(Object.values(await versionStates(store))).toEqual(['processed', 'processed', 'processed']);
      // Released after recording: anyone may claim the dataset now.
      expect(await a.claims.read('orders')).toMatchObject({ releasedAt: expect.any(String) });
    });

    it('take over the claim of a controller that died mid-job once it expires, and not before', async () => {
      const store = await makeStore();
      await store.put('raw/orders/a.parquet', 'A');
      const clock = manualClock();
      // A controller claimed the dataset and died: its claim is left behind, never renewed.
      const dead = new ClaimStore(store, { ttlMs: TTL, owner: 'gone/7/dd', now: clock.now });
      held(await dead.acquire({ dataset: 'orders', key: 'raw/orders/a.parquet', etag: '"x"' }));
      const { make } = replicas(store);
      const b = make('host-b/2/bb', { clock });
      expect(await b.reconciler.runPass()).toMatchObject({ processed: 0, pending: 1, failed: 0 });
      expect(b.elsewhere).toHaveLength(1);
      clock.advance(TTL + 1);
      expect(await b.reconciler.runPass()).toMatchObject({ processed: 1, pending: 0 });
      expect(b.engine.submitted.map((j) => j.key)).toEqual(['raw/orders/a.parquet']);
      expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'processed' });
    });

    it('stop the job of a controller whose claim was taken over, without counting it as an attempt', async () => {
      const store = await makeStore();
      await store.put('raw/orders/a.parquet', 'A');
      const clockA = manualClock();
      const clockB = manualClock();
      const ticker = manualTicker();
      const { make } = replicas(store);
      const a = make('stalled/1/aa', { clock: clockA, heartbeatSleep: ticker.sleep });
      const b = make('host-b/2/bb', { clock: clockB });
      a.engine.script('raw/orders/a.parquet', 'hold');
      const passA = a.reconciler.runPass();
      await a.engine.started(1);
      // A misses its renewals (stalled) past the TTL: B takes the dataset over and processes the version.
      clockB.advance(TTL + 1);
      expect(await b.reconciler.runPass()).toMatchObject({ processed: 1 });
      await ticker.tick(); // A's next heartbeat finds the claim gone and stops its job
      const summaryA = await passA;
      expect(summaryA).toMatchObject({ processed: 0, deadLettered: 0 });
      expect(summaryA.results[0]?.error).toMatch(/taken over by another controller/u);
      const { document } = await new DeadLetterStore(store).load();
      expect(document.attempts).toEqual({});
      expect(document.deadLetters).toEqual({});
      expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'processed' });
      // A's release, conditional on the ETag it held, did not touch B's claim.
      expect(await b.claims.read('orders')).toMatchObject({ owner: 'host-b/2/bb' });
    });
  });
}
