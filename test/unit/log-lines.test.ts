import { PassThrough } from 'node:stream';
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { RetryableError } from '../../src/errors.js';
import { COMMON_LOG_FIELDS, LOG_EVENT_FIELDS, logControllerEvents } from '../../src/observability/log-events.js';
import { logReliabilityEvents } from '../../src/observability/reliability-log-events.js';
import { createLogger } from '../../src/observability/logger.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import type { ListOptions, ListPage } from '../../src/storage/object-store.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { tempDir } from '../helpers/temp-dir.js';

class FlakyStore extends LocalObjectStore {
  failing = false;
  override listPage(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (this.failing) {
      const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'NetworkError' });
      return Promise.reject(new RetryableError('listing raw/ failed', { cause }));
    }
    return super.listPage(prefix, options);
  }
}

type Line = Record<string, unknown>;

async function run(stream: NodeJS.WritableStream, format?: 'json' | 'pretty') {
  const root = await tempDir();
  const store = new FlakyStore(root);
  const engine = new ScriptedEngine();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
    retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 1000 },
    sleep: async () => {}, // retries come at once
  });
  const logger = createLogger({ level: 'debug', stream, ...(format ? { format } : {}) });
  logControllerEvents(reconciler, logger);
  logReliabilityEvents(reconciler, logger);
  const put = async (key: string, mtime: number) => {
    await store.put(key, key);
    await utimes(path.join(root, key), mtime, mtime);
  };
  await put('raw/orders/ok.parquet', 1);
  await put('raw/orders/bad.parquet', 2);
  await put('raw/customers/flaky.parquet', 3);
  engine.script('raw/orders/bad.parquet', 'permanent').script('raw/customers/flaky.parquet', ['retryable', 'succeed']);
  await reconciler.runPass();
  await reconciler.runPass(); // the dead-lettered one is passed over
  store.failing = true;
  await reconciler.runPass().catch(() => undefined);
}

function collect(stream: PassThrough): () => string[] {
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return () => chunks.join('').split('\n').filter(Boolean);
}

describe('log lines', () => {
  it('are one JSON object each when not a terminal, with the fields of their event, and pass and run ids', async () => {
    const stream = new PassThrough();
    const lines = collect(stream);
    await run(stream);
    const parsed = lines().map((l) => JSON.parse(l) as Line);
    expect(parsed.length).toBeGreaterThan(10);
    for (const line of parsed) {
      for (const field of COMMON_LOG_FIELDS) expect(line, `${field} in ${JSON.stringify(line)}`).toHaveProperty(field);
      const event = line['event'] as keyof typeof LOG_EVENT_FIELDS;
      expect(LOG_EVENT_FIELDS[event], `known event ${event}`).toBeDefined();
      for (const field of LOG_EVENT_FIELDS[event]) expect(line, `${field} in ${event}`).toHaveProperty(field);
      expect(Number.isNaN(Date.parse(String(line['time'])))).toBe(false);
    }
    const events = parsed.map((l) => l['event']);
    for (const e of [
      'pass:started',
      'pass:discovered',
      'pass:finished',
      'pass:failed',
      'job:started',
      'job:succeeded',
      'job:failed',
      'job:retrying',
      'job:dead-lettered',
      'job:held',
    ]) {
      expect(events, e).toContain(e);
    }
    // every job line belongs to a pass that has its own lines, and its run id is that job's
    const passIds = new Set(parsed.filter((l) => l['event'] === 'pass:started').map((l) => l['passId']));
    const jobLines = parsed.filter((l) => String(l['event']).startsWith('job:') && l['event'] !== 'job:held');
    for (const l of jobLines) expect(passIds.has(l['passId'])).toBe(true);
    const flaky = jobLines.filter((l) => l['key'] === 'raw/customers/flaky.parquet');
    expect(flaky.map((l) => [l['event'], l['attempt']])).toEqual([
      ['job:started', 1],
      ['job:failed', 1],
      ['job:retrying', 1],
      ['job:started', 2],
      ['job:succeeded', 2],
    ]);
    expect(flaky[0]?.['runId']).toBe(flaky[1]?.['runId']);
    expect(flaky[3]?.['runId']).not.toBe(flaky[0]?.['runId']);
    expect(parsed.find((l) => l['event'] === 'job:dead-lettered')).toMatchObject({
      level: 'error',
      key: 'raw/orders/bad.parquet',
      attempts: 1,
    });
    expect(parsed.find((l) => l['event'] === 'job:failed' && l['permanent'] === true)).toMatchObject({
      level: 'error',
      key: 'raw/orders/bad.parquet',
      error: { type: 'PermanentJobError', message: 'not a Parquet file', exitCode: 2 },
    });
  });

  it('carry an error with its cause chain', async () => {
    const stream = new PassThrough();
    const lines = collect(stream);
    await run(stream, 'json');
    const failed = lines()
      .map((l) => JSON.parse(l) as Line)
      .find((l) => l['event'] === 'pass:failed');
    expect(failed).toMatchObject({
      level: 'error',
      error: {
        type: 'RetryableError',
        message: 'listing raw/ failed: caused by: connect ECONNREFUSED 127.0.0.1:9',
        causes: [{ type: 'NetworkError', message: 'connect ECONNREFUSED 127.0.0.1:9' }],
      },
    });
  });

  it('are short readable lines in a terminal', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true });
    const lines = collect(stream);
    await run(stream);
    const started = lines().find((l) => l.includes('job started: raw/customers/flaky.parquet (attempt 2)'));
    // coloured where the terminal supports it
    const plain = (started ?? '').replaceAll(`${String.fromCharCode(27)}[32m`, '').replaceAll(`${String.fromCharCode(27)}[39m`, '');
    expect(plain).toMatch(
      /^\d\d:\d\d:\d\d info job started: raw\/customers\/flaky.parquet \(attempt 2\) {2}key=\S+ dataset=customers attempt=2$/u,
    );
    expect(() => JSON.parse(started ?? '')).toThrow();
  });

  it('escape control characters a key may hold, and JSON reads the key back unchanged', async () => {
    const key = 'raw/orders/\u001b[2J\rfake\u009b31m\u202eliar.parquet';
    const jsonStream = new PassThrough();
    const jsonLines = collect(jsonStream);
    createLogger({ level: 'info', stream: jsonStream, format: 'json' }).info(`job started: ${key}`, { key });
    const ttyStream = Object.assign(new PassThrough(), { isTTY: true });
    const ttyLines = collect(ttyStream);
    createLogger({ level: 'info', stream: ttyStream }).info(`job started: ${key}`, { key });
    await new Promise((resolve) => setImmediate(resolve));

    const [line] = jsonLines();
    for (const c of ['\u001b', '\r', '\u009b', '\u202e']) expect(line).not.toContain(c);
    expect((JSON.parse(line ?? '') as { key: string; msg: string }).key).toBe(key);
    const esc = String.fromCharCode(27);
    const plain = (ttyLines()[0] ?? '').replaceAll(`${esc}[32m`, '').replaceAll(`${esc}[39m`, '');
    expect(plain).toContain('job started: raw/orders/\\u001b[2J\\u000dfake\\u009b31m\\u202eliar.parquet');
    for (const c of ['\u001b', '\r', '\u009b', '\u202e']) expect(plain).not.toContain(c);
  });
});
