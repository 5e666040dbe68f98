import { readFile, writeFile, mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { watch } from '../../src/controller/watch-loop.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { MarkerCorruptError } from '../../src/errors.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MARKER_KEY, MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

async function setup(options: { maxConcurrentJobs?: number } = {}) {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  const engine = new ScriptedEngine();
  const marker = new MarkerStore(store);
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker,
    deadLetters: new DeadLetterStore(store),
    engine,
    specs: new Map([['orders', { keys: ['id'] }]]),
    maxConcurrentJobs: options.maxConcurrentJobs ?? 2,
    sleep: async () => {},
  });
  /** Writes a raw file with a given modification time (seconds), so "oldest first" is testable. */
  const put = async (key: string, content: string, mtime = 1_700_000_000) => {
    await store.put(key, content);
    await utimes(path.join(root, key), mtime, mtime);
  };
  return { root, store, engine, marker, reconciler, put };
}

describe('a reconcile pass', () => {
  it('processes new versions in two datasets, records them, and a second pass submits nothing', async () => {
    // One at a time, so the submission order is the start order (two jobs at once race to the engine).
    const { engine, marker, reconciler, put } = await setup({ maxConcurrentJobs: 1 });
    await put('raw/orders/2026/a.parquet', 'A', 2);
    await put('raw/customers/c.parquet', 'C', 1);
    const first = await reconciler.runPass();
    expect(first).toMatchObject({ processed: 2, failed: 0, pending: 0, upToDate: 0 });
    // oldest first, and the dataset's spec goes with the job
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/customers/c.parquet', 'raw/orders/2026/a.parquet']);
    expect(engine.submitted[1]?.spec).toEqual({ keys: ['id'] });
    const { document } = await marker.load();
    expect(Object.keys(document.files).sort()).toEqual(['raw/customers/c.parquet', 'raw/orders/2026/a.parquet']);
    expect(document.files['raw/customers/c.parquet']).toMatchObject({ size: 1, engine: 'local', rows: { read: 3, curated: 2 } });

    const second = await reconciler.runPass();
    expect(second).toMatchObject({ processed: 0, upToDate: 2 });
    expect(engine.submitted).toHaveLength(2);
  });

  it('reprocesses only a key whose ETag changed', async () => {
    const { engine, reconciler, put } = await setup();
    await put('raw/orders/a.parquet', 'A');
    await put('raw/orders/b.parquet', 'B');
    await reconciler.runPass();
    await put('raw/orders/a.parquet', 'A, second version');
    const pass = await reconciler.runPass();
    expect(pass).toMatchObject({ processed: 1, upToDate: 1 });
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/orders/a.parquet', 'raw/orders/b.parquet', 'raw/orders/a.parquet']);
    expect(engine.submitted[2]?.etag).not.toBe(engine.submitted[0]?.etag);
  });

  it('never submits temporary, hidden or non-Parquet objects', async () => {
    const { engine, reconciler, put } = await setup();
    await put('raw/orders/_temporary/0/part-0.parquet', 'x');
    await put('raw/orders/.upload.parquet', 'x');
    await put('raw/orders/_SUCCESS', 'x');
    await put('raw/orders/notes.csv', 'x');
    await put('cleaned/orders/x.parquet', 'x');
    const pass = await reconciler.runPass();
    expect(engine.submitted).toEqual([]);
    expect(pass).toMatchObject({ processed: 0, skipped: 4 });
  });

  it('dead-letters an empty object and a key the lake refuses at once, naming them, without submitting a job', async () => {
    const { root, store, engine, reconciler, put } = await setup();
    await put('raw/orders/empty.parquet', '');
    await mkdir(path.join(root, 'raw/orders'), { recursive: true });
    await writeFile(path.join(root, 'raw/orders/line\nbreak.parquet'), 'x'); // listed, but no store call may use it
    await put('raw/orders/good.parquet', 'x');
    const pass = await reconciler.runPass();
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/orders/good.parquet']);
    expect(pass).toMatchObject({ processed: 1, failed: 2, deadLettered: 2, pending: 0 });
    const { document } = await new DeadLetterStore(store).load();
    expect(document.deadLetters['raw/orders/empty.parquet']).toMatchObject({
      errorClass: 'UnusableInputError',
      attempts: 1,
      message: expect.stringMatching(/"raw\/orders\/empty\.parquet" is empty \(0 bytes\)/u),
    });
    expect(document.deadLetters['raw/orders/line\nbreak.parquet']).toMatchObject({
      errorClass: 'UnsafeKeyError',
      message: expect.stringContaining('"raw/orders/line\\nbreak.parquet": it contains a NUL or control character'),
    });
  });

  it('leaves a failed version out of the marker, retries a retryable one, dead-letters a permanent one', async () => {
    const { engine, marker, reconciler, put } = await setup();
    await put('raw/orders/bad.parquet', 'not parquet');
    await put('raw/customers/flaky.parquet', 'x');
    engine.script('raw/orders/bad.parquet', 'permanent').script('raw/customers/flaky.parquet', ['retryable', 'succeed']);
    const first = await reconciler.runPass();
    expect(first).toMatchObject({ processed: 1, failed: 1, deadLettered: 1, pending: 0 });
    expect(first.results.find((r) => r.key === 'raw/orders/bad.parquet')).toMatchObject({ permanent: true, error: 'not a Parquet file' });
    expect(first.results.find((r) => r.key === 'raw/customers/flaky.parquet')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(Object.keys((await marker.load()).document.files)).toEqual(['raw/customers/flaky.parquet']);

    const second = await reconciler.runPass();
    expect(second).toMatchObject({ processed: 0, failed: 0, deadLettered: 1, pending: 0 });
    expect(engine.submitted.filter((j) => j.key === 'raw/orders/bad.parquet')).toHaveLength(1);
  });

  it('runs at most MAX_CONCURRENT_JOBS at once and never two of one dataset', async () => {
    const { engine, reconciler, put } = await setup({ maxConcurrentJobs: 2 });
    for (const key of ['raw/a/1.parquet', 'raw/a/2.parquet', 'raw/b/1.parquet', 'raw/c/1.parquet']) {
      await put(key, key);
      engine.script(key, 'hold');
    }
    const pass = reconciler.runPass();
    await engine.started(2);
    expect([...engine.running].sort()).toEqual(['raw/a/1.parquet', 'raw/b/1.parquet']);
    engine.release('raw/a/1.parquet');
    await engine.started(3);
    expect([...engine.running].sort()).toEqual(['raw/a/2.parquet', 'raw/b/1.parquet']);
    engine.release('raw/b/1.parquet');
    await engine.started(4);
    engine.release('raw/a/2.parquet');
    engine.release('raw/c/1.parquet');
    expect(await pass).toMatchObject({ processed: 4 });
    expect(engine.maxRunning).toBe(2);
  });

  it('leaves the marker unchanged for a job stopped mid-run', async () => {
    const { engine, marker, reconciler, put } = await setup();
    await put('raw/orders/a.parquet', 'A');
    engine.script('raw/orders/a.parquet', 'hold');
    const stopJobs = new AbortController();
    const pass = reconciler.runPass({ stopJobs: stopJobs.signal });
    await engine.started(1);
    stopJobs.abort();
    expect(await pass).toMatchObject({ processed: 0, failed: 1, pending: 1 });
    expect((await marker.load()).etag).toBeUndefined();
  });

  it('stops on a corrupt marker and does not touch it', async () => {
    const { root, engine, reconciler, put } = await setup();
    await put('raw/orders/a.parquet', 'A');
    await mkdir(path.join(root, 'metadata'), { recursive: true });
    await writeFile(path.join(root, MARKER_KEY), '{oops');
    await expect(reconciler.runPass()).rejects.toBeInstanceOf(MarkerCorruptError);
    const stop = new AbortController();
    await expect(watch(reconciler, { intervalMs: 1000, stopStarting: stop.signal, delay: async () => {} })).rejects.toBeInstanceOf(
      MarkerCorruptError,
    );
    expect(engine.submitted).toEqual([]);
    expect(await readFile(path.join(root, MARKER_KEY), 'utf8')).toBe('{oops');
  });
});

describe('the watch loop', () => {
  it('passes again after each interval until stopped, and picks up new files', async () => {
    const { engine, reconciler, put } = await setup();
    await put('raw/orders/a.parquet', 'A');
    const stop = new AbortController();
    const waits: number[] = [];
    await watch(reconciler, {
      intervalMs: 60_000,
      stopStarting: stop.signal,
      delay: async (ms) => {
        waits.push(ms);
        if (waits.length === 1) await put('raw/orders/b.parquet', 'B');
        else stop.abort();
      },
    });
    expect(waits).toEqual([60_000, 60_000]);
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/orders/a.parquet', 'raw/orders/b.parquet']);
  });
});
