import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchLimits } from '../../src/controller/batches.js';
import { formBatches, halves } from '../../src/controller/batches.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import type { CandidateVersion } from '../../src/discovery/candidates.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { BatchManifests, type BatchManifest } from '../../src/state/batch-manifests.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

const version = (key: string, size = 10, dataset = key.split('/')[1] as string): CandidateVersion => ({
  key,
  etag: `"${key}"`,
  size,
  lastModified: new Date(0),
  dataset,
});

describe('forming batches', () => {
  const limits: BatchLimits = { maxFiles: 3, maxBytes: 100 };

  it('takes up to MAX_FILES_PER_JOB versions of one dataset, oldest first, batches in the order of their oldest version', () => {
    const todo = ['raw/a/1', 'raw/b/1', 'raw/a/2', 'raw/a/3', 'raw/a/4', 'raw/b/2'].map((k) => version(`${k}.parquet`));
    expect(formBatches(todo, limits).map((b) => b.map((v) => v.key))).toEqual([
      ['raw/a/1.parquet', 'raw/a/2.parquet', 'raw/a/3.parquet'],
      ['raw/b/1.parquet', 'raw/b/2.parquet'],
      ['raw/a/4.parquet'],
    ]);
  });

  it('keeps a batch within MAX_BYTES_PER_JOB; a bigger file goes alone; a file no job can use goes alone', () => {
    const todo = [
      version('raw/a/1.parquet', 60),
      version('raw/a/2.parquet', 50),
      version('raw/a/big.parquet', 500),
      version('raw/a/3.parquet', 40),
    ];
    const empty = { ...version('raw/a/empty.parquet', 0) };
    expect(formBatches([...todo, empty], limits).map((b) => b.map((v) => v.key))).toEqual([
      ['raw/a/1.parquet'],
      ['raw/a/2.parquet'],
      ['raw/a/big.parquet'],
      ['raw/a/3.parquet'],
      ['raw/a/empty.parquet'],
    ]);
    expect(formBatches(todo, { maxFiles: 3, maxBytes: 1000 }).map((b) => b.length)).toEqual([3, 1]);
  });

  it('MAX_FILES_PER_JOB=1 is one version per job, in order', () => {
    const todo = ['raw/a/1', 'raw/b/1', 'raw/a/2'].map((k) => version(`${k}.parquet`));
    expect(formBatches(todo, { maxFiles: 1, maxBytes: Infinity })).toEqual(todo.map((v) => [v]));
  });

  it('splits in halves, the first one the bigger', () => {
    expect(halves([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });
});

async function setup(maxFiles: number, maxAttempts = 2) {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const engine = new ScriptedEngine();
  const marker = new MarkerStore(store);
  const deadLetters = new DeadLetterStore(store);
  const sleeps: number[] = [];
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker,
    deadLetters,
    engine,
    maxConcurrentJobs: 1,
    batchLimits: { maxFiles, maxBytes: 1024 ** 3 },
    manifests: new BatchManifests(store),
    retry: { maxAttempts, baseDelayMs: 1000, maxDelayMs: 10_000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
  });
  let clock = 1_700_000_000;
  /** Raw files of one dataset, each modified a second after the last (oldest first is their order). */
  const put = async (...keys: string[]) => {
    for (const key of keys) {
      await store.put(key, `content of ${key}`);
      clock += 1;
      await utimes(path.join(root, key), clock, clock);
    }
  };
  const manifest = async (runId: string): Promise<BatchManifest> =>
    JSON.parse((await store.get(`metadata/batches/${runId}.json`))?.body.toString('utf8') ?? 'null') as BatchManifest;
  return { store, engine, marker, deadLetters, reconciler, put, sleeps, manifest };
}

const keys = (n: number, dataset = 'orders') =>
  Array.from({ length: n }, (_, i) => `raw/${dataset}/f${String(i).padStart(2, '0')}.parquet`);

describe('a pass with batches', () => {
  it('runs the pending versions of a dataset as batches, writes each manifest, and records every version by name', async () => {
    const { engine, marker, reconciler, put, manifest } = await setup(4);
    await put(...keys(6), 'raw/customers/c.parquet');
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 7, failed: 0, pending: 0 });
    // oldest first: four orders, then the rest of orders (customers' file is newest; one job at a time)
    expect(engine.batches).toEqual([keys(4), keys(6).slice(4)]);
    expect(engine.submitted.map((j) => j.key).at(-1)).toBe('raw/customers/c.parquet');
    const first = engine.submitted[0];
    expect(first?.batch?.manifestKey).toBe(`metadata/batches/${first?.runId}.json`);
    expect(await manifest(first?.runId ?? '')).toMatchObject({
      version: 1,
      runId: first?.runId,
      dataset: 'orders',
      files: keys(4).map((key) => ({ key, etag: expect.any(String) as string })),
    });
    const { document } = await marker.load();
    expect(Object.keys(document.files).sort()).toEqual([...keys(6), 'raw/customers/c.parquet'].sort());
    for (const key of keys(4)) expect(document.files[key]).toMatchObject({ runId: first?.runId, rows: { read: 3, curated: 2 } });
    expect(await reconciler.runPass()).toMatchObject({ processed: 0, upToDate: 7 });
  });

  it('dead-letters an unusable file of a batch alone, with its own reason, and records the rest', async () => {
    const { engine, marker, deadLetters, reconciler, put } = await setup(10);
    await put(...keys(5));
    const poison = keys(5)[2] as string;
    engine.script(poison, 'permanent');
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 4, failed: 1, deadLettered: 1, pending: 0 });
    expect(engine.batches).toEqual([keys(5)]); // one run: nothing ran twice
    const { document } = await marker.load();
    expect(Object.keys(document.files).sort()).toEqual(keys(5).filter((k) => k !== poison));
    const dead = (await deadLetters.load()).document;
    expect(Object.keys(dead.deadLetters)).toEqual([poison]);
    expect(dead.deadLetters[poison]).toMatchObject({
      attempts: 1,
      errorClass: 'PermanentJobError', // as a job of its own gives
      message: `not a Parquet file: ${poison}`,
    });
    expect(dead.attempts).toEqual({});
  });

  it('splits a batch whose run fails as a whole until the version that kills it runs alone; every other version is recorded', async () => {
    const { engine, marker, deadLetters, reconciler, put, sleeps } = await setup(8, 2);
    await put(...keys(8));
    const killer = keys(8)[5] as string;
    engine.script(killer, 'retryable');
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 7, deadLettered: 1, pending: 0 });
    // 8 -> 4 + 4 -> 2 + 2 -> 1 + 1: the killer is alone after log2(8) = 3 failed runs.
    expect(engine.batches).toEqual([keys(8), keys(4), keys(8).slice(4), keys(8).slice(4, 6), keys(8).slice(6)]);
    const singles = engine.submitted.filter((j) => j.batch === undefined).map((j) => j.key);
    expect(singles).toEqual([keys(8)[4], killer, killer]); // its two attempts, one for the other half's survivor
    expect(Object.keys((await marker.load()).document.files).sort()).toEqual(keys(8).filter((k) => k !== killer));
    const dead = (await deadLetters.load()).document;
    // Only its own runs count as its attempts: the failed batches counted against none of their versions.
    expect(dead.deadLetters[killer]).toMatchObject({ attempts: 2, message: expect.stringContaining('executor lost') as string });
    // each split waited the first retry's backoff
    expect(sleeps.slice(0, 3)).toEqual([1000, 1000, 1000]);
  });

  it('a batch stopped by shutdown leaves every version pending, with no attempt counted', async () => {
    const { engine, deadLetters, marker, reconciler, put } = await setup(4);
    await put(...keys(3));
    engine.script(keys(3)[0] as string, 'hold');
    const stopJobs = new AbortController();
    const pass = reconciler.runPass({ stopJobs: stopJobs.signal, stopStarting: stopJobs.signal });
    await engine.started(1);
    stopJobs.abort(new Error('SIGTERM'));
    const summary = await pass;
    expect(summary).toMatchObject({ processed: 0, pending: 3 });
    expect(engine.batches).toHaveLength(1);
    expect((await deadLetters.load()).document.attempts).toEqual({});
    expect((await marker.load()).document.files).toEqual({});
  });
});
