import { hostname } from 'node:os';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { keepClaim } from '../../src/controller/claim-heartbeat.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { goneFromThisHost, processScope } from '../../src/state/claim-owner.js';
import { CLAIMS_PREFIX, ClaimStore } from '../../src/state/claims.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { assertSafeKey } from '../../src/storage/keys.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import type { PutOptions } from '../../src/storage/object-store.js';
import { claimStoreConformance, replicaScenarios } from '../helpers/claim-store-conformance.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';
import { versionStates } from '../helpers/version-states.js';

const localLake = async () => new LocalObjectStore(await tempDir());

claimStoreConformance('local folder', localLake);
replicaScenarios('local folder', localLake);
describe('claim keys', () => {
  it('keep every dataset name inside metadata/claims/, as one segment', () => {
    for (const dataset of ['orders', 'default', '..', '.', 'a/b', '../../etc', 'é spaces %2F']) {
      const key = ClaimStore.keyFor(dataset);
      expect(assertSafeKey(key)).toBe(key);
      expect(key.startsWith(CLAIMS_PREFIX)).toBe(true);
      expect(key.slice(CLAIMS_PREFIX.length)).not.toContain('/');
      expect(key.slice(CLAIMS_PREFIX.length)).not.toMatch(/^\.\.?\.json$|^\.\./u);
    }
    expect(ClaimStore.keyFor('a/b')).not.toBe(ClaimStore.keyFor('a%2Fb'));
  });
});

describe('a claim of a controller on this host', () => {
  const version = { dataset: 'orders', key: 'raw/orders/a.parquet', etag: '"e"' };

  it('is taken over at once when that controller is gone (a restart need not wait for the TTL)', async () => {
    const store = await localLake();
    const gone = execa(process.execPath, ['-e', '']);
    await gone;
    const dead = new ClaimStore(store, { ttlMs: 120_000, owner: `${hostname()}/${gone.pid}/0bad/${processScope()}` });
    expect((await dead.acquire(version)).acquired).toBe(true);
    const restarted = new ClaimStore(store, { ttlMs: 120_000 });
    expect((await restarted.acquire(version)).acquired).toBe(true);
    expect(await restarted.read('orders')).toMatchObject({ owner: restarted.owner });
  });

  it('is left to its TTL while that pid runs, or when it is another host', async () => {
    const store = await localLake();
    const alive = new ClaimStore(store, { ttlMs: 120_000, owner: `${hostname()}/${process.ppid}/1111/${processScope()}` });
    expect((await alive.acquire(version)).acquired).toBe(true);
    expect((await new ClaimStore(store, { ttlMs: 120_000 }).acquire(version)).acquired).toBe(false);
    const scope = processScope();
    expect(goneFromThisHost(`other-host/${2 ** 22 + 7}/x/${scope}`, `${hostname()}/1/y/${scope}`)).toBe(false);
    // The same pid as this process but another random part, in this process table: an earlier process.
    expect(goneFromThisHost(`${hostname()}/${process.pid}/aaaa/${scope}`, `${hostname()}/${process.pid}/bbbb/${scope}`)).toBe(true);
  });

  it('is left to its TTL when it was written in another process table (two pid-1 replicas with one hostname)', async () => {
    const store = await localLake();
    // Another container with the same hostname (host networking, a fixed `hostname:`), whose
    // controller has this process's pid: it runs, but its pid cannot be checked from here.
    const otherContainer = `${hostname()}/${process.pid}/aaaa/0123456789ab`;
    const live = new ClaimStore(store, { ttlMs: 120_000, owner: otherContainer });
    expect((await live.acquire(version)).acquired).toBe(true);
    const here = new ClaimStore(store, { ttlMs: 120_000 });
    expect(here.owner.split('/')[3]).not.toBe('0123456789ab');
    expect(await here.acquire(version)).toMatchObject({ acquired: false, heldBy: { owner: otherContainer } });
    // An owner written before scopes (host/pid/random) cannot be placed either.
    const gone = execa(process.execPath, ['-e', '']);
    await gone;
    expect(goneFromThisHost(`${hostname()}/${gone.pid}/0bad`, here.owner)).toBe(false);
    expect(goneFromThisHost(`${hostname()}/${gone.pid}/0bad/${processScope()}`, here.owner)).toBe(true);
  });
});

