import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateApplicationCommand,
  EMRServerlessClient,
  GetApplicationCommand,
  GetJobRunCommand,
  ListJobRunsCommand,
  StopApplicationCommand,
} from '@aws-sdk/client-emr-serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, createWatcher } from '../../src/cli/wiring.js';
import { loadConfig } from '../../src/config/config.js';
import { buildJobArtifacts } from '../../src/engines/emr/artifacts.js';
import { clientTokenFor } from '../../src/engines/emr/client-token.js';
import { buildStartJobRunInput, EMR_DELTA_PARAMETERS } from '../../src/engines/emr/emr-request.js';
import { inflightKey } from '../../src/engines/emr/inflight.js';
import { runReportKey } from '../../src/engines/run-report.js';
import { ConfigError } from '../../src/errors.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { type MotoServer, startMotoServer } from '../helpers/moto-server.js';

const BUCKET = 'emr-lake';
const ROLE = 'arn:aws:iam::123456789012:role/s3-spark-watcher-job'; // moto's default account

/**
 * The engine's requests against moto server's EMR Serverless API: moto validates and stores them
 * (and runs nothing: its job runs are SUCCESS at once), so what the engine sent is read back.
 */
describe('the EMR Serverless engine against moto server', { timeout: 60_000 }, () => {
  let moto: MotoServer;
  let emr: EMRServerlessClient;
  let applicationId: string;
  const env = (extra: Record<string, string> = {}) => ({
    LAKE: `s3://${BUCKET}/lake`,
    S3_ENDPOINT: moto.endpoint,
    EMR_ENDPOINT: moto.endpoint,
    ACCESS_KEY: 'testing',
    SECRET_KEY: 'testing',
    ENGINE: 'emr-serverless',
    EMR_APPLICATION_ID: applicationId,
    EMR_EXECUTION_ROLE_ARN: ROLE,
    EMR_SPARK_SUBMIT_PARAMETERS: '--conf spark.executor.cores=2',
    EMR_CLOUDWATCH_LOG_GROUP: '/aws/emr-serverless/watcher',
    EMR_JOB_TIMEOUT_MINUTES: '30',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  });
  const s3Text = async (key: string) =>
    (await moto.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToByteArray();

  /** moto runs no Spark: the report a successful job would write, put in place for the engine to read back. */
  const putSucceededReport = async (lake: string, job: { runId: string; key: string; etag: string; dataset: string }) => {
    const report = {
      ...job,
      status: 'succeeded',
      rows: { read: 1, cleaned: 1, quarantined: 0, curated: 1 },
      outputs: {},
      startedAt: '2026-11-28T12:00:00Z',
      finishedAt: '2026-11-28T12:01:00Z',
      sparkVersion: '3.5.6',
    };
    await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${lake}/${runReportKey(job.runId)}`, Body: JSON.stringify(report) }));
  };

  beforeAll(async () => {
    moto = await startMotoServer();
    await moto.createBucket(BUCKET);
    emr = new EMRServerlessClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    applicationId =
      (await emr.send(new CreateApplicationCommand({ name: 'watcher', releaseLabel: 'emr-7.5.0', type: 'SPARK', clientToken: 'create-1' })))
        .applicationId ?? '';
  });
  afterAll(async () => {
    emr?.destroy();
    await moto?.stop();
  });

  it('start-up: an application that does not exist, or is not Spark, stops the watcher with a configuration error', async () => {
    await expect(createWatcher(loadConfig(env({ EMR_APPLICATION_ID: '00nosuchapp00' }), { cwd: process.cwd() }))).rejects.toThrow(
      /no such EMR Serverless application/u,
    );
    const hive =
      (await emr.send(new CreateApplicationCommand({ name: 'hive', releaseLabel: 'emr-7.5.0', type: 'HIVE', clientToken: 'create-2' })))
        .applicationId ?? '';
    const error = await createWatcher(loadConfig(env({ EMR_APPLICATION_ID: hive }), { cwd: process.cwd() })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/Hive application; the pipeline needs a Spark application/u);
  });

  it('uploads the artifacts, starts the stopped application, and starts a job run whose stored request is the contract', async () => {
    await emr.send(new StopApplicationCommand({ applicationId }));
    const watcher = await createWatcher(loadConfig(env(), { cwd: process.cwd() }));
    try {
      const key = 'raw/orders/2026/11/01/orders one.parquet';
      const { etag } = await watcher.store.put(key, Buffer.from('PAR1 not really'));
      const job = { runId: 'moto-run-1', key, etag, dataset: 'orders', spec: { keys: ['order_id'] } };
      // moto runs no Spark: the report the job would write is put in place for the engine to read back.
      await putSucceededReport('lake', job);

      await expect(watcher.engine.submit(job)).resolves.toMatchObject({ runId: 'moto-run-1', status: 'succeeded' });

      // The application was started before the job was submitted.
      expect((await emr.send(new GetApplicationCommand({ applicationId }))).application?.state).toBe('STARTED');
      // The code is in the bucket under its content hash, byte for byte.
      const artifacts = await buildJobArtifacts(path.resolve('spark-jobs'));
      expect(Buffer.from((await s3Text(`lake/${artifacts.pyFilesKey}`)) ?? []).equals(artifacts.pyFiles)).toBe(true);
      expect(Buffer.from((await s3Text(`lake/${artifacts.entryPointKey}`)) ?? []).equals(artifacts.entryPoint)).toBe(true);
      // The in-flight record names the job run and says it is done.
      const record = JSON.parse((await watcher.store.get(inflightKey(key, etag)))?.body.toString('utf8') ?? '{}') as Record<
        string,
        unknown
      >;
      expect(record).toMatchObject({ runId: 'moto-run-1', attempt: 1, applicationId, finalState: 'SUCCESS' });

      // What moto stored is what the contract says.
      const runs = (await emr.send(new ListJobRunsCommand({ applicationId }))).jobRuns ?? [];
      expect(runs).toHaveLength(1);
      const stored = (await emr.send(new GetJobRunCommand({ applicationId, jobRunId: runs[0]?.id ?? '' }))).jobRun;
      const expected = buildStartJobRunInput(
        {
          applicationId,
          executionRoleArn: ROLE,
          lakeUri: `s3://${BUCKET}/lake`,
          entryPointKey: artifacts.entryPointKey,
          pyFilesKey: artifacts.pyFilesKey,
          sparkSubmitParameters: '--conf spark.executor.cores=2',
          logUri: `s3://${BUCKET}/logs/emr/`,
          cloudWatchLogGroup: '/aws/emr-serverless/watcher',
          executionTimeoutMinutes: 30,
        },
        job,
        { runId: job.runId, clientToken: clientTokenFor(`s3://${BUCKET}/lake`, key, etag, 1) },
      );
      expect(stored).toMatchObject({
        applicationId,
        name: 's3-spark-watcher orders moto-run-1',
        executionRole: ROLE,
        state: 'SUCCESS',
        releaseLabel: 'emr-7.5.0',
        jobDriver: expected.jobDriver,
        configurationOverrides: expected.configurationOverrides,
        executionTimeoutMinutes: 30,
        tags: expected.tags,
      });
      expect(stored?.jobDriver?.sparkSubmit).toEqual({
        entryPoint: `s3://${BUCKET}/lake/${artifacts.entryPointKey}`,
        entryPointArguments: [
          '--lake',
          `s3://${BUCKET}/lake`,
          '--key',
          key,
          '--etag',
          etag,
          '--run-id',
          'moto-run-1',
          '--spec',
          '{"keys":["order_id"]}',
        ],
        sparkSubmitParameters: `--py-files s3://${BUCKET}/lake/${artifacts.pyFilesKey} ${EMR_DELTA_PARAMETERS.join(' ')} --conf spark.executor.cores=2`,
      });
    } finally {
      await watcher.close();
    }
  });

  it('start-up: an application on a release the job is not tested on (emr-6.x) is refused with the releases to use', async () => {
    const old =
      (await emr.send(new CreateApplicationCommand({ name: 'old', releaseLabel: 'emr-6.15.0', type: 'SPARK', clientToken: 'create-3' })))
        .applicationId ?? '';
    const error = await createWatcher(loadConfig(env({ EMR_APPLICATION_ID: old }), { cwd: process.cwd() })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`EMR_APPLICATION_ID=${old} runs emr-6.15.0, which the job is not tested on`);
    expect((error as Error).message).toContain('emr-7.x (Spark 3.5');
  });

  it('crash window: StartJobRun landed but its answer was lost; the next try finds that run (ListJobRuns) instead of starting a second', async () => {
    const lake = 'crash-lake';
    // The first controller: moto starts the run, then the answer never reaches the engine (as if the
    // controller died or the connection dropped right after the request was sent).
    const config = loadConfig(env({ LAKE: `s3://${BUCKET}/${lake}` }), { cwd: process.cwd() });
    const store = await createStore(config);
    const lossy = new EMRServerlessClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    lossy.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'StartJobRunCommand') throw new Error('the connection dropped after the request was sent');
        return out;
      },
      { step: 'deserialize', name: 'loseStartJobRunAnswer' },
    );
    const first = {
      store,
      engine: new EmrServerlessEngine({
        client: lossy,
        ownsClient: true,
        store,
        settings: {
          applicationId,
          executionRoleArn: ROLE,
          lakeUri: `s3://${BUCKET}/${lake}`,
          logUri: `s3://${BUCKET}/logs/emr/`,
          executionTimeoutMinutes: 30,
        },
        sparkJobsDir: path.resolve('spark-jobs'),
        timeoutMs: 1_800_000,
      }),
      close: async () => first.engine.close(),
    };
    const key = 'raw/orders/2026/11/02/orders.parquet';
    const { etag } = await first.store.put(key, Buffer.from('PAR1 not really'));
    const job = { runId: 'crash-run-1', key, etag, dataset: 'orders' };
    await expect(first.engine.submit(job)).rejects.toThrow(/StartJobRun failed: the connection dropped/u);
    await first.close();
    const runsFor = async (runId: string) =>
      ((await emr.send(new ListJobRunsCommand({ applicationId }))).jobRuns ?? []).filter((r) => r.name?.endsWith(` ${runId}`));
    expect(await runsFor('crash-run-1')).toHaveLength(1); // the run exists; its id was never recorded
    const intent = JSON.parse((await first.store.get(inflightKey(key, etag)))?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
    expect(intent['jobRunId']).toBeUndefined();
    expect(intent['request']).toMatchObject({ name: 's3-spark-watcher orders crash-run-1', clientToken: intent['clientToken'] });

    // The restarted controller: the same version again (a new run id, as the next pass would give).
    const second = await createWatcher(loadConfig(env({ LAKE: `s3://${BUCKET}/${lake}` }), { cwd: process.cwd() }));
    try {
      await putSucceededReport(lake, job);
      const result = await second.engine.submit({ ...job, runId: 'crash-run-2' });
      expect(result).toMatchObject({ runId: 'crash-run-1', status: 'succeeded' });
      // One run for the version: the first, found and watched; none started for the second try.
      expect(await runsFor('crash-run-1')).toHaveLength(1);
      expect(await runsFor('crash-run-2')).toHaveLength(0);
      const record = JSON.parse((await second.store.get(inflightKey(key, etag)))?.body.toString('utf8') ?? '{}') as Record<string, unknown>;
      expect(record).toMatchObject({ runId: 'crash-run-1', jobRunId: (await runsFor('crash-run-1'))[0]?.id, finalState: 'SUCCESS' });
      // What moto reports of the run's cost is kept with it.
      expect(record['usage']).toMatchObject({ state: 'SUCCESS', billed: { vCPUHour: 0, memoryGBHour: 0, storageGBHour: 0 } });
      expect(result.emr).toEqual(record['usage']);
    } finally {
      await second.close();
    }
  });
});
