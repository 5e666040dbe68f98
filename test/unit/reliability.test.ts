import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerEvents } from '../../src/controller/events.js';
import type { RetryPolicy } from '../../src/controller/backoff.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { DEAD_LETTER_KEY, DeadLetterStore } from '../../src/state/dead-letters.js';
import { watch } from '../../src/controller/watch-loop.js';
import { DeadLetterCorruptError, MarkerCorruptError, RetryableError } from '../../src/errors.js';
import { MarkerStore, type ProcessedEntry } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { SCRIPTED_LOG_TAIL, ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type VersionState, versionStates } from '../helpers/version-states.js';

let lakes: LocalObjectStore[] = [];

interface LakeOptions {
  readonly retry?: RetryPolicy;
  /** Jitter values, used in turn (the last repeats). */
  readonly random?: readonly number[];
  readonly marker?: (store: LocalObjectStore) => MarkerStore;
  readonly deadLetters?: (store: LocalObjectStore) => DeadLetterStore;
}

async function lake(options: LakeOptions = {}) {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  lakes.push(store);
  const engine = new ScriptedEngine();
  const deadLetters = new DeadLetterStore(store);
  /** Every wait between attempts, in ms; `onSleep` may act during one (e.g. stop the controller). */
  const delays: number[] = [];
  let onSleep: (signal: AbortSignal | undefined) => Promise<void> = async () => {};
  const randoms = [...(options.random ?? [0.5])];
  /** A controller on this lake; call again for a "restarted" one (new instances, same bucket). */
  const controller = () => {
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: options.marker?.(store) ?? new MarkerStore(store),
      deadLetters: options.deadLetters?.(store) ?? new DeadLetterStore(store),
      engine,
      maxConcurrentJobs: 2,
      retry: options.retry ?? { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 300_000 },
      // No real waiting: the wait is recorded, and the test may stop the controller during it.
      sleep: async (ms, signal) => {
        delays.push(ms);
        await onSleep(signal);
        signal?.throwIfAborted();
      },
      random: () => (randoms.length > 1 ? (randoms.shift() as number) : (randoms[0] as number)),
    });
    const events: Array<{ name: keyof ControllerEvents; key: string; attempt?: number }> = [];
    for (const name of ['job:started', 'job:failed', 'job:held', 'job:dead-lettered', 'job:retrying'] as const) {
      reconciler.events.on(name, (e: { key: string; attempt?: number }) =>
        events.push({ name, key: e.key, ...(e.attempt !== undefined ? { attempt: e.attempt } : {}) }),
      );
    }
    return { reconciler, events };
  };
  const put = async (key: string, content: string, mtime = 1_700_000_000) => {
    await store.put(key, content);
    await utimes(path.join(root, key), mtime, mtime);
  };
  const duringSleep = (hook: (signal: AbortSignal | undefined) => Promise<void>) => {
    onSleep = hook;
  };
  return { root, store, engine, deadLetters, controller, put, delays, duringSleep };
}

// The invariant of issue 7: after every test, each raw version is processed, dead-lettered or pending, never two.
afterEach(async () => {
  for (const store of lakes) {
    const states = await versionStates(store);
    for (const state of Object.values(states)) expect(['processed', 'dead-lettered', 'pending'] satisfies VersionState[]).toContain(state);
  }
  lakes = [];
});

