import { EMR_DELTA_PARAMETERS } from '../../src/engines/emr/emr-request.js';
import path from 'node:path';
import {
  CancelJobRunCommand,
  EMRServerlessClient,
  GetApplicationCommand,
  GetDashboardForJobRunCommand,
  GetJobRunCommand,
  type JobRunState,
  ListJobRunsCommand,
  StartApplicationCommand,
  StartJobRunCommand,
  type StartJobRunCommandInput,
  EMRServerlessServiceException,
} from '@aws-sdk/client-emr-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { Writable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientTokenFor } from '../../src/engines/emr/client-token.js';
import { JobRunFailedError } from '../../src/engines/emr/emr-errors.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { InflightRecords } from '../../src/engines/emr/inflight.js';
import type { JobRequest } from '../../src/engines/engine.js';
import { PermanentJobError, RetryableJobError } from '../../src/engines/job-errors.js';
import { runReportKey } from '../../src/engines/run-report.js';
import { ConfigError, isPermanent } from '../../src/errors.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { logEmrEvents } from '../../src/observability/emr-log-events.js';
import { tempDir } from '../helpers/temp-dir.js';

const APP = '00fabc123def4567';
const ROLE = 'arn:aws:iam::123456789012:role/s3-spark-watcher-job';
const LAKE = 's3://lake-bucket/lake';
const JOB: JobRequest = {
  runId: 'run-1',
  key: 'raw/orders/2026/11/01/orders.parquet',
  etag: '"e1"',
  dataset: 'orders',
  spec: { keys: ['order_id'] },
};

const NULL_ROWS = { read: null, cleaned: null, quarantined: null, curated: null };

/** Virtual time: sleeping advances the clock at once, so the state machine runs with no real waiting. */
function virtualTime() {
  let t = Date.parse('2026-11-28T12:00:00Z');
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number, signal?: AbortSignal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      t += ms;
      await Promise.resolve();
    },
  };
}

function report(runId: string, extra: Record<string, unknown> = {}) {
  return {
    runId,
    key: JOB.key,
    etag: JOB.etag,
    dataset: 'orders',
    status: 'succeeded',
    rows: { read: 4, cleaned: 4, quarantined: 1, curated: 2 },
    outputs: {},
    startedAt: '2026-11-28T12:00:01Z',
    finishedAt: '2026-11-28T12:00:40Z',
    sparkVersion: '3.5.2',
    ...extra,
  };
}

const jobRun = (state: JobRunState, stateDetails?: string) => ({
  jobRun: {
    applicationId: APP,
    jobRunId: 'jr-1',
    arn: 'arn',
    createdBy: 'me',
    createdAt: new Date(),
    updatedAt: new Date(),
    executionRole: ROLE,
    state,
    stateDetails: stateDetails ?? '',
    releaseLabel: 'emr-7.5.0',
    jobDriver: { sparkSubmit: { entryPoint: 's3://x' } },
  },
});

