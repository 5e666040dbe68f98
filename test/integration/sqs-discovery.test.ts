import { PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeError } from '../../src/errors.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { SqsWatcher, type SqsWatchEvents } from '../../src/controller/sqs-watch-loop.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { SqsSource } from '../../src/discovery/sqs-source.js';
import { BatchManifests } from '../../src/state/batch-manifests.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { S3ObjectStore } from '../../src/storage/s3-store.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { ScriptedEngine } from '../helpers/scripted-engine.js';
import { until } from '../helpers/until.js';

let moto: MotoServer;
let sqs: SQSClient;
let n = 0;
beforeAll(async () => {
  moto = await startMotoServer();
  sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});
afterAll(async () => {
  sqs?.destroy();
  await moto?.stop();
});

/** A bucket whose ObjectCreated events go to a fresh queue, a lake under `lake/` in it, and a watcher. */
async function setup(options: { maxFilesPerJob?: number } = {}) {
  const bucket = `events-${++n}`;
  await moto.createBucket(bucket);
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `raw-events-${n}` }));
  const queueUrl = queue.QueueUrl ?? '';
  await moto.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [{ QueueArn: `arn:aws:sqs:us-east-1:123456789012:raw-events-${n}`, Events: ['s3:ObjectCreated:*'] }],
      },
    }),
  );
  const store = new S3ObjectStore({ client: moto.s3, bucket, prefix: 'lake/' });
  const engine = new ScriptedEngine();
  const marker = new MarkerStore(store);
  const stop = new AbortController();
  /** What happens while the reconciler waits to retry a version (default: nothing, retries are instant). */
  const retryWait = { hook: (): void => {} };
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker,
    deadLetters: new DeadLetterStore(store),
    engine,
    maxConcurrentJobs: 2,
    ...(options.maxFilesPerJob !== undefined
      ? { batchLimits: { maxFiles: options.maxFilesPerJob, maxBytes: 1024 ** 3 }, manifests: new BatchManifests(store) }
      : {}),
    sleep: async (_ms, signal) => {
      retryWait.hook();
      signal?.throwIfAborted();
    },
  });
  const source = new SqsSource({ client: sqs, queueUrl, waitSeconds: 1, visibilitySeconds: 30 });
  const watcher = new SqsWatcher(reconciler, {
    source,
    bucket,
    lakePrefix: 'lake/',
    reconcileIntervalMs: 3_600_000,
    stopStarting: stop.signal,
  });
  const seen: Array<[keyof SqsWatchEvents, unknown]> = [];
  for (const name of ['message:ignored', 'message:malformed', 'message:done', 'message:kept'] as const)
    watcher.events.on(name, (e) => seen.push([name, e]));
  const put = (key: string, body = 'parquet bytes') => moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  /** Messages in the queue: visible, and received but not yet deleted. */
  const queued = async () => {
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(a.Attributes?.['ApproximateNumberOfMessages']) + Number(a.Attributes?.['ApproximateNumberOfMessagesNotVisible']);
  };
  const receiveAndHandle = async () => watcher.handleBatch(await source.receive());
  return { bucket, queueUrl, store, engine, marker, reconciler, source, watcher, stop, retryWait, seen, put, queued, receiveAndHandle };
}

