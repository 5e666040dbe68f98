import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { AccessDeniedError } from '../../src/errors.js';
import { recordControllerMetrics } from '../../src/observability/metric-events.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import { ClaimStore } from '../../src/state/claims.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import type { PutOptions } from '../../src/storage/object-store.js';
import { mapS3Error } from '../../src/storage/s3-errors.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

type Deny = (key: string, body: string) => boolean;
const under =
  (prefix: string): Deny =>
  (key) =>
    key.startsWith(prefix);

/** A local lake whose chosen writes are refused the way S3 refuses them without the permission (403 AccessDenied). */
class DenyingStore extends LocalObjectStore {
  deny: Deny | undefined;
  override put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }> {
    if (this.deny?.(key, body.toString()) === true) {
      const s3Error = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      return Promise.reject(mapS3Error(s3Error, `writing ${this.description}${key}`, key, 's3:PutObject'));
    }
    return super.put(key, body, options);
  }
}

async function setup(deny: Deny) {
  const store = new DenyingStore(await tempDir());
  const engine = new ScriptedEngine();
  const marker = new MarkerStore(store);
  const deadLetters = new DeadLetterStore(store);
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker,
    deadLetters,
    engine,
    maxConcurrentJobs: 1,
    sleep: async () => {},
    heartbeatSleep: (_ms, signal) =>
      new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('stopped')), { once: true })),
    claims: new ClaimStore(store, { ttlMs: 60_000 }),
  });
  const readiness = new Readiness({ passIntervalMs: 60_000 });
  recordControllerMetrics(reconciler, {
    metrics: new WatcherMetrics({ engine: 'local', passIntervalMs: 60_000, processMetrics: false }),
    readiness,
  });
  await store.put('raw/orders/a.parquet', 'A');
  await store.put('raw/customers/c.parquet', 'C');
  store.deny = deny;
  /** What a user would check afterwards: nothing recorded, nothing dead-lettered, no attempt left counted. */
  const state = async () => {
    const dead = (await deadLetters.load()).document;
    return {
      processed: Object.keys((await marker.load()).document.files),
      deadLettered: Object.keys(dead.deadLetters),
      attempts: Object.values(dead.attempts).map((a) => a.attempts),
    };
  };
  return { store, engine, reconciler, readiness, state };
}

describe('a pass whose writes of the lake state are denied (403) fails, and records nothing for the version', () => {
  it('claims: the pass fails naming the claim and the permission, no job starts, readiness says why', async () => {
    const { engine, reconciler, readiness, state } = await setup(under('metadata/claims/'));
    const error = await reconciler.runPass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as Error).message).toMatch(
      /writing .*metadata\/claims\/(orders|customers)\.json: access denied \(AccessDenied\); the IAM policy must allow s3:PutObject/u,
    );
    // The first denial stops the pass: the other dataset is not tried either.
    expect(engine.submitted).toEqual([]);
    expect(await state()).toEqual({ processed: [], deadLettered: [], attempts: [] });
    expect(readiness.check()).toEqual({
      ready: false,
      reason: expect.stringMatching(/^the last pass failed: .*metadata\/claims\/.*s3:PutObject/u),
    });
  });

  it('the marker: the job ran, but the pass fails and the version stays pending, not dead-lettered; allowed again, it is recorded', async () => {
    const { store, engine, reconciler, readiness, state } = await setup(under('metadata/processed_files'));
    const error = await reconciler.runPass().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect((error as Error).message).toMatch(/metadata\/processed_files\.json: access denied .* s3:PutObject/u);
    expect(engine.submitted).toHaveLength(1);
    expect(await state()).toEqual({ processed: [], deadLettered: [], attempts: [] });
    expect(readiness.check().ready).toBe(false);

    store.deny = undefined;
    await expect(reconciler.runPass()).resolves.toMatchObject({ processed: 2, failed: 0, deadLettered: 0 });
    expect((await state()).processed.sort()).toEqual(['raw/customers/c.parquet', 'raw/orders/a.parquet']);
    expect(readiness.check().ready).toBe(true);
  });

  it('the dead-letter document (attempt counts): the pass fails before any job, naming metadata/dead_letter.json', async () => {
    const { engine, reconciler, state } = await setup(under('metadata/dead_letter.json'));
    await expect(reconciler.runPass()).rejects.toThrow(/metadata\/dead_letter\.json: access denied .* s3:PutObject/u);
    expect(engine.submitted).toEqual([]);
    expect(await state()).toEqual({ processed: [], deadLettered: [], attempts: [] });
  });

  it('a permanent failure whose dead letter cannot be written is not dead-lettered and fails the pass', async () => {
    // Attempt counts may be written; the dead letter itself (the same document, after the job) may not.
    const { store, engine, reconciler, state } = await setup(
      (key, body) => key === 'metadata/dead_letter.json' && body.includes('"deadLetteredAt"'),
    );
    engine.script('raw/customers/c.parquet', 'permanent').script('raw/orders/a.parquet', 'permanent');
    await expect(reconciler.runPass()).rejects.toThrow(/metadata\/dead_letter\.json: access denied/u);
    expect(engine.submitted).toHaveLength(1);
    store.deny = undefined;
    expect((await state()).deadLettered).toEqual([]);
  });
});