describe('dead letters', () => {
  it('dead-letters a permanent failure at once, with the reason and the driver log tail, and later passes skip it', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/bad.parquet', 'not parquet');
    engine.script('raw/orders/bad.parquet', 'permanent');
    const { reconciler, events } = controller();
    const first = await reconciler.runPass();
    expect(first).toMatchObject({ processed: 0, failed: 1, deadLettered: 1, pending: 0, unfinishedKeys: [] });
    expect(first.results[0]).toMatchObject({ key: 'raw/orders/bad.parquet', deadLettered: true, attempts: 1 });
    const entry = (await deadLetters.load()).document.deadLetters['raw/orders/bad.parquet'];
    expect(entry).toMatchObject({
      key: 'raw/orders/bad.parquet',
      etag: (await store.head('raw/orders/bad.parquet'))?.etag,
      attempts: 1,
      errorClass: 'PermanentJobError',
      message: 'not a Parquet file',
      logTail: SCRIPTED_LOG_TAIL,
      runId: engine.submitted[0]?.runId,
    });
    expect(Number.isNaN(Date.parse(entry?.deadLetteredAt ?? ''))).toBe(false);
    expect(events.map((e) => e.name)).toEqual(['job:started', 'job:failed', 'job:dead-lettered']);

    // later passes, and a restarted controller, pass it over and count it
    expect(await reconciler.runPass()).toMatchObject({ processed: 0, failed: 0, deadLettered: 1, pending: 0 });
    const restarted = controller();
    expect(await restarted.reconciler.runPass()).toMatchObject({ failed: 0, deadLettered: 1 });
    expect(restarted.events.map((e) => e.name)).toEqual(['job:held']);
    expect(engine.submitted).toHaveLength(1);
    expect(await versionStates(store)).toEqual({ 'raw/orders/bad.parquet': 'dead-lettered' });
  });

  it('keeps the watch loop running past a bad-input file, which ends dead-lettered with its reason', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/bad.parquet', 'not parquet');
    engine.script('raw/orders/bad.parquet', 'permanent');
    const { reconciler } = controller();
    const stop = new AbortController();
    let waits = 0;
    await watch(reconciler, {
      intervalMs: 60_000,
      stopStarting: stop.signal,
      delay: async () => {
        waits += 1;
        if (waits === 1) await put('raw/orders/good.parquet', 'fine');
        if (waits === 3) stop.abort();
      },
    });
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/orders/bad.parquet', 'raw/orders/good.parquet']);
    expect((await deadLetters.load()).document.deadLetters['raw/orders/bad.parquet']?.message).toBe('not a Parquet file');
    expect(await versionStates(store)).toEqual({ 'raw/orders/bad.parquet': 'dead-lettered', 'raw/orders/good.parquet': 'processed' });
  });

  it('stops on a dead-letter document it cannot read, and leaves it untouched', async () => {
    const { root, engine, controller, put } = await lake();
    await put('raw/orders/a.parquet', 'A');
    await mkdir(path.join(root, 'metadata'), { recursive: true });
    await writeFile(path.join(root, DEAD_LETTER_KEY), '{"version": 1, "deadLetters": [');
    const { reconciler } = controller();
    await expect(reconciler.runPass()).rejects.toBeInstanceOf(DeadLetterCorruptError);
    const stop = new AbortController();
    await expect(watch(reconciler, { intervalMs: 1000, stopStarting: stop.signal, delay: async () => {} })).rejects.toBeInstanceOf(
      DeadLetterCorruptError,
    );
    expect(engine.submitted).toEqual([]);
    expect(await readFile(path.join(root, DEAD_LETTER_KEY), 'utf8')).toBe('{"version": 1, "deadLetters": [');
    // A person repaired it: the after-each invariant check can read the lake again.
    await writeFile(path.join(root, DEAD_LETTER_KEY), '{"version": 1}');
  });

  it('processes a new ETag of a dead-lettered key normally and drops the stale dead letter', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/a.parquet', 'broken');
    engine.script('raw/orders/a.parquet', 'permanent');
    const { reconciler } = controller();
    await reconciler.runPass();
    engine.script('raw/orders/a.parquet', 'succeed');
    await put('raw/orders/a.parquet', 'fixed');
    expect(await reconciler.runPass()).toMatchObject({ processed: 1, deadLettered: 0 });
    expect(engine.submitted.map((j) => j.etag)).toEqual([engine.submitted[0]?.etag, (await store.head('raw/orders/a.parquet'))?.etag]);
    expect((await deadLetters.load()).document.deadLetters).toEqual({});
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'processed' });
  });

  it('lets one poison file stop neither the other files of its dataset nor other datasets', async () => {
    const { store, engine, controller, put } = await lake();
    await put('raw/orders/1.parquet', '1', 1);
    await put('raw/orders/poison.parquet', 'p', 2);
    await put('raw/orders/3.parquet', '3', 3);
    await put('raw/customers/c.parquet', 'c', 4);
    engine.script('raw/orders/poison.parquet', 'permanent');
    const summary = await controller().reconciler.runPass();
    expect(summary).toMatchObject({ processed: 3, failed: 1, deadLettered: 1, pending: 0 });
    expect(await versionStates(store)).toEqual({
      'raw/orders/1.parquet': 'processed',
      'raw/orders/poison.parquet': 'dead-lettered',
      'raw/orders/3.parquet': 'processed',
      'raw/customers/c.parquet': 'processed',
    });
  });

  it('does not dead-letter a job stopped by shutdown, whatever error the stop caused', async () => {
    const { store, engine, controller, put } = await lake();
    await put('raw/orders/a.parquet', 'A');
    engine.script('raw/orders/a.parquet', ['hold', 'permanent']);
    const stopJobs = new AbortController();
    const pass = controller().reconciler.runPass({ stopJobs: stopJobs.signal });
    await engine.started(1);
    stopJobs.abort();
    expect(await pass).toMatchObject({ processed: 0, deadLettered: 0, pending: 1, unfinishedKeys: ['raw/orders/a.parquet'] });
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'pending' });
  });
});