describe('SQS discovery with S3 event notifications (moto server)', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  beforeEach(async () => {
    t = await setup();
    await t.receiveAndHandle(); // the s3:TestEvent S3 sends when notifications are configured
    expect(t.seen).toEqual([['message:ignored', expect.objectContaining({ reason: 's3:TestEvent' })]]);
    t.seen.length = 0;
    expect(await t.queued()).toBe(0);
  });

  it('runs the version an event names, records it, then deletes the message; keys are decoded', async () => {
    const key = 'raw/orders/my file+v2 "quoted" ünï.parquet';
    await t.put(`lake/${key}`);
    await t.receiveAndHandle();
    expect(t.engine.submitted.map((j) => j.key)).toEqual([key]);
    expect(Object.keys((await t.marker.load()).document.files)).toEqual([key]);
    expect(t.seen).toEqual([['message:done', expect.objectContaining({ keys: [key] })]]);
    // This bucket notifies for every key, so the writes of the marker and metadata/dead_letter.json sent events too: ignored.
    while ((await t.queued()) > 0) await t.receiveAndHandle();
    expect(t.seen.length).toBeGreaterThan(1);
    for (const seen of t.seen.slice(1)) {
      expect(seen).toEqual(['message:ignored', expect.objectContaining({ reason: 'no object created under raw/ of this lake' })]);
    }
    expect(t.engine.submitted).toHaveLength(1);
  });

  it('ignores and deletes events for other prefixes and non-candidates, without submitting', async () => {
    await t.put('lake/cleaned/orders/x/part-0.parquet');
    await t.put('elsewhere/raw/orders/x.parquet');
    await t.put('lake/raw/orders/_temporary/0/part.parquet');
    await until(async () => (await t.queued()) === 3, 'three events are queued');
    while ((await t.queued()) > 0) await t.receiveAndHandle();
    expect(t.engine.submitted).toEqual([]);
    expect(t.seen.filter(([name]) => name === 'message:ignored')).toHaveLength(2);
    expect(t.seen.filter(([name]) => name === 'message:done')).toHaveLength(1); // looked up, not a candidate: settled
  });

  it('leaves a malformed message for the redrive policy and goes on', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: t.queueUrl, MessageBody: 'this is not an S3 event' }));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: t.queueUrl,
        MessageBody: JSON.stringify({
          Records: [
            { eventName: 'ObjectCreated:Put', s3: { bucket: { name: t.bucket }, object: { key: 'lake/raw/a/..%2F..%2Fetc%2Fpasswd' } } },
          ],
        }),
      }),
    );
    await t.receiveAndHandle();
    await t.receiveAndHandle();
    expect(t.seen.map(([name]) => name)).toEqual(['message:malformed', 'message:malformed']);
    expect(await t.queued()).toBe(2); // not deleted: invisible now, back after the visibility timeout
    expect(t.engine.submitted).toEqual([]);
  });

  it('keeps the message of a version still pending after a failure, and extends its visibility while the job runs', async () => {
    await t.put('lake/raw/orders/flaky.parquet');
    t.engine.script('raw/orders/flaky.parquet', 'hold');
    const messages = await t.source.receive();
    let extensions = 0;
    const extend = t.source.extendVisibility.bind(t.source);
    t.source.extendVisibility = async (m) => {
      extensions += 1;
      await extend(m);
    };
    Object.defineProperty(t.source, 'visibilitySeconds', { value: 0.2 }); // a heartbeat every 100 ms
    const handling = t.watcher.handleBatch(messages);
    await until(() => extensions >= 2, 'the visibility was extended twice');
    t.engine.script('raw/orders/flaky.parquet', 'retryable');
    // A shutdown comes while the version waits for its retry: it stays pending.
    t.retryWait.hook = () => t.stop.abort();
    t.engine.release('raw/orders/flaky.parquet');
    await handling;
    expect(t.seen).toEqual([['message:kept', expect.objectContaining({ keys: ['raw/orders/flaky.parquet'] })]]);
    // Not deleted: still in the queue (with the events of the attempt counts written to metadata/dead_letter.json).
    expect(await t.queued()).toBeGreaterThanOrEqual(1);
    const { document: dead } = await new DeadLetterStore(t.store).load();
    expect(dead.deadLetters).toEqual({});
    expect(dead.attempts['raw/orders/flaky.parquet']?.attempts).toBe(1);
    expect((await t.marker.load()).document.files).toEqual({});
  });

  it('with batches, deletes a message only once the version it names is recorded; a version left to retry keeps its message', async () => {
    const b = await setup({ maxFilesPerJob: 10 });
    await b.receiveAndHandle(); // the test event
    b.seen.length = 0;
    const keys = ['raw/orders/a.parquet', 'raw/orders/b.parquet', 'raw/orders/killer.parquet'];
    for (const key of keys) await b.put(`lake/${key}`);
    b.engine.script('raw/orders/killer.parquet', 'retryable');
    // A stop comes while the killer waits for its second attempt: it stays pending.
    b.retryWait.hook = () => {
      if (b.engine.submitted.at(-1)?.key === 'raw/orders/killer.parquet' && b.engine.submitted.at(-1)?.batch === undefined) b.stop.abort();
    };
    let messages = await b.source.receive();
    while (messages.length < 3) messages = [...messages, ...(await b.source.receive())];
    await b.watcher.handleBatch(messages);
    // One batch of three failed as a whole; split, the good half was recorded, the killer ran alone.
    expect(b.engine.batches[0]?.slice().sort()).toEqual(keys);
    expect(Object.keys((await b.marker.load()).document.files).sort()).toEqual(keys.slice(0, 2));
    const done = b.seen.filter(([name]) => name === 'message:done').flatMap(([, e]) => (e as { keys: string[] }).keys);
    const kept = b.seen.filter(([name]) => name === 'message:kept').flatMap(([, e]) => (e as { keys: string[] }).keys);
    expect(done.sort()).toEqual(keys.slice(0, 2));
    expect(kept).toEqual(['raw/orders/killer.parquet']);
  });

  it('deletes the message of a dead-lettered version: it is settled, not to be redelivered', async () => {
    await t.put('lake/raw/orders/bad.parquet');
    t.engine.script('raw/orders/bad.parquet', 'permanent');
    await t.receiveAndHandle();
    expect(t.seen).toEqual([['message:done', expect.objectContaining({ keys: ['raw/orders/bad.parquet'] })]]);
    // What is left are the events of the writes to metadata/dead_letter.json: ignored.
    while ((await t.queued()) > 0) await t.receiveAndHandle();
    expect(t.seen.slice(1).every(([name]) => name === 'message:ignored')).toBe(true);
    expect(t.engine.submitted).toHaveLength(1);
  });

  it('run(): a full pass first, then events, until stopped', async () => {
    await t.put('lake/raw/orders/before.parquet');
    const passes: string[] = [];
    t.reconciler.events.on('pass:finished', ({ passId }) => passes.push(passId));
    const failures: unknown[] = [];
    t.reconciler.events.on('pass:failed', ({ error }) => failures.push(error));
    const running = t.watcher.run();
    await until(() => {
      if (failures.length > 0) throw new Error(`the first full pass failed: ${describeError(failures[0])}`, { cause: failures[0] });
      return passes.length >= 1; // the event of before.parquet may already have had its own pass
    }, 'the first full pass is done');
    expect(t.engine.submitted.map((j) => j.key)).toEqual(['raw/orders/before.parquet']);
    await t.put('lake/raw/orders/after.parquet');
    await until(() => t.engine.submitted.length === 2, 'the event was handled');
    t.stop.abort();
    await running;
    expect(t.engine.submitted.map((j) => j.key)).toEqual(['raw/orders/before.parquet', 'raw/orders/after.parquet']);
  });
});
