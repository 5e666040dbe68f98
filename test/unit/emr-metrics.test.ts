import path from 'node:path';
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { describe, expect, it } from 'vitest';
import { EmrServerlessEngine } from '../../src/engines/emr/emr-serverless-engine.js';
import { EmrUsageMetrics } from '../../src/observability/emr-metrics.js';
import { WatcherMetrics } from '../../src/observability/metrics.js';
import { LocalObjectStore } from '../../src/storage/local-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** One sample of the exposition text, e.g. `s3sw_emr_vcpu_hours_total{measure="billed",engine="emr-serverless"}`. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('EMR usage metrics', () => {
  it('sum what every ended job run used and was billed, from zero, by measure; runs counted by final state', async () => {
    const metrics = new WatcherMetrics({ engine: 'emr-serverless', passIntervalMs: 60_000, processMetrics: false });
    const engine = new EmrServerlessEngine({
      client: new EMRServerlessClient({ region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }),
      store: new LocalObjectStore(await tempDir('s3sw-emr-metrics-')),
      settings: { applicationId: 'app', executionRoleArn: 'arn', lakeUri: 's3://b', logUri: 's3://b/logs/', executionTimeoutMinutes: 60 },
      sparkJobsDir: path.resolve('spark-jobs'),
      timeoutMs: 60_000,
    });
    new EmrUsageMetrics(metrics.registry).record(engine);

    const before = await metrics.text();
    expect(sample(before, 's3sw_emr_vcpu_hours_total', 'measure="billed"')).toBe(0);
    expect(sample(before, 's3sw_emr_job_runs_finished_total', 'state="FAILED"')).toBe(0);

    const hours = (v: number) => ({ vCPUHour: v, memoryGBHour: 4 * v, storageGBHour: 20 * v });
    engine.events.emit('emr:job-run-finished', {
      runId: 'r1',
      jobRunId: 'jr1',
      key: 'raw/a.parquet',
      usage: { jobRunId: 'jr1', state: 'SUCCESS', executionSeconds: 60, total: hours(0.1), billed: hours(0.25) },
    });
    engine.events.emit('emr:job-run-finished', {
      runId: 'r2',
      jobRunId: 'jr2',
      key: 'raw/b.parquet',
      usage: { jobRunId: 'jr2', state: 'FAILED', executionSeconds: 30, billed: hours(0.25) },
    });
    const after = await metrics.text();
    expect(sample(after, 's3sw_emr_vcpu_hours_total', 'measure="billed",engine="emr-serverless"')).toBeCloseTo(0.5);
    expect(sample(after, 's3sw_emr_vcpu_hours_total', 'measure="total"')).toBeCloseTo(0.1);
    expect(sample(after, 's3sw_emr_memory_gb_hours_total', 'measure="billed"')).toBeCloseTo(2);
    expect(sample(after, 's3sw_emr_storage_gb_hours_total', 'measure="total"')).toBeCloseTo(2);
    expect(after).toMatch(/^s3sw_emr_execution_seconds_total\{engine="emr-serverless"\} 90$/mu);
    expect(sample(after, 's3sw_emr_job_runs_finished_total', 'state="SUCCESS"')).toBe(1);
    expect(sample(after, 's3sw_emr_job_runs_finished_total', 'state="FAILED"')).toBe(1);
    await engine.close();
  });
});
