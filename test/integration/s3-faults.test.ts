import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { RetryableError, describeError } from '../../src/errors.js';
import { DEAD_LETTER_KEY, DeadLetterStore } from '../../src/state/dead-letters.js';
import { MARKER_KEY, MarkerStore } from '../../src/state/marker.js';
import { createS3Client } from '../../src/storage/s3-client.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { type S3FaultProxy, startS3FaultProxy } from '../helpers/s3-fault-proxy.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { versionStates } from '../helpers/version-states.js';

const BUCKET = 'fault-lake';
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

let moto: MotoServer;
let proxy: S3FaultProxy;
beforeAll(async () => {
  moto = await startMotoServer();
  await moto.createBucket(BUCKET);
  proxy = await startS3FaultProxy(moto.endpoint, BUCKET);
});
afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});

/**
 * A lake under its own prefix, with a controller whose S3 client is built as the CLI builds it
 * (createS3Client: the SDK's retries, 5 attempts) but talks to moto through the fault proxy.
 * `direct` sees the same lake without faults, as a user checking the bucket would.
 */
async function lake(prefix: string, keys: readonly string[]) {
  const client = createS3Client({ s3: { region: 'us-east-1', endpoint: proxy.endpoint, forcePathStyle: true }, credentials: CREDENTIALS });
  const store = new S3ObjectStore({ client, bucket: BUCKET, prefix: `${prefix}/` });
  const direct = new S3ObjectStore({ client: moto.s3, bucket: BUCKET, prefix: `${prefix}/` });
  for (const key of keys) await direct.put(key, `content of ${key}`);
  const engine = new ScriptedEngine();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
    retry: { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 300_000 },
    sleep: async () => {},
  });
  const full = (key: string) => `${prefix}/${key}`;
  return { store, direct, engine, reconciler, full };
}

const outcomes = (operation: Parameters<S3FaultProxy['requests']>[0], key: string) => proxy.requests(operation, key).map((r) => r.outcome);

const A = 'raw/orders/a.parquet';
const B = 'raw/orders/b.parquet';

