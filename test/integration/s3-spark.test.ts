import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutBucketNotificationConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqsWatcher, createWatcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import { MARKER_KEY, type MarkerDocument } from '../../src/state/marker.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { venvPython } from '../helpers/python.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const BUCKET = 'spark-lake';

/** Command lines (of every process on the machine) that contain `text`, sampled until `running` settles. */
async function watchCommandLines(text: string, running: Promise<unknown>): Promise<string[]> {
  const found = new Set<string>();
  let done = false;
  void running.finally(() => (done = true));
  while (!done) {
    for (const pid of await readdir('/proc').catch(() => [])) {
      if (!/^\d+$/u.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(text)) found.add(cmdline.replaceAll('\0', ' '));
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return [...found];
}
const SECRET = 'moto-secret-value-7f3a';

/**
 * The real job over s3a against moto: poll mode through the CLI, then SQS mode with the bucket's
 * event notifications, including a key with spaces, `+`, quotes and unicode.
 */
describe('end to end on S3 (moto server) with the real spark-submit over s3a', { timeout: 300_000 }, () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  let queueUrl: string;
  let work: string;
  const env = (): Record<string, string> => ({
    LAKE: `s3://${BUCKET}/lake`,
    S3_ENDPOINT: moto.endpoint,
    ACCESS_KEY: 'testing-key',
    SECRET_KEY: SECRET,
    DATASETS_DIR: 'demo/datasets',
    SPARK_MASTER: 'local[1]',
    RUN_LOG_DIR: path.join(work, 'logs'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  const keysUnder = async (prefix: string): Promise<string[]> =>
    ((await moto.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key ?? '');
  const marker = async (): Promise<MarkerDocument> => {
    const out = await moto.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `lake/${MARKER_KEY}` }));
    return JSON.parse(await (out.Body?.transformToString() ?? '{}')) as MarkerDocument;
  };
  const upload = async (file: string, key: string) =>
    moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: await readFile(file) }));

  beforeAll(async () => {
    work = await tempDir('s3sw-s3e2e-');
    moto = await startMotoServer();
    await moto.createBucket(BUCKET);
    sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'lake-raw-events' }))).QueueUrl ?? '';
    await moto.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: BUCKET,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              QueueArn: 'arn:aws:sqs:us-east-1:123456789012:lake-raw-events',
              Events: ['s3:ObjectCreated:*'],
              Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'lake/raw/' }] } },
            },
          ],
        },
      }),
    );
    await execa(venvPython(), ['demo/make_demo_data.py', '--lake', path.join(work, 'local')]);
  });
  afterAll(async () => {
    sqs?.destroy();
    await moto?.stop();
  });

  it('poll mode: `once` processes every raw file into the bucket, and a second `once` submits nothing', async () => {
    await upload(path.join(work, 'local/raw/orders/2026/11/01/orders.parquet'), 'lake/raw/orders/2026/11/01/orders.parquet');
    // A bad file too, so the failure path (error lines, failed report, dead letter) is checked for the secret as well.
    await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'lake/raw/orders/broken.parquet', Body: 'order_id\n1\n' }));
    const once = (extra: Record<string, string> = {}) =>
      execa(process.execPath, ['bin/s3-spark-watcher.js', 'once', '--json'], { env: { ...env(), ...extra }, reject: false });
    const run = once({ LOG_LEVEL: 'debug' });
    const argsWithSecret = watchCommandLines(SECRET, run);
    const sparkJobs = watchCommandLines('pipeline.py', run); // proves the sampling sees the Spark processes
    const first = await run;
    expect(first.exitCode, first.stderr).toBe(1); // the bad file failed (for good)
    expect(JSON.parse(String(first.stdout).trim().split('\n').at(-1) ?? '')).toMatchObject({ processed: 1, failed: 1, deadLettered: 1 });
    expect((await keysUnder('lake/cleaned/orders/2026/11/01/orders/')).some((k) => k.endsWith('.parquet'))).toBe(true);
    expect((await keysUnder('lake/curated/orders/order_date=2026-11-01/')).some((k) => k.endsWith('.parquet'))).toBe(true);
    expect((await keysUnder('lake/raw/')).length).toBe(2); // the job never writes under raw/
    expect((await marker()).files['raw/orders/2026/11/01/orders.parquet']?.rows).toEqual({
      read: 9,
      cleaned: 8,
      quarantined: 4,
      curated: 4,
    });

    const second = await once();
    expect(JSON.parse(String(second.stdout).trim().split('\n').at(-1) ?? '')).toMatchObject({ processed: 0, upToDate: 1, deadLettered: 1 });

    // The secret reached Spark through its environment only. It is in no process's arguments, no
    // output at debug level, no driver log, and nothing the run wrote to the bucket (reports,
    // marker, dead letters).
    expect(await argsWithSecret).toEqual([]);
    expect((await sparkJobs).length).toBeGreaterThan(0);
    for (const out of [first.stdout, first.stderr, second.stdout, second.stderr]) expect(String(out)).not.toContain(SECRET);
    expect(String(first.stderr)).toContain('"level":"debug"');
    // Every file under logs/: driver logs, and the running-job records (logs/running/).
    const logFiles = (await readdir(path.join(work, 'logs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(logFiles.length).toBeGreaterThan(0);
    for (const log of logFiles) expect(await readFile(path.join(log.parentPath, log.name), 'utf8')).not.toContain(SECRET);
    const written = await keysUnder('lake/metadata/');
    expect(written.some((k) => k.startsWith('lake/metadata/runs/'))).toBe(true);
    expect(written).toContain('lake/metadata/dead_letter.json');
    for (const key of written) {
      const body = await (await moto.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToString();
      expect(body, key).not.toContain(SECRET);
    }
  });

  it('SQS mode: an uploaded file with an awkward key is picked up from the queue, processed, recorded, and its message deleted', async () => {
    const config = loadConfig({ ...process.env, ...env(), DISCOVERY: 'sqs', SQS_QUEUE_URL: queueUrl }, { cwd: process.cwd() });
    const watcher = await createWatcher(config);
    const stopStarting = new AbortController();
    const sqsWatcher = createSqsWatcher(watcher, { stopStarting: stopStarting.signal, stopJobs: new AbortController().signal });
    let passes = 0;
    watcher.reconciler.events.on('pass:finished', () => (passes += 1));
    const running = sqsWatcher.run();
    try {
      await until(() => passes >= 1, 'the first full pass is done', 60_000);
      const key = 'raw/customers/new file+v2 "quoted" ünï.parquet';
      await upload(path.join(work, 'local/raw/customers/customers.parquet'), `lake/${key}`);
      await until(async () => (await marker()).files[key] !== undefined, 'the marker records the uploaded version', 240_000);
      expect((await keysUnder('lake/cleaned/customers/new file+v2 "quoted" ünï/')).some((k) => k.endsWith('.parquet'))).toBe(true);
      const attributes = async () =>
        (
          await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: queueUrl,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          )
        ).Attributes ?? {};
      await until(async () => {
        const a = await attributes();
        return a['ApproximateNumberOfMessages'] === '0' && a['ApproximateNumberOfMessagesNotVisible'] === '0';
      }, 'the message is deleted');
    } finally {
      stopStarting.abort();
      await running;
      await watcher.close();
    }
  });
});
