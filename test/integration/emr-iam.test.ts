import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WatcherParts, createWatcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { RELEASE_FAMILIES } from '../../src/engines/emr/release-families.js';
import { rehearsalRuntime, requireRehearsalRuntime } from '../../src/engines/emr/rehearsal-runtimes.js';
import { s3aSparkSettings } from '../../src/engines/s3a-support.js';
import { AccessDeniedError } from '../../src/errors.js';
import { recordControllerMetrics } from '../../src/observability/metric-events.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { Readiness } from '../../src/observability/readiness.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { runCliWithEnv } from '../helpers/cli.js';
import { type EmrCall, authorizingEmrClient, deniedCalls } from '../helpers/emr-authorizer.js';
import { EmrRehearsal } from '../helpers/emr-rehearsal.js';
import { type IamUserKeys, createIamUsersAndEnforce } from '../helpers/moto-iam.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';
import { readParquetRows, venvPython } from '../helpers/python.js';
import { bucketAndKey, deniedRequests, formatDenied } from '../helpers/s3-authorizations.js';
import { type RecordedRequest, type S3RequestRecorder, startS3RequestRecorder } from '../helpers/s3-request-recorder.js';
import { type PolicyDocument, type PolicyPlace, shippedPolicy, withoutResource } from '../helpers/shipped-policy.js';
import { tempDir } from '../helpers/temp-dir.js';

