import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerEvents } from '../../src/controller/events.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { SCRIPTED_LOG_TAIL, ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type VersionState, versionStates } from '../helpers/version-states.js';

let lakes: LocalObjectStore[] = [];

async function lake() {
  const root = await tempDir();
  const store = new LocalObjectStore(root);
  lakes.push(store);
  const engine = new ScriptedEngine();
  const deadLetters = new DeadLetterStore(store);
  /** A controller on this lake; call again for a "restarted" one (new instances, same bucket). */
  const controller = () => {
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters: new DeadLetterStore(store),
      engine,
      maxConcurrentJobs: 2,
    });
    const events: Array<{ name: keyof ControllerEvents; key: string }> = [];
    for (const name of ['job:started', 'job:failed', 'job:held', 'job:dead-lettered'] as const) {
      reconciler.events.on(name, (e: { key: string }) => events.push({ name, key: e.key }));
    }
    return { reconciler, events };
  };
  const put = async (key: string, content: string, mtime = 1_700_000_000) => {
    await store.put(key, content);
    await utimes(path.join(root, key), mtime, mtime);
  };
  return { store, engine, deadLetters, controller, put };
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
