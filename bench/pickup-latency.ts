/**
 * PUT -> job start latency: SQS event notifications vs polling, on moto server (loopback).
 *
 *   npx tsx bench/pickup-latency.ts [--files 20] [--poll-intervals 5,60]
 *
 * The engine is a stand-in that records when a job would start (no Spark), so the figure is the
 * controller's own pick-up latency. In SQS mode each file is uploaded after the previous one
 * started; in poll mode the files are uploaded at random moments over a few poll intervals, as
 * real arrivals are. Prints median and p95 per mode, and a Markdown table row for BENCHMARKS.md.
 */
import { PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reconciler } from '../src/controller/reconciler.js';
import { SqsWatcher } from '../src/controller/sqs-watch-loop.js';
import { watch } from '../src/controller/watch-loop.js';
import { candidateFilter } from '../src/discovery/candidates.js';
import { PollingDiscovery } from '../src/discovery/poller.js';
import { SqsSource } from '../src/discovery/sqs-source.js';
import type { JobRequest, SparkEngine } from '../src/engines/engine.js';
import type { RunReport } from '../src/engines/run-report.js';
import { DeadLetterStore } from '../src/state/dead-letters.js';
import { MarkerStore } from '../src/state/marker.js';
import { S3ObjectStore } from '../src/storage/s3-store.js';
import { startMotoServer } from '../test/helpers/moto-server.js';
import { succeededReport } from '../test/helpers/scripted-engine.js';

const { values } = parseArgs({
  options: { files: { type: 'string', default: '20' }, 'poll-intervals': { type: 'string', default: '5,60' } },
});
const files = Number(values.files);
const pollIntervals = values['poll-intervals'].split(',').map(Number);

/** Records when each key's job starts; succeeds at once. */
class StartClock implements SparkEngine {
  readonly name = 'local' as const;
  readonly started = new Map<string, number>();
  async submit(job: JobRequest): Promise<RunReport> {
    this.started.set(job.key, performance.now());
    return succeededReport(job);
  }
  async close(): Promise<void> {}
}

function stats(ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
  return { median: at(0.5), p95: at(0.95) };
}

const moto = await startMotoServer();
const sqs = new SQSClient({
  region: 'us-east-1',
  endpoint: moto.endpoint,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});
let bucketNo = 0;

async function lake(withQueue: boolean) {
  const bucket = `bench-${++bucketNo}`;
  await moto.createBucket(bucket);
  let queueUrl = '';
  if (withQueue) {
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: bucket }))).QueueUrl ?? '';
    await moto.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: bucket,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: `arn:aws:sqs:us-east-1:123456789012:${bucket}`,
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'raw/' }] } },
            },
          ],
        },
      }),
    );
  }
  const store = new S3ObjectStore({ client: moto.s3, bucket });
  const engine = new StartClock();
  const reconciler = new Reconciler({
    discovery: new PollingDiscovery(store, candidateFilter()),
    marker: new MarkerStore(store),
    deadLetters: new DeadLetterStore(store),
    engine,
    maxConcurrentJobs: 4,
  });
  const put = async (key: string) => {
    const t = performance.now();
    await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'PAR1 stand-in' }));
    return t;
  };
  return { bucket, queueUrl, engine, reconciler, put };
}

async function waitFor(engine: StartClock, key: string, deadlineMs: number): Promise<number> {
  const end = performance.now() + deadlineMs;
  while (!engine.started.has(key)) {
    if (performance.now() > end) throw new Error(`${key} not picked up within ${deadlineMs} ms`);
    await sleep(5);
  }
  return engine.started.get(key) ?? NaN;
}

const rows: string[] = [];

{
  const l = await lake(true);
  const stop = new AbortController();
  let passes = 0;
  l.reconciler.events.on('pass:finished', () => (passes += 1));
  const w = new SqsWatcher(l.reconciler, {
    source: new SqsSource({ client: sqs, queueUrl: l.queueUrl }),
    bucket: l.bucket,
    lakePrefix: '',
    reconcileIntervalMs: 3_600_000,
    stopStarting: stop.signal,
  });
  const running = w.run();
  while (passes < 1) await sleep(5);
  const latencies: number[] = [];
  for (let i = 0; i < files; i++) {
    const key = `raw/ds/file-${i}.parquet`;
    const putAt = await l.put(key);
    latencies.push((await waitFor(l.engine, key, 30_000)) - putAt);
  }
  stop.abort();
  await running;
  const { median, p95 } = stats(latencies);
  console.log(`sqs: n=${files} median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms`);
  rows.push(`| SQS (long poll 20 s) | ${files} | ${(median / 1000).toFixed(2)} s | ${(p95 / 1000).toFixed(2)} s |`);
}

for (const interval of pollIntervals) {
  const l = await lake(false);
  const stop = new AbortController();
  const running = watch(l.reconciler, { intervalMs: interval * 1000, stopStarting: stop.signal });
  // Arrivals at random moments over three intervals, as real uploads come.
  const window = interval * 3000;
  const offsets = Array.from({ length: files }, () => Math.random() * window).sort((a, b) => a - b);
  const t0 = performance.now();
  const puts: Array<[string, number]> = [];
  for (const [i, offset] of offsets.entries()) {
    const wait = t0 + offset - performance.now();
    if (wait > 0) await sleep(wait);
    const key = `raw/ds/file-${i}.parquet`;
    puts.push([key, await l.put(key)]);
  }
  const latencies: number[] = [];
  for (const [key, putAt] of puts) latencies.push((await waitFor(l.engine, key, interval * 3000)) - putAt);
  stop.abort();
  await running;
  const { median, p95 } = stats(latencies);
  console.log(`poll ${interval}s: n=${files} median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms`);
  rows.push(`| poll, POLL_INTERVAL_SECONDS=${interval} | ${files} | ${(median / 1000).toFixed(2)} s | ${(p95 / 1000).toFixed(2)} s |`);
}

console.log('\n| discovery | files | median PUT -> job start | p95 |\n|---|---|---|---|');
for (const r of rows) console.log(r);
sqs.destroy();
await moto.stop();