describe('retries', () => {
  it('retries a retryable failure with backoff until it succeeds, counting attempts in the bucket, then clears them', async () => {
    const { store, engine, deadLetters, controller, put, delays, duringSleep } = await lake();
    await put('raw/orders/flaky.parquet', 'x');
    engine.script('raw/orders/flaky.parquet', ['retryable', 'retryable', 'succeed']);
    const counted: Array<number | undefined> = [];
    duringSleep(async () => {
      counted.push((await deadLetters.load()).document.attempts['raw/orders/flaky.parquet']?.attempts);
    });
    const { reconciler, events } = controller();
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 1, failed: 0, deadLettered: 0, pending: 0 });
    expect(summary.results[0]).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(counted).toEqual([1, 2]);
    expect(delays).toEqual([15_000, 30_000]);
    expect(events.filter((e) => e.name === 'job:retrying').map((e) => e.attempt)).toEqual([1, 2]);
    expect((await deadLetters.load()).document.attempts).toEqual({});
    expect(await versionStates(store)).toEqual({ 'raw/orders/flaky.parquet': 'processed' });
  });

  it('dead-letters a version still failing after MAX_ATTEMPTS, with backoff waits that grow and stay within bounds', async () => {
    const { store, engine, deadLetters, controller, put, delays } = await lake({
      retry: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 60_000 },
      random: [0.9, 0.1, 0.5, 0.99],
    });
    await put('raw/orders/broken.parquet', 'x');
    engine.script('raw/orders/broken.parquet', 'retryable');
    const { reconciler, events } = controller();
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 0, failed: 1, deadLettered: 1, pending: 0 });
    expect(engine.submitted).toHaveLength(5);
    expect(delays).toEqual([19_000, 22_000, 60_000, 60_000]);
    for (const [i, d] of delays.entries()) {
      expect(d).toBeGreaterThanOrEqual(10_000);
      expect(d).toBeLessThanOrEqual(60_000);
      if (i > 0) expect(d).toBeGreaterThanOrEqual(delays[i - 1] as number);
    }
    expect(events.at(-1)).toEqual({ name: 'job:dead-lettered', key: 'raw/orders/broken.parquet' });
    expect((await deadLetters.load()).document.deadLetters['raw/orders/broken.parquet']).toMatchObject({
      attempts: 5,
      errorClass: 'RetryableJobError',
      message: 'executor lost',
      runId: engine.submitted[4]?.runId,
    });
    // later passes leave it alone
    expect(await reconciler.runPass()).toMatchObject({ failed: 0, deadLettered: 1 });
    expect(engine.submitted).toHaveLength(5);
    expect(await versionStates(store)).toEqual({ 'raw/orders/broken.parquet': 'dead-lettered' });
  });

  it('goes on counting attempts after a restart, so a version is never tried more than MAX_ATTEMPTS times', async () => {
    const { store, engine, deadLetters, controller, put, duringSleep } = await lake();
    await put('raw/orders/flaky.parquet', 'x');
    engine.script('raw/orders/flaky.parquet', 'retryable');
    // The first controller is stopped while it waits to retry (SIGTERM during the backoff).
    const stopStarting = new AbortController();
    duringSleep(async () => stopStarting.abort());
    const first = await controller().reconciler.runPass({ stopStarting: stopStarting.signal });
    expect(first).toMatchObject({ processed: 0, failed: 1, deadLettered: 0, pending: 1, unfinishedKeys: ['raw/orders/flaky.parquet'] });
    expect(await versionStates(store)).toEqual({ 'raw/orders/flaky.parquet': 'pending' });
    expect((await deadLetters.load()).document.attempts['raw/orders/flaky.parquet']).toMatchObject({
      attempts: 1,
      lastFailure: { message: 'executor lost' },
    });

    duringSleep(async () => {});
    const restarted = await controller().reconciler.runPass();
    expect(restarted).toMatchObject({ deadLettered: 1, pending: 0 });
    expect(engine.submitted).toHaveLength(3);
    expect((await deadLetters.load()).document.deadLetters['raw/orders/flaky.parquet']?.attempts).toBe(3);
  });

  it('dead-letters without running a version whose attempts were all used by controllers that died during them', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/kills-the-controller.parquet', 'x');
    const etag = (await store.head('raw/orders/kills-the-controller.parquet'))?.etag ?? '';
    // Three controllers started an attempt each and never came back (a crash loop).
    for (const runId of ['r1', 'r2', 'r3']) await deadLetters.beginAttempt('raw/orders/kills-the-controller.parquet', etag, runId, 3);
    const summary = await controller().reconciler.runPass();
    expect(summary).toMatchObject({ processed: 0, deadLettered: 1, pending: 0 });
    expect(engine.submitted).toEqual([]);
    expect((await deadLetters.load()).document.deadLetters['raw/orders/kills-the-controller.parquet']).toMatchObject({
      attempts: 3,
      runId: 'r3',
      errorClass: 'AttemptsExhausted',
    });
    expect((await deadLetters.load()).document.deadLetters['raw/orders/kills-the-controller.parquet']?.message).toMatch(/out of attempts/u);
  });

  it('does not count a job stopped by shutdown as an attempt', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/a.parquet', 'A');
    engine.script('raw/orders/a.parquet', ['hold', 'retryable']);
    const stopJobs = new AbortController();
    const pass = controller().reconciler.runPass({ stopJobs: stopJobs.signal });
    await engine.started(1);
    stopJobs.abort();
    expect(await pass).toMatchObject({ processed: 0, deadLettered: 0, pending: 1 });
    expect((await deadLetters.load()).document.attempts).toEqual({});

    // After the restart it still gets all of its three attempts.
    const summary = await controller().reconciler.runPass();
    expect(summary).toMatchObject({ deadLettered: 1 });
    expect(engine.submitted).toHaveLength(4);
    expect((await deadLetters.load()).document.deadLetters['raw/orders/a.parquet']?.attempts).toBe(3);
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'dead-lettered' });
  });

  it('runs a replayed version again on the next pass, with fresh attempts', async () => {
    const { store, engine, deadLetters, controller, put } = await lake();
    await put('raw/orders/a.parquet', 'A');
    engine.script('raw/orders/a.parquet', 'permanent');
    const { reconciler } = controller();
    await reconciler.runPass();
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'dead-lettered' });
    // the spec or the job was fixed; the operator replays
    engine.script('raw/orders/a.parquet', 'succeed');
    await deadLetters.replay(['raw/orders/a.parquet']);
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'pending' });
    expect(await reconciler.runPass()).toMatchObject({ processed: 1, deadLettered: 0 });
    expect(engine.submitted).toHaveLength(2);
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'processed' });
  });

  it('neither dead-letters nor counts an attempt when the job succeeded but the marker could not be written', async () => {
    class BrokenMarker extends MarkerStore {
      override record(key: string, entry: ProcessedEntry, signal?: AbortSignal): Promise<void> {
        void entry;
        void signal;
        return Promise.reject(new MarkerCorruptError(`the marker broke while recording ${key}`));
      }
    }
    const { store, engine, deadLetters, controller, put } = await lake({ marker: (s) => new BrokenMarker(s) });
    await put('raw/orders/a.parquet', 'A');
    const summary = await controller().reconciler.runPass();
    expect(summary).toMatchObject({ processed: 0, failed: 1, deadLettered: 0, pending: 1 });
    expect(summary.results[0]?.error).toContain('recording raw/orders/a.parquet in the marker failed');
    expect(engine.submitted).toHaveLength(1);
    expect((await deadLetters.load()).document).toMatchObject({ deadLetters: {}, attempts: {} });
    expect(await versionStates(store)).toEqual({ 'raw/orders/a.parquet': 'pending' });
  });

  it('leaves a version pending, without running it, when its attempt cannot be counted, and goes on with the others', async () => {
    class FlakyBucket extends DeadLetterStore {
      override beginAttempt(...args: Parameters<DeadLetterStore['beginAttempt']>): ReturnType<DeadLetterStore['beginAttempt']> {
        if (args[0] === 'raw/orders/unlucky.parquet') return Promise.reject(new RetryableError('S3 is slow down'));
        return super.beginAttempt(...args);
      }
    }
    const { store, engine, controller, put } = await lake({ deadLetters: (s) => new FlakyBucket(s) });
    await put('raw/orders/unlucky.parquet', 'u', 1);
    await put('raw/orders/fine.parquet', 'f', 2);
    const { reconciler, events } = controller();
    const summary = await reconciler.runPass();
    expect(summary).toMatchObject({ processed: 1, failed: 1, deadLettered: 0, pending: 1, unfinishedKeys: ['raw/orders/unlucky.parquet'] });
    expect(summary.results.find((r) => r.key === 'raw/orders/unlucky.parquet')?.error).toBe('S3 is slow down');
    expect(events).toContainEqual({ name: 'job:failed', key: 'raw/orders/unlucky.parquet' });
    expect(engine.submitted.map((j) => j.key)).toEqual(['raw/orders/fine.parquet']);
    expect(await versionStates(store)).toEqual({ 'raw/orders/unlucky.parquet': 'pending', 'raw/orders/fine.parquet': 'processed' });
  });

  it('keeps the other datasets going while one dataset keeps failing', async () => {
    const { store, engine, controller, put } = await lake();
    await put('raw/flaky/1.parquet', '1', 1);
    await put('raw/flaky/2.parquet', '2', 2);
    await put('raw/orders/a.parquet', 'a', 3);
    await put('raw/customers/c.parquet', 'c', 4);
    engine.script('raw/flaky/1.parquet', 'retryable').script('raw/flaky/2.parquet', 'retryable');
    const summary = await controller().reconciler.runPass();
    expect(summary).toMatchObject({ processed: 2, failed: 2, deadLettered: 2, pending: 0 });
    expect(await versionStates(store)).toEqual({
      'raw/flaky/1.parquet': 'dead-lettered',
      'raw/flaky/2.parquet': 'dead-lettered',
      'raw/orders/a.parquet': 'processed',
      'raw/customers/c.parquet': 'processed',
    });
  });
});