describe('S3 faults on the controller’s own requests (moto behind a fault-injecting proxy)', { timeout: 60_000 }, () => {
  it('503 SlowDown on list, get and put is retried by the SDK: the pass processes every version once, nothing lost', async () => {
    const { direct, engine, reconciler, full } = await lake('slow-down', [A, B]);
    proxy.inject({ operation: 'list', key: full('raw/'), fault: 'slow-down', times: 1 });
    proxy.inject({ operation: 'get', key: full(DEAD_LETTER_KEY), fault: 'slow-down', times: 1 });
    proxy.inject({ operation: 'head', key: full(MARKER_KEY), fault: 'slow-down', times: 1 });
    proxy.inject({ operation: 'put', key: full(MARKER_KEY), fault: 'slow-down', times: 1 });
    try {
      expect(await reconciler.runPass()).toMatchObject({ processed: 2, failed: 0, pending: 0 });
    } finally {
      proxy.clear();
    }
    expect(outcomes('list', full('raw/')).slice(0, 2)).toEqual(['slow-down', 200]);
    expect(outcomes('get', full(DEAD_LETTER_KEY)).slice(0, 2)).toEqual(['slow-down', 404]);
    expect(outcomes('head', full(MARKER_KEY)).slice(0, 2)).toEqual(['slow-down', 404]);
    expect(outcomes('put', full(MARKER_KEY)).slice(0, 2)).toEqual(['slow-down', 200]);
    expect(engine.submitted.map((j) => j.key).sort()).toEqual([A, B]);
    expect(await versionStates(direct)).toEqual({ [A]: 'processed', [B]: 'processed' });
  });

  it('connection resets on list, get and put are retried by the SDK: the pass processes every version once, nothing lost', async () => {
    const { direct, engine, reconciler, full } = await lake('resets', [A, B]);
    proxy.inject({ operation: 'list', key: full('raw/'), fault: 'reset', times: 1 });
    proxy.inject({ operation: 'get', key: full(DEAD_LETTER_KEY), fault: 'reset', times: 2 });
    proxy.inject({ operation: 'head', key: full(MARKER_KEY), fault: 'reset', times: 1 });
    proxy.inject({ operation: 'put', key: full(MARKER_KEY), fault: 'reset', times: 1 });
    try {
      expect(await reconciler.runPass()).toMatchObject({ processed: 2, failed: 0, pending: 0 });
    } finally {
      proxy.clear();
    }
    expect(outcomes('list', full('raw/')).slice(0, 2)).toEqual(['reset', 200]);
    expect(outcomes('get', full(DEAD_LETTER_KEY)).slice(0, 3)).toEqual(['reset', 'reset', 404]);
    expect(outcomes('head', full(MARKER_KEY)).slice(0, 2)).toEqual(['reset', 404]);
    expect(outcomes('put', full(MARKER_KEY)).slice(0, 2)).toEqual(['reset', 200]);
    expect(engine.submitted.map((j) => j.key).sort()).toEqual([A, B]);
    expect(await versionStates(direct)).toEqual({ [A]: 'processed', [B]: 'processed' });
  });

  it('a marker write whose answer is lost after it landed: the SDK’s retry meets a 412, the change is re-read and reapplied, both entries kept', async () => {
    const { direct, reconciler, full } = await lake('lost-answer', [A, B]);
    proxy.inject({ operation: 'put', key: full(MARKER_KEY), fault: 'reset-after', times: 1 });
    try {
      expect(await reconciler.runPass()).toMatchObject({ processed: 2, failed: 0, pending: 0 });
    } finally {
      proxy.clear();
    }
    const puts = outcomes('put', full(MARKER_KEY));
    // The first write (If-None-Match: *) landed; its retry finds the object there: 412, re-read, write If-Match.
    expect(puts.slice(0, 3)).toEqual(['reset-after', 412, 200]);
    expect(await versionStates(direct)).toEqual({ [A]: 'processed', [B]: 'processed' });
  });

  it('a listing that keeps failing: the pass fails naming the operation and the prefix; nothing runs or is recorded; the next pass catches up', async () => {
    const { direct, engine, reconciler, full } = await lake('list-down', [A]);
    proxy.inject({ operation: 'list', key: full('raw/'), fault: 'slow-down' });
    let error: unknown;
    try {
      error = await reconciler.runPass().catch((e: unknown) => e);
    } finally {
      proxy.clear();
    }
    expect(error).toBeInstanceOf(RetryableError);
    expect(describeError(error)).toContain(`listing s3://${BUCKET}/list-down/raw/ failed: SlowDown`);
    expect(outcomes('list', full('raw/'))).toEqual(Array(5).fill('slow-down'));
    expect(engine.submitted).toEqual([]);
    expect(await direct.get(MARKER_KEY)).toBeUndefined();
    expect(await versionStates(direct)).toEqual({ [A]: 'pending' });

    expect(await reconciler.runPass()).toMatchObject({ processed: 1 });
    expect(await versionStates(direct)).toEqual({ [A]: 'processed' });
  });

  it('a marker that cannot be read (connection resets): the pass fails naming the marker, nothing runs; the next pass catches up', async () => {
    const { direct, engine, reconciler, full } = await lake('get-down', [A, B]);
    await new MarkerStore(direct).record(B, {
      etag: '"b"',
      size: 1,
      runId: 'r',
      engine: 'local',
      finishedAt: '',
      rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
    });
    proxy.inject({ operation: 'get', key: full(MARKER_KEY), fault: 'reset' });
    let error: unknown;
    try {
      error = await reconciler.runPass().catch((e: unknown) => e);
    } finally {
      proxy.clear();
    }
    expect(error).toBeInstanceOf(RetryableError);
    expect(describeError(error)).toContain(`reading s3://${BUCKET}/get-down/${MARKER_KEY} failed`);
    expect(describeError(error)).toMatch(/ECONNRESET|socket hang up/u);
    expect(outcomes('get', full(MARKER_KEY))).toEqual(Array(5).fill('reset'));
    expect(engine.submitted).toEqual([]);
    expect(await versionStates(direct)).toEqual({ [A]: 'pending', [B]: 'pending' });

    expect(await reconciler.runPass()).toMatchObject({ processed: 2 });
    expect(await versionStates(direct)).toEqual({ [A]: 'processed', [B]: 'processed' });
  });

  it('a marker write that keeps failing after the job ran: the version stays pending, no attempt used, the error names the marker; the next pass records it', async () => {
    const { direct, engine, reconciler, full } = await lake('put-down', [A]);
    proxy.inject({ operation: 'put', key: full(MARKER_KEY), fault: 'internal-error' });
    let first;
    try {
      first = await reconciler.runPass();
    } finally {
      proxy.clear();
    }
    expect(first).toMatchObject({ processed: 0, failed: 1, deadLettered: 0, pending: 1, unfinishedKeys: [A] });
    expect(first.results[0]?.error).toContain(`recording ${A} in the marker failed`);
    expect(first.results[0]?.error).toContain(`writing s3://${BUCKET}/put-down/${MARKER_KEY} failed: InternalError`);
    expect(outcomes('put', full(MARKER_KEY))).toEqual(Array(5).fill('internal-error'));
    expect(await direct.get(MARKER_KEY)).toBeUndefined();
    expect(await versionStates(direct)).toEqual({ [A]: 'pending' });
    expect((await new DeadLetterStore(direct).load()).document.attempts[A]).toBeUndefined();

    expect(await reconciler.runPass()).toMatchObject({ processed: 1, pending: 0 });
    expect(engine.submitted.map((j) => j.key)).toEqual([A, A]);
    expect(await versionStates(direct)).toEqual({ [A]: 'processed' });
  });

  it('a marker write conflict (another writer got in between read and write, If-Match lost): the change is reapplied, both entries survive', async () => {
    const { direct, reconciler, full } = await lake('conflict', [A]);
    const other = new MarkerStore(direct);
    const otherEntry = {
      etag: '"other"',
      size: 1,
      runId: 'other-run',
      engine: 'local',
      finishedAt: '',
      rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
    };
    await other.record('raw/orders/z.parquet', otherEntry);
    // The next marker write of the controller under test: another controller records first.
    proxy.inject({ operation: 'put', key: full(MARKER_KEY), times: 1, before: () => other.record('raw/orders/y.parquet', otherEntry) });
    try {
      expect(await reconciler.runPass()).toMatchObject({ processed: 1, failed: 0 });
    } finally {
      proxy.clear();
    }
    expect(outcomes('put', full(MARKER_KEY))).toEqual([412, 200]);
    const { document } = await new MarkerStore(direct).load();
    expect(Object.keys(document.files).sort()).toEqual([A, 'raw/orders/y.parquet', 'raw/orders/z.parquet']);
    expect(await versionStates(direct)).toEqual({ [A]: 'processed' });
  });

  it('a big marker on S3 (deltas, folds): two writers at once lose no entry', async () => {
    const direct = () => new S3ObjectStore({ client: moto.s3, bucket: BUCKET, prefix: 'deltas/' });
    const options = { deltasFrom: 0, foldEvery: 4 };
    const [a, b] = [new MarkerStore(direct(), options), new MarkerStore(direct(), options)];
    const entry = (etag: string) => ({
      etag,
      size: 1,
      runId: etag,
      engine: 'local',
      finishedAt: '',
      rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
    });
    const keys = Array.from({ length: 12 }, (_, i) => `raw/ds/${i}.parquet`);
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).record(k, entry(`"${i}"`))));
    expect(Object.keys((await new MarkerStore(direct()).load()).document.files).sort()).toEqual([...keys].sort());
  });

  it('a corrupt marker on S3: `once` stops with a message pointing to `marker rebuild`, runs nothing, and leaves the marker untouched', async () => {
    await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `corrupt/${A}`, Body: 'x' }));
    await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `corrupt/${MARKER_KEY}`, Body: '{"version": 1, "files": ' }));
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    stdout.resume();
    const code = await main({
      args: ['once'],
      stdout,
      stderr,
      cwd: process.cwd(),
      env: {
        LAKE: `s3://${BUCKET}/corrupt`,
        S3_ENDPOINT: moto.endpoint,
        AWS_REGION: 'us-east-1',
        ACCESS_KEY: 'testing',
        SECRET_KEY: 'testing',
        ENGINE: 'local',
      },
    });
    expect(code).toBe(1);
    expect(err).toContain(`${MARKER_KEY} is not a valid marker (not JSON`);
    expect(err).toContain('`s3-spark-watcher marker rebuild`');
    const stored = await moto.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `corrupt/${MARKER_KEY}` }));
    expect(await stored.Body?.transformToString()).toBe('{"version": 1, "files": ');
    expect(await new DeadLetterStore(new S3ObjectStore({ client: moto.s3, bucket: BUCKET, prefix: 'corrupt/' })).load()).toMatchObject({
      etag: undefined,
    });
  });
});