describe('a process table (the scope of a claim owner)', () => {
  const proc = (boot: string, ns: string) =>
    processScope(
      () => `${boot}\n`,
      () => ns,
    );

  it('differs between pid namespaces of one boot, and between boots of one namespace', () => {
    const a = proc('bd305f1f-c957-4ecb-92bf-38c118d697d3', 'pid:[4026531836]');
    expect(a).toMatch(/^[0-9a-f]{12}$/u);
    expect(proc('bd305f1f-c957-4ecb-92bf-38c118d697d3', 'pid:[4026532201]')).not.toBe(a);
    expect(proc('0c7e6a55-7d1e-4bd6-9a7a-58a0f4f1b2c9', 'pid:[4026531836]')).not.toBe(a);
    expect(proc('bd305f1f-c957-4ecb-92bf-38c118d697d3', 'pid:[4026531836]')).toBe(a);
  });

  it('is the platform where there is no /proc', () => {
    const none = () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    expect(processScope(none, none)).toBe(process.platform);
  });
});

describe('a stop that comes while a version is being claimed', () => {
  it('leaves the version pending, runs nothing, and releases the claim', async () => {
    const store = await localLake();
    await store.put('raw/orders/a.parquet', 'A');
    const stop = new AbortController();
    // The stop (SIGTERM) arrives just after the claim was written, before the version is read again.
    class StopWhileClaiming extends ClaimStore {
      override async acquire(...args: Parameters<ClaimStore['acquire']>) {
        const result = await super.acquire(...args);
        stop.abort(new Error('received SIGTERM'));
        return result;
      }
    }
    const claims = new StopWhileClaiming(store, { ttlMs: 120_000 });
    const engine = new ScriptedEngine();
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters: new DeadLetterStore(store),
      engine,
      claims,
    });
    const summary = await reconciler.runPass({ stopStarting: stop.signal });
    expect(summary).toMatchObject({ processed: 0, failed: 0, pending: 1, unfinishedKeys: ['raw/orders/a.parquet'] });
    expect(engine.submitted).toEqual([]);
    expect(await claims.read('orders')).toMatchObject({ releasedAt: expect.any(String) });
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'pending' });
  });
});

describe('a claim whose renewals fail', () => {
  /** A lake whose writes fail while `failing`, as during a network partition. */
  class PartitionedLake extends LocalObjectStore {
    failing = false;
    override put(key: string, body: Buffer | string, options?: PutOptions) {
      if (this.failing) return Promise.reject(new Error('socket hang up (test)'));
      return super.put(key, body, options);
    }
  }
  const version = { dataset: 'orders', key: 'raw/orders/a.parquet', etag: '"e"' };

  it('stops the job while the claim is still held: before it would expire ahead of the next try', async () => {
    const store = new PartitionedLake(await tempDir());
    let clock = Date.parse('2026-12-02T10:00:00Z');
    const claims = new ClaimStore(store, { ttlMs: 120_000, now: () => new Date(clock) });
    const acquired = await claims.acquire(version);
    if (!acquired.acquired) throw new Error('not acquired');
    store.failing = true;
    const failures: number[] = [];
    const heartbeat = keepClaim(claims, acquired.claim, {
      everyMs: 40_000,
      sleep: async (ms, signal) => {
        signal?.throwIfAborted();
        clock += ms; // the beat's wait, on the injected clock
      },
      onRenewFailed: () => failures.push(clock),
    });
    const lostAt = await new Promise<unknown>((resolve) => heartbeat.lost.addEventListener('abort', () => resolve(heartbeat.lost.reason)));
    // Renewals at +40 s (80 s left: try again) and +80 s (40 s left: one beat, no margin): stop.
    expect(failures.map((t) => t - Date.parse('2026-12-02T10:00:00Z'))).toEqual([40_000, 80_000]);
    expect(String(lostAt)).toMatch(/could not be renewed \(socket hang up \(test\)\) and expires in 40 s, before the next try/u);
    expect(claims.expiresIn(await heartbeat.stop())).toBe(40_000); // still ours when the job stopped
  });

  it('keeps the job running through one failed renewal', async () => {
    const store = new PartitionedLake(await tempDir());
    let clock = Date.parse('2026-12-02T10:00:00Z');
    const claims = new ClaimStore(store, { ttlMs: 120_000, now: () => new Date(clock) });
    const acquired = await claims.acquire(version);
    if (!acquired.acquired) throw new Error('not acquired');
    let beats = 0;
    const done = new AbortController();
    const heartbeat = keepClaim(claims, acquired.claim, {
      everyMs: 40_000,
      sleep: async (ms, signal) => {
        signal?.throwIfAborted();
        beats += 1;
        store.failing = beats === 1; // only the first renewal fails
        if (beats === 4) done.abort();
        clock += ms;
      },
    });
    await new Promise((resolve) => done.signal.addEventListener('abort', resolve));
    const latest = await heartbeat.stop();
    expect(heartbeat.lost.aborted).toBe(false);
    expect(claims.expiresIn(latest)).toBeGreaterThan(40_000);
  });
});
