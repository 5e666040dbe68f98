import path from 'node:path';
import {
  EMRServerlessClient,
  GetApplicationCommand,
  GetJobRunCommand,
  type GetJobRunCommandInput,
  StartJobRunCommand,
  type StartJobRunCommandInput,
} from '@aws-sdk/client-emr-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { Reconciler } from '../../src/controller/reconciler.js';
import { candidateFilter } from '../../src/discovery/candidates.js';
import { PollingDiscovery } from '../../src/discovery/poller.js';
import { clientTokenFor } from '../../src/engines/emr/client-token.js';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { runReportKey } from '../../src/engines/run-report.js';
import { DeadLetterStore } from '../../src/state/dead-letters.js';
import { MarkerStore } from '../../src/state/marker.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';
import { versionStates } from '../helpers/version-states.js';

const APP = '00fabc123def4567';
const KEY = 'raw/orders/2026/11/01/orders.parquet';
const NULL_ROWS = { read: null, cleaned: null, quarantined: null, curated: null };

describe('EMR Serverless: a job run FAILED, then succeeding on the controller’s retry (aws-sdk-client-mock)', () => {
  it('counts the attempts in the bucket, submits each attempt with its own clientToken, and ends processed', async () => {
    const store = new LocalObjectStore(await tempDir('s3sw-emr-retry-'));
    const { etag } = await store.put(KEY, 'parquet bytes');
    const client = new EMRServerlessClient({ region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
    const emr = mockClient(client);
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
    // Each StartJobRun is a new job run; like the real job, it writes its report: the first fails (executor lost), the second succeeds.
    const finalStates = ['FAILED', 'SUCCESS'] as const;
    let started = 0;
    emr.on(StartJobRunCommand).callsFake(async (input: StartJobRunCommandInput) => {
      const args = input.jobDriver?.sparkSubmit?.entryPointArguments ?? [];
      const runId = args[args.indexOf('--run-id') + 1] ?? '';
      const succeeded = finalStates[started] === 'SUCCESS';
      started += 1;
      await store.put(
        runReportKey(runId),
        JSON.stringify({
          runId,
          key: KEY,
          etag,
          dataset: 'orders',
          status: succeeded ? 'succeeded' : 'failed',
          rows: succeeded ? { read: 4, cleaned: 4, quarantined: 0, curated: 4 } : NULL_ROWS,
          outputs: {},
          startedAt: '2026-11-28T12:00:01Z',
          finishedAt: '2026-11-28T12:00:40Z',
          sparkVersion: '3.5.2',
          ...(succeeded ? {} : { error: { kind: 'retryable', message: 'executor lost' } }),
        }),
      );
      return { applicationId: APP, jobRunId: `jr-${started}`, arn: 'arn' };
    });
    emr.on(GetJobRunCommand).callsFake((input: GetJobRunCommandInput) => {
      const n = Number(input.jobRunId?.slice(3));
      const state = finalStates[n - 1];
      return {
        jobRun: {
          applicationId: APP,
          jobRunId: input.jobRunId,
          arn: 'arn',
          createdBy: 'me',
          createdAt: new Date(),
          updatedAt: new Date(),
          executionRole: 'role',
          state,
          stateDetails: state === 'FAILED' ? 'Job failed, ExitCode: 1' : '',
          releaseLabel: 'emr-7.5.0',
          jobDriver: { sparkSubmit: { entryPoint: 's3://x' } },
        },
      };
    });

    const deadLetters = new DeadLetterStore(store);
    const engine = new EmrServerlessEngine({
      client,
      store,
      settings: {
        applicationId: APP,
        executionRoleArn: 'arn:aws:iam::123456789012:role/job',
        lakeUri: 's3://lake-bucket/lake',
        logUri: 's3://lake-bucket/logs/emr/',
        executionTimeoutMinutes: 60,
      },
      sparkJobsDir: path.resolve('spark-jobs'),
      timeoutMs: 3_600_000,
      sleep: async () => {},
    });
    const recordedBetweenAttempts: unknown[] = [];
    const reconciler = new Reconciler({
      discovery: new PollingDiscovery(store, candidateFilter()),
      marker: new MarkerStore(store),
      deadLetters,
      engine,
      retry: { maxAttempts: 3, baseDelayMs: 10_000, maxDelayMs: 300_000 },
      // The wait before the retry: what the bucket says then.
      sleep: async () => {
        recordedBetweenAttempts.push((await deadLetters.load()).document.attempts[KEY]);
      },
      random: () => 0.5,
    });
    const retrying: Array<{ attempt: number; delayMs: number; error: string }> = [];
    reconciler.events.on('job:retrying', (e) =>
      retrying.push({ attempt: e.attempt, delayMs: e.delayMs, error: (e.error as Error).message }),
    );

    const summary = await reconciler.runPass();

    expect(summary).toMatchObject({ processed: 1, failed: 0, deadLettered: 0, pending: 0 });
    expect(summary.results[0]).toMatchObject({ key: KEY, status: 'succeeded', attempts: 2, rows: { curated: 4 } });
    expect(retrying).toEqual([
      { attempt: 1, delayMs: expect.any(Number), error: expect.stringContaining('job run jr-1 FAILED: executor lost') },
    ]);
    // Between the attempts the bucket counted one, with why it failed.
    expect(recordedBetweenAttempts).toEqual([
      expect.objectContaining({
        etag,
        attempts: 1,
        lastFailure: expect.objectContaining({ message: expect.stringContaining('executor lost') }),
      }),
    ]);
    // A new clientToken per attempt: the first one would only return the failed run again.
    const tokens = emr.commandCalls(StartJobRunCommand).map((c) => c.args[0].input.clientToken);
    expect(tokens).toEqual([clientTokenFor('s3://lake-bucket/lake', KEY, etag, 1), clientTokenFor('s3://lake-bucket/lake', KEY, etag, 2)]);
    expect(new Set(tokens).size).toBe(2);
    // The marker names the run that did the work; the attempts are cleared.
    const marker = (await new MarkerStore(store).load()).document.files[KEY];
    expect(marker).toMatchObject({ etag, engine: 'emr-serverless', rows: { curated: 4 } });
    const secondRunId = emr.commandCalls(StartJobRunCommand)[1]?.args[0].input.name?.split(' ').at(-1);
    expect(marker?.runId).toBe(secondRunId);
    expect(await versionStates(store)).toEqual({ [KEY]: 'processed' });
    await engine.close();
  });
});