describe('the EMR Serverless engine (aws-sdk-client-mock, virtual time)', () => {
  const client = new EMRServerlessClient({ region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
  const emr = mockClient(client);
  let store: LocalObjectStore;
  let time: ReturnType<typeof virtualTime>;
  let states: string[];

  const engine = (extra: Partial<ConstructorParameters<typeof EmrServerlessEngine>[0]> = {}) => {
    const e = new EmrServerlessEngine({
      client,
      store,
      settings: {
        applicationId: APP,
        executionRoleArn: ROLE,
        lakeUri: LAKE,
        logUri: 's3://lake-bucket/logs/emr/',
        executionTimeoutMinutes: 60,
      },
      sparkJobsDir: path.resolve('spark-jobs'),
      timeoutMs: 3_600_000,
      sleep: time.sleep,
      now: time.now,
      ...extra,
    });
    e.events.on('emr:job-run-state', ({ state }) => states.push(state));
    return e;
  };
  /** StartJobRun answers jr-1 and, like the real job, the run writes its report. */
  const answerStart = async (input: StartJobRunCommandInput, extra: Record<string, unknown> = {}) => {
    const args = input.jobDriver?.sparkSubmit?.entryPointArguments ?? [];
    const runId = args[args.indexOf('--run-id') + 1] ?? '';
    await store.put(runReportKey(runId), JSON.stringify(report(runId, extra)));
    return { applicationId: APP, jobRunId: 'jr-1', arn: 'arn' };
  };
  const startWritesReport = (extra: Record<string, unknown> = {}) =>
    emr.on(StartJobRunCommand).callsFake((input: StartJobRunCommandInput) => answerStart(input, extra));

  beforeEach(async () => {
    emr.reset();
    store = new LocalObjectStore(await tempDir('s3sw-emr-unit-'));
    time = virtualTime();
    states = [];
    emr.on(GetApplicationCommand).resolves({
      application: {
        applicationId: APP,
        name: 'a',
        arn: 'arn',
        releaseLabel: 'emr-7.5.0',
        type: 'Spark',
        state: 'STARTED',
        createdAt: new Date(),
        updatedAt: new Date(),
      },
    });
  });

  it('success through every state: one StartJobRun of the contract, the report read back, the run marked done', async () => {
    startWritesReport();
    emr
      .on(GetJobRunCommand)
      .resolvesOnce(jobRun('SUBMITTED'))
      .resolvesOnce(jobRun('QUEUED'))
      .resolvesOnce(jobRun('PENDING'))
      .resolvesOnce(jobRun('SCHEDULED'))
      .resolvesOnce(jobRun('RUNNING'))
      .resolves(jobRun('SUCCESS'));
    const result = await engine().submit(JOB);
    expect(result).toMatchObject({ runId: 'run-1', status: 'succeeded', rows: { curated: 2 } });
    expect(states).toEqual(['SUBMITTED', 'QUEUED', 'PENDING', 'SCHEDULED', 'RUNNING', 'SUCCESS']);

    const calls = emr.commandCalls(StartJobRunCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    const hash = /artifacts\/([0-9a-f]{64})\/pipeline\.py$/u.exec(input.jobDriver?.sparkSubmit?.entryPoint ?? '')?.[1];
    expect(hash).toBeDefined();
    expect(input).toEqual({
      applicationId: APP,
      clientToken: clientTokenFor(LAKE, JOB.key, JOB.etag, 1),
      executionRoleArn: ROLE,
      name: 's3-spark-watcher orders run-1',
      jobDriver: {
        sparkSubmit: {
          entryPoint: `s3://lake-bucket/lake/artifacts/${hash}/pipeline.py`,
          entryPointArguments: [
            '--lake',
            's3://lake-bucket/lake',
            '--key',
            JOB.key,
            '--etag',
            JOB.etag,
            '--run-id',
            'run-1',
            '--spec',
            '{"keys":["order_id"]}',
          ],
          sparkSubmitParameters: `--py-files s3://lake-bucket/lake/artifacts/${hash}/watcher_job.zip ${EMR_DELTA_PARAMETERS.join(' ')}`,
        },
      },
      configurationOverrides: { monitoringConfiguration: { s3MonitoringConfiguration: { logUri: 's3://lake-bucket/logs/emr/' } } },
      executionTimeoutMinutes: 60,
      tags: { app: 's3-spark-watcher', dataset: 'orders', 'key-hash': expect.stringMatching(/^[0-9a-f]{16}$/u), 'run-id': 'run-1' },
    });
    // The code is in the lake under its hash; the in-flight record says the run is done.
    expect(await store.head(`artifacts/${hash}/pipeline.py`)).toBeDefined();
    expect(await store.head(`artifacts/${hash}/watcher_job.zip`)).toBeDefined();
    expect(await new InflightRecords(store).read(JOB.key, JOB.etag)).toMatchObject({ jobRunId: 'jr-1', attempt: 1, finalState: 'SUCCESS' });
  });

  it('SUCCESS without a report: retryable, and the retry is a new job run rather than the finished one again', async () => {
    emr.on(StartJobRunCommand).resolves({ applicationId: APP, jobRunId: 'jr-1', arn: 'arn' });
    emr.on(GetJobRunCommand).resolves(jobRun('SUCCESS'));
    await expect(engine().submit(JOB)).rejects.toThrow(/job run jr-1 succeeded but wrote no run report/u);
    startWritesReport();
    await expect(engine().submit({ ...JOB, runId: 'run-2' })).resolves.toMatchObject({ runId: 'run-2' });
    expect(emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken)).toEqual([
      clientTokenFor(LAKE, JOB.key, JOB.etag, 1),
      clientTokenFor(LAKE, JOB.key, JOB.etag, 2),
    ]);
  });

  it('the same version run again after success (a reprocess) is a new attempt: a new clientToken, a new job run', async () => {
    startWritesReport();
    emr.on(GetJobRunCommand).resolves(jobRun('SUCCESS'));
    await engine().submit(JOB);
    await expect(engine().submit({ ...JOB, runId: 'run-again' })).resolves.toMatchObject({ runId: 'run-again' });
    const tokens = emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken);
    expect(tokens).toEqual([clientTokenFor(LAKE, JOB.key, JOB.etag, 1), clientTokenFor(LAKE, JOB.key, JOB.etag, 2)]);
  });

  it('QUEUED for a while: polls with growing pauses up to the cap, then looks again soon after a state change', async () => {
    startWritesReport();
    const get = emr.on(GetJobRunCommand);
    for (let i = 0; i < 9; i += 1) get.resolvesOnce(jobRun('QUEUED'));
    get.resolvesOnce(jobRun('RUNNING')).resolvesOnce(jobRun('RUNNING')).resolves(jobRun('SUCCESS'));
    await engine({ poll: { initialMs: 1000, maxMs: 8000, factor: 2 } }).submit(JOB);
    expect(time.sleeps).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000, 1000, 2000]);
    expect(states).toEqual(['QUEUED', 'RUNNING', 'SUCCESS']);
  });

  it('FAILED: a typed, retryable error with stateDetails and the driver log location; the next try is a new attempt', async () => {
    startWritesReport({ status: 'failed', rows: NULL_ROWS, error: { kind: 'retryable', message: 'executor lost' } });
    emr.on(GetJobRunCommand).resolvesOnce(jobRun('RUNNING')).resolves(jobRun('FAILED', 'Job failed, ExitCode: 1'));
    const error = await engine()
      .submit(JOB)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobRunFailedError);
    expect(isPermanent(error)).toBe(false);
    const failed = error as JobRunFailedError;
    expect(failed.message).toContain('executor lost');
    expect(failed.jobRun).toEqual({
      applicationId: APP,
      jobRunId: 'jr-1',
      state: 'FAILED',
      stateDetails: 'Job failed, ExitCode: 1',
      driverLogUri: `s3://lake-bucket/logs/emr/applications/${APP}/jobs/jr-1/SPARK_DRIVER/stderr.gz`,
    });
    expect(failed.details.logPath).toBe(failed.jobRun.driverLogUri);

    // Resubmitted later: a second attempt, so a new clientToken (the old one would return the failed run).
    emr.on(GetJobRunCommand).resolves(jobRun('SUCCESS'));
    startWritesReport();
    await engine().submit({ ...JOB, runId: 'run-2' });
    const tokens = emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken);
    expect(tokens).toEqual([clientTokenFor(LAKE, JOB.key, JOB.etag, 1), clientTokenFor(LAKE, JOB.key, JOB.etag, 2)]);
  });

  it('FAILED with a report that says the input is unusable: permanent', async () => {
    // As the job writes it: row counts null, the error's kind says whether retrying can help.
    startWritesReport({
      status: 'failed',
      rows: NULL_ROWS,
      error: { kind: 'permanent', type: 'UnreadableInput', message: 'not a Parquet file' },
    });
    emr.on(GetJobRunCommand).resolves(jobRun('FAILED', 'Job failed, ExitCode: 2'));
    const error = await engine()
      .submit(JOB)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect((error as Error).message).toBe('not a Parquet file');
  });

  it('CANCELLED by someone else: retryable, with what EMR said', async () => {
    startWritesReport();
    emr.on(GetJobRunCommand).resolvesOnce(jobRun('RUNNING')).resolves(jobRun('CANCELLED', 'Cancelled by user'));
    const error = await engine()
      .submit(JOB)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobRunFailedError);
    expect((error as JobRunFailedError).jobRun.state).toBe('CANCELLED');
    expect((error as Error).message).toContain('Cancelled by user');
    expect(emr.commandCalls(CancelJobRunCommand)).toHaveLength(0);
  });

  it('timeout: cancels the run, waits for CANCELLED, rejects as retryable', async () => {
    startWritesReport();
    let cancelled = false;
    emr.on(CancelJobRunCommand).callsFake(() => {
      cancelled = true;
      return { applicationId: APP, jobRunId: 'jr-1' };
    });
    let afterCancel = 0;
    emr.on(GetJobRunCommand).callsFake(() => (cancelled ? jobRun(++afterCancel < 3 ? 'CANCELLING' : 'CANCELLED') : jobRun('RUNNING')));
    const error = await engine({ timeoutMs: 600_000 })
      .submit(JOB)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect((error as Error).message).toMatch(/timed out after 600 s; job run jr-1 was cancelled \(CANCELLED\)/u);
    expect(emr.commandCalls(CancelJobRunCommand)).toHaveLength(1);
    expect(states.slice(-3)).toEqual(['CANCELLING', 'CANCELLING', 'CANCELLED']);
    expect(time.now() - Date.parse('2026-11-28T12:00:00Z')).toBeGreaterThanOrEqual(600_000);
    expect((await new InflightRecords(store).read(JOB.key, JOB.etag))?.finalState).toBe('CANCELLED');
  });

  it('shutdown (the signal aborts) and close(): the run is cancelled, never forgotten', async () => {
    startWritesReport();
    const stop = new AbortController();
    let cancelled = false;
    emr.on(CancelJobRunCommand).callsFake(() => {
      cancelled = true;
      return { applicationId: APP, jobRunId: 'jr-1' };
    });
    let polls = 0;
    emr.on(GetJobRunCommand).callsFake(() => {
      if (++polls === 3) stop.abort(new Error('shutdown grace period is over'));
      return jobRun(cancelled ? 'CANCELLED' : 'RUNNING');
    });
    const error = await engine()
      .submit(JOB, stop.signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableJobError);
    expect((error as Error).message).toContain('shutdown grace period is over');
    expect(emr.commandCalls(CancelJobRunCommand)).toHaveLength(1);

    // close() while a run is watched: it is cancelled before close() resolves.
    cancelled = false;
    polls = 100; // no more aborts from the first part
    const e2 = engine();
    let closing: Promise<void> | undefined;
    emr.on(GetJobRunCommand).callsFake(() => {
      closing ??= e2.close();
      return jobRun(cancelled ? 'CANCELLED' : 'RUNNING');
    });
    const second = e2.submit({ ...JOB, runId: 'run-2' }).catch((e: unknown) => e);
    await expect.poll(() => closing !== undefined).toBe(true);
    await closing;
    await e2.close();
    const secondError = await second;
    expect(secondError).toBeInstanceOf(RetryableJobError);
    expect((secondError as Error).message).toMatch(/stopped before it finished \(the engine is closing\); job run jr-1 was cancelled/u);
    await expect(e2.submit({ ...JOB, runId: 'run-3' })).rejects.toThrow(/the engine is closed/u);
    expect(emr.commandCalls(CancelJobRunCommand)).toHaveLength(2);
  });

  it('throttled API calls are retried; the retried StartJobRun carries the same clientToken and one job runs', async () => {
    // What the SDK raises for AWS's throttling answer (not a modelled error of this service).
    const throttled = () =>
      new EMRServerlessServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Rate exceeded',
      });
    let starts = 0;
    emr.on(StartJobRunCommand).callsFake(async (input: StartJobRunCommandInput) => {
      if (++starts <= 2) throw throttled();
      return answerStart(input);
    });
    emr.on(GetJobRunCommand).rejectsOnce(throttled()).resolvesOnce(jobRun('RUNNING')).rejectsOnce(throttled()).resolves(jobRun('SUCCESS'));
    await expect(engine().submit(JOB)).resolves.toMatchObject({ status: 'succeeded' });
    const tokens = emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens)).toEqual(new Set([clientTokenFor(LAKE, JOB.key, JOB.etag, 1)]));
    expect(emr.commandCalls(GetJobRunCommand)).toHaveLength(4);
  });

  it('an application that is STOPPED is started, and the job is submitted once it is STARTED', async () => {
    const app = (state: string) => ({
      application: {
        applicationId: APP,
        name: 'a',
        arn: 'arn',
        releaseLabel: 'emr-7.5.0',
        type: 'Spark',
        state,
        createdAt: new Date(),
        updatedAt: new Date(),
      },
    });
    let started = false;
    emr.on(StartApplicationCommand).callsFake(() => {
      started = true;
      return {};
    });
    let polls = 0;
    emr.on(GetApplicationCommand).callsFake(() => app(!started ? 'STOPPED' : ++polls < 3 ? 'STARTING' : 'STARTED'));
    startWritesReport();
    emr.on(GetJobRunCommand).resolves(jobRun('SUCCESS'));
    await engine().submit(JOB);
    expect(emr.commandCalls(StartApplicationCommand)).toHaveLength(1);
    const order = emr.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('StartApplicationCommand')).toBeLessThan(order.indexOf('StartJobRunCommand'));
    expect(order.filter((n) => n === 'GetApplicationCommand')).toHaveLength(4); // STOPPED, STARTING, STARTING, STARTED
  });

  it('restart mid-run: a new controller re-attaches to the recorded job run, with no second StartJobRun', async () => {
    startWritesReport();
    emr.on(GetJobRunCommand).resolves(jobRun('RUNNING'));
    // The first controller dies while it waits: its sleep never returns.
    const first = engine({ sleep: () => new Promise<void>(() => {}) });
    void first.submit(JOB);
    await expect.poll(async () => (await new InflightRecords(store).read(JOB.key, JOB.etag))?.jobRunId).toBe('jr-1');

    emr.on(GetJobRunCommand).resolvesOnce(jobRun('RUNNING')).resolves(jobRun('SUCCESS'));
    const second = engine();
    const lines: string[] = [];
    logEmrEvents(
      second,
      createLogger({ level: 'info', format: 'json', stream: new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }) }),
    );
    const result = await second.submit({ ...JOB, runId: 'run-after-restart' });
    expect(result.runId).toBe('run-1'); // the report of the run that was resumed
    expect(emr.commandCalls(StartJobRunCommand)).toHaveLength(1);
    // The log says so.
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        msg: `re-attached to EMR job run jr-1 of ${JOB.key}`,
        event: 'emr:job-run',
        reattached: true,
        runId: 'run-1',
      }),
    );
  });

  /** What the first controller wrote before it died: its intent, with the exact request, and no job run id. */
  const intentWithoutRunId = async () => {
    // The first controller: it dies right after its intent is written (its StartJobRun never answers).
    emr.on(StartJobRunCommand).callsFake(() => new Promise(() => {}));
    void engine().submit(JOB);
    await expect.poll(async () => (await new InflightRecords(store).read(JOB.key, JOB.etag))?.request).toBeDefined();
    const intent = await new InflightRecords(store).read(JOB.key, JOB.etag);
    expect(intent).toMatchObject({ runId: 'run-1', clientToken: clientTokenFor(LAKE, JOB.key, JOB.etag, 1) });
    expect(intent?.jobRunId).toBeUndefined();
    return intent!;
  };

  it('restart after StartJobRun started a run but before its id was recorded: the run is found by name (ListJobRuns), no second StartJobRun', async () => {
    const intent = await intentWithoutRunId();
    emr.resetHistory();
    emr
      .on(ListJobRunsCommand)
      .resolvesOnce({
        jobRuns: [
          {
            applicationId: APP,
            id: 'jr-other',
            name: 's3-spark-watcher orders run-0',
            arn: 'a',
            createdBy: 'x',
            createdAt: new Date(),
            updatedAt: new Date(),
            executionRole: ROLE,
            state: 'SUCCESS',
            stateDetails: '',
            releaseLabel: 'emr-7.5.0',
          },
        ],
        nextToken: 'page-2',
      })
      .resolves({
        jobRuns: [
          {
            applicationId: APP,
            id: 'jr-1',
            name: intent.request?.name,
            arn: 'a',
            createdBy: 'x',
            createdAt: new Date(),
            updatedAt: new Date(),
            executionRole: ROLE,
            state: 'RUNNING',
            stateDetails: '',
            releaseLabel: 'emr-7.5.0',
          },
        ],
      });
    await store.put(runReportKey('run-1'), JSON.stringify(report('run-1')));
    emr.on(GetJobRunCommand).resolvesOnce(jobRun('RUNNING')).resolves(jobRun('SUCCESS'));
    const found: string[] = [];
    const second = engine();
    second.events.on('emr:job-run-found', ({ jobRunId }) => found.push(jobRunId));
    const result = await second.submit({ ...JOB, runId: 'run-2' });
    expect(result.runId).toBe('run-1');
    expect(found).toEqual(['jr-1']);
    expect(emr.commandCalls(StartJobRunCommand)).toHaveLength(0);
    // Looked since the intent (less a day of margin), through every page.
    const lists = emr.commandCalls(ListJobRunsCommand).map((c) => c.args[0].input);
    expect(lists).toHaveLength(2);
    expect(lists[0]?.createdAtAfter?.getTime()).toBe(Date.parse(intent.submittedAt) - 86_400_000);
    expect(lists[1]?.nextToken).toBe('page-2');
    expect(await new InflightRecords(store).read(JOB.key, JOB.etag)).toMatchObject({ jobRunId: 'jr-1', finalState: 'SUCCESS' });
  });

  it('restart after the intent when no run started: the recorded request is sent again, exactly', async () => {
    const intent = await intentWithoutRunId();
    emr.resetHistory();
    emr.on(ListJobRunsCommand).resolves({ jobRuns: [] });
    startWritesReport();
    emr.on(GetJobRunCommand).resolves(jobRun('SUCCESS'));
    const result = await engine().submit({ ...JOB, runId: 'run-2' });
    expect(result.runId).toBe('run-1');
    const calls = emr.commandCalls(StartJobRunCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual(intent.request);
  });

  it('a recorded job run that EMR no longer knows: retryable now, and the next try is a new attempt instead of re-attaching again', async () => {
    await new InflightRecords(store).write({
      key: JOB.key,
      etag: JOB.etag,
      attempt: 1,
      runId: 'run-1',
      clientToken: clientTokenFor(LAKE, JOB.key, JOB.etag, 1),
      applicationId: APP,
      submittedAt: new Date(time.now()).toISOString(),
      jobRunId: 'jr-gone',
    });
    const gone = new EMRServerlessServiceException({
      name: 'ResourceNotFoundException',
      $fault: 'client',
      $metadata: { httpStatusCode: 404 },
      message: 'Job run jr-gone not found',
    });
    emr.on(GetJobRunCommand).rejectsOnce(gone).resolves(jobRun('SUCCESS'));
    startWritesReport();
    await expect(engine().submit({ ...JOB, runId: 'run-2' })).rejects.toThrow(
      /watching job run jr-gone failed: Job run jr-gone not found/u,
    );
    await expect(engine().submit({ ...JOB, runId: 'run-3' })).resolves.toMatchObject({ runId: 'run-3' });
    expect(emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken)).toEqual([
      clientTokenFor(LAKE, JOB.key, JOB.etag, 2),
    ]);
  });

  it('validate(): a missing application, or one that is not Spark, is a configuration error', async () => {
    emr.on(GetApplicationCommand).resolves({
      application: {
        applicationId: APP,
        name: 'a',
        arn: 'arn',
        releaseLabel: 'emr-7.5.0',
        type: 'Hive',
        state: 'CREATED',
        createdAt: new Date(),
        updatedAt: new Date(),
      },
    });
    await expect(engine().validate()).rejects.toThrow(ConfigError);
    await expect(engine().validate()).rejects.toThrow(/Hive application; the pipeline needs a Spark application/u);
    const notFound = Object.assign(new Error('Application not found'), { name: 'ResourceNotFoundException' });
    emr.on(GetApplicationCommand).rejects(notFound);
    await expect(engine().validate()).rejects.toThrow(/no such EMR Serverless application/u);
  });

  it('validate(): an application on a release the job is not tested on is refused, naming the release and what to use', async () => {
    const onRelease = (releaseLabel: string) =>
      emr.on(GetApplicationCommand).resolves({
        application: {
          applicationId: APP,
          name: 'a',
          arn: 'arn',
          releaseLabel,
          type: 'SPARK',
          state: 'STARTED',
          createdAt: new Date(),
          updatedAt: new Date(),
        },
      });
    for (const label of ['emr-6.15.0', 'emr-5.36.2', 'emr-spark-8.0-preview', 'emr-8.0.0']) {
      onRelease(label);
      const error = await engine()
        .validate()
        .catch((e: unknown) => e);
      expect(error, label).toBeInstanceOf(ConfigError);
      expect((error as Error).message, label).toContain(`runs ${label}, which the job is not tested on`);
      expect((error as Error).message, label).toMatch(/emr-7\.x \(Spark 3\.5.*emr-spark-8\.x \(Spark 4\.0/u);
    }
    for (const [label, family] of [
      ['emr-7.0.0', 'emr-7.x'],
      ['emr-7.12.0', 'emr-7.x'],
      ['emr-spark-8.0.0', 'emr-spark-8.x'],
    ] as const) {
      onRelease(label);
      await expect(engine().validate(), label).resolves.toMatchObject({ releaseLabel: label, family });
    }
  });

  it("cost: EMR's total and billed utilization and execution time are in the report, the in-flight record and an event", async () => {
    startWritesReport();
    const utilization = {
      totalResourceUtilization: { vCPUHour: 0.25, memoryGBHour: 1.5, storageGBHour: 5 },
      billedResourceUtilization: { vCPUHour: 0.5, memoryGBHour: 2, storageGBHour: 0 },
      totalExecutionDurationSeconds: 95,
    };
    emr
      .on(GetJobRunCommand)
      .resolvesOnce(jobRun('RUNNING'))
      .resolves({ jobRun: { ...jobRun('SUCCESS').jobRun, ...utilization } });
    const e = engine();
    const finished: unknown[] = [];
    e.events.on('emr:job-run-finished', (ev) => finished.push(ev));
    const result = await e.submit(JOB);
    const usage = {
      jobRunId: 'jr-1',
      state: 'SUCCESS',
      releaseLabel: 'emr-7.5.0',
      executionSeconds: 95,
      total: { vCPUHour: 0.25, memoryGBHour: 1.5, storageGBHour: 5 },
      billed: { vCPUHour: 0.5, memoryGBHour: 2, storageGBHour: 0 },
    };
    expect(result.emr).toEqual(usage);
    expect((await new InflightRecords(store).read(JOB.key, JOB.etag))?.usage).toEqual(usage);
    expect(finished).toEqual([{ runId: 'run-1', jobRunId: 'jr-1', key: JOB.key, usage }]);
  });

  it('the Spark UI link (GetDashboardForJobRun) is announced once the run runs; without it the job goes on', async () => {
    startWritesReport();
    emr
      .on(GetJobRunCommand)
      .resolvesOnce(jobRun('PENDING'))
      .resolvesOnce(jobRun('RUNNING'))
      .resolvesOnce(jobRun('RUNNING'))
      .resolves(jobRun('SUCCESS'));
    emr.on(GetDashboardForJobRunCommand).resolves({ url: 'https://dashboard.example/jr-1?authToken=x' });
    const e = engine();
    const links: string[] = [];
    e.events.on('emr:dashboard', ({ url }) => links.push(url));
    await e.submit(JOB);
    expect(links).toEqual(['https://dashboard.example/jr-1?authToken=x']);
    expect(emr.commandCalls(GetDashboardForJobRunCommand)[0]?.args[0].input).toEqual({ applicationId: APP, jobRunId: 'jr-1' });

    emr.on(GetDashboardForJobRunCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const e2 = engine();
    const unavailable: string[] = [];
    e2.events.on('emr:dashboard-unavailable', ({ reason }) => unavailable.push(reason));
    await expect(e2.submit({ ...JOB, runId: 'run-2' })).resolves.toMatchObject({ status: 'succeeded' });
    expect(unavailable).toEqual(['not authorized']);
  });

  it('passthrough: EMR_JOB_RUN_OVERRIDES fields reach StartJobRun; the cancel grace period reaches CancelJobRun', async () => {
    startWritesReport();
    let cancelled = false;
    emr.on(CancelJobRunCommand).callsFake(() => {
      cancelled = true;
      return { applicationId: APP, jobRunId: 'jr-1' };
    });
    emr.on(GetJobRunCommand).callsFake(() => jobRun(cancelled ? 'CANCELLED' : 'RUNNING'));
    const overrides = {
      retryPolicy: { maxAttempts: 2 },
      applicationConfiguration: [{ classification: 'spark-defaults', properties: { 'spark.driver.extraJavaOptions': '-Da=1 -Db=2' } }],
    };
    const e = engine({
      timeoutMs: 300_000,
      cancelGraceSeconds: 45,
      settings: {
        applicationId: APP,
        executionRoleArn: ROLE,
        lakeUri: LAKE,
        logUri: 's3://lake-bucket/logs/emr/',
        executionTimeoutMinutes: 60,
        overrides,
      },
    });
    await expect(e.submit(JOB)).rejects.toThrow(/timed out/u);
    const input = emr.commandCalls(StartJobRunCommand)[0]!.args[0].input;
    expect(input.retryPolicy).toEqual({ maxAttempts: 2 });
    expect(input.configurationOverrides?.applicationConfiguration).toEqual(overrides.applicationConfiguration);
    expect(input.configurationOverrides?.monitoringConfiguration?.s3MonitoringConfiguration?.logUri).toBe('s3://lake-bucket/logs/emr/');
    expect(emr.commandCalls(CancelJobRunCommand)[0]?.args[0].input).toEqual({
      applicationId: APP,
      jobRunId: 'jr-1',
      shutdownGracePeriodInSeconds: 45,
    });
  });
});