const BUCKET = 'iam-lake';
const ACCOUNT = '123456789012'; // moto's default account
const REGION = 'us-east-1';
const APP = '00iamrehearsal01';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-spark-watcher-job`;
const PLACE: PolicyPlace = { bucket: BUCKET, lakePrefix: 'lake', account: ACCOUNT, region: REGION, applicationId: APP };
const ADMIN: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/**
 * The shipped IAM policies, enforced: moto server with IAM authorization on, the controller signing
 * with a user that holds exactly deploy/iam/controller-policy.json and the job (the rehearsal's
 * spark-submit over s3a) with one that holds exactly deploy/iam/emr-job-role-policy.json. What
 * moto does not evaluate (conditions, the ListBucket a 404 needs, a copy's source, EMR resources,
 * iam:PassRole) is checked on every recorded request by the evaluator in test/helpers.
 */
describe('the shipped IAM policies, enforced on a real pass over the EMR rehearsal', { timeout: 600_000 }, () => {
  let moto: MotoServer;
  let recorder: S3RequestRecorder;
  let admin: S3Client;
  let keys: Record<string, IamUserKeys>;
  const policies: Record<string, PolicyDocument> = {};
  let datasetsDir: string;
  const files: Record<string, Buffer> = {};

  const clientFor = (user: string, endpoint: string): S3Client =>
    new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials: keys[user] as IamUserKeys });
  const putRaw = async (key: string, name: string) => {
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: `lake/${key}`, Body: files[name] ?? Buffer.alloc(0) }));
  };
  const env = (user: string, extra: Record<string, string> = {}) => ({
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    LAKE: `s3://${BUCKET}/lake`,
    S3_ENDPOINT: recorder.endpoint,
    AWS_REGION: REGION,
    ACCESS_KEY: keys[user]?.accessKeyId ?? '',
    SECRET_KEY: keys[user]?.secretAccessKey ?? '',
    ENGINE: 'emr-serverless',
    EMR_APPLICATION_ID: APP,
    EMR_EXECUTION_ROLE_ARN: ROLE,
    DATASETS_DIR: datasetsDir,
    MAX_CONCURRENT_JOBS: '2',
    MAX_FILES_PER_JOB: '10',
    MAX_ATTEMPTS: '1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  });
  /** Every request recorded so far, checked against the policy of its signer. */
  const signers = () => new Map(Object.entries(keys).map(([who, k]) => [k.accessKeyId, { who, policy: policies[who] as PolicyDocument }]));

  beforeAll(async () => {
    moto = await startMotoServer();
    await moto.createBucket(BUCKET);
    policies['controller'] = await shippedPolicy('controller-policy.json', PLACE);
    policies['job'] = await shippedPolicy('emr-job-role-policy.json', PLACE);
    policies['controller-without-claims'] = withoutResource(policies['controller'], (r) => r.includes('/metadata/claims/'));
    policies['job-without-staging'] = withoutResource(policies['job'], (r) => r.includes('/metadata/staging/'));
    policies['admin'] = ADMIN;
    keys = await createIamUsersAndEnforce(moto.endpoint, policies);
    recorder = await startS3RequestRecorder(moto.endpoint);
    admin = clientFor('admin', moto.endpoint);

    // Two datasets: orders partitioned by day (the demo spec: a Delta table), plain with the same
    // columns unpartitioned and kept as Parquet (whose merge stages through metadata/staging/).
    datasetsDir = await tempDir('s3sw-iam-specs-');
    const orders = JSON.parse(await readFile(path.resolve('demo/datasets/orders.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(datasetsDir, 'orders.json'), JSON.stringify(orders));
    await writeFile(path.join(datasetsDir, 'plain.json'), JSON.stringify({ ...orders, partitionBy: undefined, tableFormat: 'parquet' }));
    const dir = await tempDir('s3sw-iam-data-');
    await execa(venvPython(), [
      '-c',
      `import sys, pyarrow as pa, pyarrow.parquet as pq
for i, name in enumerate(sys.argv[2:]):
    pq.write_table(pa.table({
      "order_id": [1 + 10 * i, 2 + 10 * i, 3 + 10 * i],
      "customer_id": [10, 20, 30],
      "amount": ["5.00", "-1", "3.25"],
      "currency": ["EUR", "USD", "GBP"],
      "order_ts": ["2026-11-01 10:00:00", "2026-11-01 12:00:00", "2026-11-02 09:00:00"],
      "country": ["ES", "US", "GB"],
    }), f"{sys.argv[1]}/{name}.parquet")`,
      dir,
      'one',
      'two',
      'three',
    ]);
    for (const name of ['one', 'two', 'three']) files[name] = await readFile(path.join(dir, `${name}.parquet`));
  });
  afterAll(async () => {
    admin?.destroy();
    await recorder?.stop();
    await moto?.stop();
  });

  /** The controller as `createWatcher` builds it, its EMR engine on the rehearsal, the job signing as `jobUser`. */
  async function watcherOnRehearsal(controllerUser: string, jobUser: string, emrPolicy = policies[controllerUser] as PolicyDocument) {
    const config = loadConfig(env(controllerUser), { cwd: process.cwd() });
    const jobS3 = clientFor(jobUser, recorder.endpoint);
    const s3a = s3aSparkSettings({ ...config, credentials: keys[jobUser] as IamUserKeys });
    // emr-spark-8.x (Spark 4.0, Hadoop 3.4.1's S3A on the AWS SDK v2). On emr-7.x's runtime
    // (Hadoop 3.3.4's S3A, AWS SDK v1) moto with IAM on answers SignatureDoesNotMatch to the job's
    // requests through the recording proxy; the policies are the same for both families.
    const family = RELEASE_FAMILIES.find((f) => f.name === 'emr-spark-8.x')!;
    const runtime = rehearsalRuntime(family);
    const { jars, imageJars } = await requireRehearsalRuntime(runtime);
    const rehearsal = new EmrRehearsal({
      s3: jobS3, // EMR fetches the job code with the job's role
      applicationId: APP,
      releaseLabel: family.example,
      runtime,
      jars,
      imageJars,
      // moto authorizes a multi-object delete against the bucket, not each key (S3 does each key):
      // single deletes keep the job's deletes checked per key, as on S3.
      sparkConf: { ...s3a.conf, 'spark.hadoop.fs.s3a.multiobjectdelete.enable': 'false' },
      env: { PATH: process.env['PATH'] ?? '', ...s3a.env },
      workDir: await tempDir('s3sw-iam-rehearsal-'),
    });
    const emr = authorizingEmrClient(rehearsal.client, emrPolicy, { region: REGION, account: ACCOUNT });
    const parts: WatcherParts = {
      createEngine: async (store: ObjectStore) => {
        const engine = new EmrServerlessEngine({
          client: emr.client,
          store,
          settings: {
            applicationId: APP,
            executionRoleArn: ROLE,
            lakeUri: `s3://${BUCKET}/lake`,
            logUri: config.emr?.logUri ?? '',
            executionTimeoutMinutes: 10,
          },
          sparkJobsDir: path.resolve('spark-jobs'),
          timeoutMs: 600_000,
          poll: { initialMs: 200, maxMs: 1000, factor: 1.5 },
        });
        await engine.validate();
        return engine;
      },
    };
    const watcher = await createWatcher(config, parts);
    return {
      watcher,
      rehearsal,
      emr,
      close: async () => {
        await watcher.close();
        await rehearsal.close();
        jobS3.destroy();
      },
    };
  }

  const byUser = (user: string, from = 0): RecordedRequest[] =>
    recorder.requests.slice(from).filter((r) => r.accessKeyId === keys[user]?.accessKeyId);
  const keysOf = (requests: readonly RecordedRequest[], method: string) =>
    requests.filter((r) => r.method === method && r.status < 300).map((r) => bucketAndKey(r.path).key);
  let emrCalls: EmrCall[] = [];
  let firstPassRequests: RecordedRequest[] = [];

  it("a batch of two partitioned files (a new Delta table), an unpartitioned Parquet dataset's first file, then a MERGE into the Delta table and the Parquet dataset's second file (through metadata/staging/): all succeed, and no request needs more than the shipped policies", async () => {
    await putRaw('raw/orders/2026/11/01/one.parquet', 'one');
    await putRaw('raw/orders/2026/11/02/two.parquet', 'two');
    await putRaw('raw/plain/one.parquet', 'one');
    // A run of long ago that no record names: the pass's run-history prune deletes it (RUN_HISTORY_DAYS).
    const oldRun = 'lake/metadata/runs/20200101T000000000Z-000000000old.json';
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: oldRun, Body: '{}' }));
    const from = recorder.requests.length;
    const { watcher, rehearsal, emr, close } = await watcherOnRehearsal('controller', 'job');
    try {
      const first = await watcher.reconciler.runPass();
      expect(first, JSON.stringify(first.results.map((r) => r.error))).toMatchObject({ processed: 3, failed: 0, deadLettered: 0 });
      await putRaw('raw/plain/two.parquet', 'two');
      await putRaw('raw/orders/2026/11/03/three.parquet', 'three');
      await expect(watcher.reconciler.runPass()).resolves.toMatchObject({ processed: 2, failed: 0, upToDate: 3 });
      expect([...rehearsal.runs.values()].map((r) => r.state)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
    } finally {
      await close();
    }
    emrCalls = emr.calls;
    firstPassRequests = recorder.requests.slice(from);
    const runs = await admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'lake/metadata/runs/' }));
    expect((runs.Contents ?? []).map((o) => o.Key)).not.toContain(oldRun);
    expect((runs.Contents ?? []).length).toBeGreaterThan(0); // the passes' own reports stay

    // What a user checks: the marker has the three versions, curated has the rows of both plain files.
    const marker = JSON.parse(
      (await (
        await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lake/metadata/processed_files.json' }))
      ).Body?.transformToString()) ?? '{}',
    ) as { files: Record<string, unknown> };
    expect(Object.keys(marker.files).sort()).toEqual([
      'raw/orders/2026/11/01/one.parquet',
      'raw/orders/2026/11/02/two.parquet',
      'raw/orders/2026/11/03/three.parquet',
      'raw/plain/one.parquet',
      'raw/plain/two.parquet',
    ]);
    const plainRows = await s3Rows(admin, 'lake/curated/plain');
    expect(plainRows.map((r) => Number(r['order_id'])).sort((a, b) => a - b)).toEqual([1, 3, 11, 13]);

    // The run did what the policies must allow: claims and marker written by the controller, a
    // missing key's HEAD answered 404, the second plain file staged by the job.
    const controller = byUser('controller', from);
    const job = byUser('job', from);
    expect(keysOf(controller, 'PUT')).toEqual(
      expect.arrayContaining([
        'lake/metadata/claims/orders.json',
        'lake/metadata/claims/plain.json',
        'lake/metadata/processed_files.json',
        'lake/metadata/dead_letter.json',
      ]),
    );
    expect(controller.some((r) => r.method === 'HEAD' && r.status === 404)).toBe(true);
    expect(job.some((r) => r.method === 'HEAD' && r.status === 404)).toBe(true);
    expect(keysOf(job, 'PUT').some((k) => k.startsWith('lake/metadata/staging/curated/plain/'))).toBe(true);
    expect(keysOf(job, 'DELETE').some((k) => k.startsWith('lake/metadata/staging/curated/plain/'))).toBe(true);
    expect(keysOf(job, 'PUT').some((k) => k.startsWith('lake/curated/orders/order_date=2026-11-01/'))).toBe(true);
    // The batch: its manifest written by the controller and read by the job; the Delta table's
    // two commits (the batch's WRITE, then the third file's MERGE) written by the job.
    expect(keysOf(controller, 'PUT').some((k) => k.startsWith('lake/metadata/batches/'))).toBe(true);
    expect(keysOf(job, 'GET').some((k) => k.startsWith('lake/metadata/batches/'))).toBe(true);
    expect(keysOf(job, 'PUT')).toEqual(
      expect.arrayContaining([
        'lake/curated/orders/_delta_log/00000000000000000000.json',
        'lake/curated/orders/_delta_log/00000000000000000001.json',
      ]),
    );

    expect(formatDenied(deniedRequests(firstPassRequests, signers()))).toBe('');
    expect(emr.denied).toEqual([]);
    expect(emrCalls.map((c) => c.command)).toEqual(
      expect.arrayContaining(['GetApplicationCommand', 'StartJobRunCommand', 'GetJobRunCommand']),
    );
  });

  it('the same requests under a policy with a gap are named: claims, staging, a prefix-conditioned ListBucket, PassRole', () => {
    expect(firstPassRequests.length).toBeGreaterThan(0);
    const under = (user: string, policy: PolicyDocument) =>
      formatDenied(
        deniedRequests(
          firstPassRequests.filter((r) => r.accessKeyId === keys[user]?.accessKeyId),
          new Map([[keys[user]?.accessKeyId ?? '', { who: user, policy }]]),
        ),
      );
    expect(under('controller', policies['controller-without-claims'] as PolicyDocument)).toMatch(
      /^controller: PutObject iam-lake\/lake\/metadata\/claims\/orders\.json → HTTP 200 needs s3:PutObject on arn:aws:s3:::iam-lake\/lake\/metadata\/claims\/orders\.json$/mu,
    );
    expect(under('job', policies['job-without-staging'] as PolicyDocument)).toMatch(
      /^job: PutObject iam-lake\/lake\/metadata\/staging\/curated\/plain\/\S+ → HTTP 200 needs s3:PutObject on arn:aws:s3:::iam-lake\/lake\/metadata\/staging\/curated\/plain\//mu,
    );
    // The job role as it shipped before: ListBucket only with s3:prefix lake/*. S3A's HEAD of a
    // missing key then answers 403 (it carries no s3:prefix), not 404.
    const job = policies['job'] as PolicyDocument;
    const conditioned: PolicyDocument = {
      ...job,
      Statement: job.Statement.map((s) =>
        s.Action === 's3:ListBucket' ? { ...s, Condition: { StringLike: { 's3:prefix': ['lake/*'] } } } : s,
      ),
    };
    expect(under('job', conditioned)).toMatch(
      /^job: HeadObject iam-lake\/lake\/\S+ → HTTP 404 needs s3:ListBucket on arn:aws:s3:::iam-lake$/mu,
    );
    const controller = policies['controller'] as PolicyDocument;
    const noPassRole = { ...controller, Statement: controller.Statement.filter((s) => s.Action !== 'iam:PassRole') };
    expect(deniedCalls(emrCalls, noPassRole, { region: REGION, account: ACCOUNT })).toContainEqual({
      command: 'StartJobRunCommand',
      needs: `iam:PassRole on ${ROLE} (iam:PassedToService="emr-serverless.amazonaws.com")`,
    });
  });

  it('without metadata/claims/ in the controller policy the pass fails naming the claim, runs nothing, and readiness says not ready; `once` exits 1', async () => {
    await putRaw('raw/plain/three.parquet', 'three');
    const from = recorder.requests.length;
    const { watcher, rehearsal, close } = await watcherOnRehearsal('controller-without-claims', 'job');
    const readiness = new Readiness({ passIntervalMs: 60_000 });
    recordControllerMetrics(watcher.reconciler, {
      metrics: new WatcherMetrics({ engine: 'emr-serverless', passIntervalMs: 60_000, processMetrics: false }),
      readiness,
    });
    try {
      const error = await watcher.reconciler.runPass().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccessDeniedError);
      expect((error as Error).message).toMatch(
        /^writing s3:\/\/iam-lake\/lake\/metadata\/claims\/(orders|plain)\.json: access denied \(AccessDenied\); the IAM policy must allow s3:PutObject on it/u,
      );
      expect(readiness.check()).toEqual({ ready: false, reason: expect.stringContaining('metadata/claims/plain.json: access denied') });
      expect(rehearsal.runs.size).toBe(0);
    } finally {
      await close();
    }
    // moto refused it, and the check names the request.
    expect(formatDenied(deniedRequests(recorder.requests.slice(from), signers()))).toMatch(
      /^controller-without-claims: PutObject iam-lake\/lake\/metadata\/claims\/plain\.json → HTTP 403 needs s3:PutObject on arn:aws:s3:::iam-lake\/lake\/metadata\/claims\/plain\.json$/mu,
    );

    // The command a user runs: `once` (local engine: the claim is refused before any Spark starts).
    const cli = await runCliWithEnv(
      ['once'],
      env('controller-without-claims', { ENGINE: 'local', RUN_LOG_DIR: await tempDir('s3sw-iam-logs-') }),
    );
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/metadata\/claims\/plain\.json: access denied \(AccessDenied\); the IAM policy must allow s3:PutObject on it/u);
    const marker = await (
      await admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lake/metadata/processed_files.json' }))
    ).Body?.transformToString();
    expect(marker).not.toContain('raw/plain/three.parquet');
  });

  it('without metadata/staging/ in the job role the second file of an unpartitioned dataset fails, and the check names the denied request', async () => {
    // raw/plain/three.parquet is still pending (its claim was refused above); curated/plain exists, so the merge stages.
    const from = recorder.requests.length;
    const { watcher, rehearsal, close } = await watcherOnRehearsal('controller', 'job-without-staging');
    try {
      await expect(watcher.reconciler.runPass()).resolves.toMatchObject({ processed: 0, failed: 1 });
      expect([...rehearsal.runs.values()].map((r) => r.state)).toEqual(['FAILED']);
    } finally {
      await close();
    }
    const denied = deniedRequests(recorder.requests.slice(from), signers());
    // moto refused the job's first request under metadata/staging/ (403), and the check names it.
    expect(formatDenied(denied)).toMatch(
      /^job-without-staging: \w+ iam-lake\/lake\/metadata\/staging\/curated\/plain\S* → HTTP 403 needs s3:\w+ on arn:aws:s3:::iam-lake\/lake\/metadata\/staging\/curated\/plain/mu,
    );
    expect(denied.every((d) => d.who === 'job-without-staging' && d.request.includes('/metadata/staging/'))).toBe(true);
  });

  it('without iam:PassRole in the controller policy StartJobRun is denied: the pass fails naming it, and the version stays pending', async () => {
    await putRaw('raw/orders/2026/11/04/four.parquet', 'two');
    const controller = policies['controller'] as PolicyDocument;
    const noPassRole = { ...controller, Statement: controller.Statement.filter((st) => st.Action !== 'iam:PassRole') };
    const { watcher, rehearsal, emr, close } = await watcherOnRehearsal('controller', 'job', noPassRole);
    try {
      const error = await watcher.reconciler.runPass().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccessDeniedError);
      expect((error as Error).message).toContain(`not authorized to perform iam:PassRole on ${ROLE}`);
      expect(emr.denied).toEqual([
        { command: 'StartJobRunCommand', needs: `iam:PassRole on ${ROLE} (iam:PassedToService="emr-serverless.amazonaws.com")` },
      ]);
      expect(rehearsal.runs.size).toBe(0);
      const dead = await watcher.deadLetters.load();
      expect(Object.keys(dead.document.deadLetters)).not.toContain('raw/orders/2026/11/04/four.parquet');
      expect(Object.keys(dead.document.attempts)).not.toContain('raw/orders/2026/11/04/four.parquet');
    } finally {
      await close();
    }
  });
});

/** Rows of a zone folder in the bucket, downloaded (hive partition folders kept) and read with pyarrow. */
async function s3Rows(s3: S3Client, prefix: string): Promise<Record<string, unknown>[]> {
  const dir = await tempDir('s3sw-iam-rows-');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
  for (const o of listed.Contents ?? []) {
    if (!o.Key?.endsWith('.parquet')) continue;
    const file = path.join(dir, o.Key.slice(prefix.length + 1));
    await mkdir(path.dirname(file), { recursive: true });
    const body = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key }));
    await writeFile(file, (await body.Body?.transformToByteArray()) ?? new Uint8Array());
  }
  return readParquetRows(dir);
}
