import { hostname } from 'node:os';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { CLAIMS_PREFIX, ClaimStore, goneFromThisHost } from '../../src/state/claims.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { assertSafeKey } from '../../src/storage/keys.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
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
    const dead = new ClaimStore(store, { ttlMs: 120_000, owner: `${hostname()}/${gone.pid}/0bad` });
    expect((await dead.acquire(version)).acquired).toBe(true);
    const restarted = new ClaimStore(store, { ttlMs: 120_000 });
    expect((await restarted.acquire(version)).acquired).toBe(true);
    expect(await restarted.read('orders')).toMatchObject({ owner: restarted.owner });
  });

  it('is left to its TTL while that pid runs, or when it is another host', async () => {
    const store = await localLake();
    const alive = new ClaimStore(store, { ttlMs: 120_000, owner: `${hostname()}/${process.ppid}/1111` });
    expect((await alive.acquire(version)).acquired).toBe(true);
    expect((await new ClaimStore(store, { ttlMs: 120_000 }).acquire(version)).acquired).toBe(false);
    expect(goneFromThisHost(`other-host/${2 ** 22 + 7}/x`, `${hostname()}/1/y`)).toBe(false);
    // The same pid as this process but another random part: an earlier process (pid 1 of a restarted container).
    expect(goneFromThisHost(`${hostname()}/${process.pid}/aaaa`, `${hostname()}/${process.pid}/bbbb`)).toBe(true);
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
